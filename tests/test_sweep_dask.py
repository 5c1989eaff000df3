"""Dask without shared files: the client resolves every point, presets included, and ships the
resolved runs; a worker started elsewhere (another working directory, no preset folder, no
config files) needs only the installed package."""

from __future__ import annotations

import os
import shutil
import subprocess

import pandas as pd
import psutil
import pytest
import yaml

from tests.conftest import DATA, ROOT


def test_a_worker_without_the_clients_files_runs_the_sweep(tmp_path, monkeypatch):
    distributed = pytest.importorskip("dask.distributed")
    from qmcsim.config.presets import available
    from qmcsim.sweep import load_sweep, run_sweep
    from qmcsim.sweep.store import KILL_HOOK

    # a device preset only the client knows, named by the base config
    presets = tmp_path / "client" / "presets" / "devices"
    presets.mkdir(parents=True)
    raw = yaml.safe_load((ROOT / "hw_configs" / "devices" / "qmc-mram.yaml").read_text())
    raw["name"] = "lab-mram"
    (presets / "lab-mram.yaml").write_text(yaml.safe_dump(raw))
    monkeypatch.setenv("QMCSIM_HW_CONFIGS", str(presets.parent))
    base = yaml.safe_load((DATA / "tiny.yaml").read_text())
    base["systems"][1]["memories"]["mram"]["preset"] = "lab-mram"
    (tmp_path / "client" / "run.yaml").write_text(yaml.safe_dump(base))
    sweep = tmp_path / "client" / "sweep.yaml"
    sweep.write_text(yaml.safe_dump({
        "name": "d", "base": "run.yaml",
        "parameters": [{"path": "systems.qmc.format.rho", "values": [0.2, 0.4]},
                       {"path": "workload.generate_tokens", "values": [1]}]}))
    cfg, base_path = load_sweep(sweep)
    local = run_sweep(cfg, base_path, tmp_path / "local").table

    worker_dir = tmp_path / "worker"
    worker_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("QMCSIM_HW_CONFIGS", KILL_HOOK)}
    env["PYTHONPATH"] = str(ROOT)   # stands for the installed package
    # free ports only (scheduler, its HTTP server, worker): other clusters may be running
    with distributed.LocalCluster(n_workers=0, host="127.0.0.1", scheduler_port=0,
                                  scheduler_kwargs={"dashboard": False,
                                                    "dashboard_address": "127.0.0.1:0"}
                                  ) as cluster:
        worker = subprocess.Popen(
            [shutil.which("dask") or "dask", "worker", cluster.scheduler_address,
             "--nthreads", "1", "--no-nanny", "--no-dashboard", "--host", "127.0.0.1"],
            cwd=worker_dir, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        spawned = [psutil.Process(worker.pid)]
        try:
            with distributed.Client(cluster.scheduler_address) as client:
                client.wait_for_workers(1, timeout=300)   # a loaded machine starts slowly
                seen = client.run(lambda: (os.getcwd(), os.environ.get("QMCSIM_HW_CONFIGS"),
                                           "lab-mram" in available("devices")))
                assert list(seen.values()) == [(str(worker_dir), None, False)]
            remote = run_sweep(cfg, base_path, tmp_path / "remote",
                               dask_address=cluster.scheduler_address)
            spawned += spawned[0].children(recursive=True)
        finally:
            worker.terminate()
            try:
                worker.wait(timeout=60)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
            _, alive = psutil.wait_procs(spawned, timeout=60)
            for proc in alive:   # leave no dask process behind, whatever happened
                proc.kill()
    assert alive == []
    assert remote.failures.empty
    pd.testing.assert_frame_equal(local, remote.table)
    assert (tmp_path / "remote" / "points.csv").read_bytes() == \
        (tmp_path / "local" / "points.csv").read_bytes()


def test_a_shipped_call_runs_where_it_is_unpacked():
    from qmcsim.config.loader import load_run
    from qmcsim.parallel import call_shipped, ship

    assert call_shipped(ship(divmod, 7, 2)) == (3, 1)
    run = load_run(DATA / "tiny.yaml")
    blob = ship(_echo, run)
    assert isinstance(blob, bytes)
    assert call_shipped(blob) == run   # the resolved run arrives whole (frozen records)


def _echo(value):
    return value
