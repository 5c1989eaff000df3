"""Dask without shared files: the client resolves every point, presets included, and ships the
resolved runs; a worker started elsewhere (another working directory, no preset folder, no
config files) needs only the installed package."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import psutil
import pytest
import yaml

from tests.conftest import DATA, ROOT


def _copies_on_worker():
    """A function for `Client.run`: (name, bytes) of the copies a worker was sent. Nested, so
    that it is pickled by value (the worker cannot import the test modules)."""
    def copies():
        import qmcsim.sweep.inputs as inputs

        return sorted((p.relative_to(copy).as_posix(), p.read_bytes())
                      for folder in inputs._WORKER_FOLDER for copy in folder.iterdir()
                      for p in copy.rglob("*") if p.is_file())
    return copies


@contextlib.contextmanager
def _worker_elsewhere(distributed, worker_dir):
    """A scheduler on free ports and one `dask worker` process in `worker_dir`, with neither
    QMCSIM_HW_CONFIGS nor the client's working directory; its address. No dask process
    outlives the block."""
    from qmcsim.sweep.store import KILL_HOOK

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
            yield cluster.scheduler_address
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


def test_a_worker_without_the_clients_files_runs_the_sweep(tmp_path, monkeypatch):
    distributed = pytest.importorskip("dask.distributed")
    from qmcsim.config.presets import available
    from qmcsim.sweep import load_sweep, run_sweep

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
    with _worker_elsewhere(distributed, worker_dir) as address:
        with distributed.Client(address) as client:
            seen = client.run(lambda: (os.getcwd(), os.environ.get("QMCSIM_HW_CONFIGS"),
                                       "lab-mram" in available("devices")))
            assert list(seen.values()) == [(str(worker_dir), None, False)]
        remote = run_sweep(cfg, base_path, tmp_path / "remote", dask_address=address)
    assert remote.failures.empty
    pd.testing.assert_frame_equal(local, remote.table)
    assert (tmp_path / "remote" / "points.csv").read_bytes() == \
        (tmp_path / "local" / "points.csv").read_bytes()


def test_a_trace_and_weights_only_the_client_has_reach_the_worker(tmp_path, monkeypatch):
    """A run config naming a stored trace and measured weights: the client sends their bytes
    once, and the worker (in another folder) simulates from its own copies of them."""
    distributed = pytest.importorskip("dask.distributed")
    from qmcsim.models.load import load_model
    from qmcsim.sweep import load_sweep, run_sweep
    from qmcsim.weights.synthetic import synthetic_weights
    from tests.formats.test_weights import _write_safetensors
    from tests.test_sweep_keys import TINY_LLAMA

    client_dir = tmp_path / "client"
    (client_dir / "tiny-llama").mkdir(parents=True)
    (client_dir / "tiny-llama" / "config.json").write_text(json.dumps(TINY_LLAMA))
    done = subprocess.run([sys.executable, "-m", "qmcsim", "trace", "--model",
                           "tiny-llama/config.json", "--prompt", "8", "--generate", "2",
                           "-o", "tiny.parquet"], cwd=client_dir, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    model = load_model(str(client_dir / "tiny-llama" / "config.json"), file="t", field_path="m")
    _write_safetensors(client_dir / "weights.safetensors", {
        "model." + t.name.replace("q_proj", "self_attn.q_proj") + ".weight":
        ("F32", synthetic_weights(t, seed=3).reshape(t.rows, t.cols)) for t in model.tensors})
    base = yaml.safe_load((DATA / "tiny.yaml").read_text())
    base.update(model="tiny-llama/config.json", trace="tiny.parquet",
                weights="weights.safetensors",
                workload={"prompt_tokens": 8, "generate_tokens": 2, "batch": 1})
    (client_dir / "run.yaml").write_text(yaml.safe_dump(base))
    (client_dir / "sweep.yaml").write_text(yaml.safe_dump({
        "name": "files", "base": "run.yaml",
        "parameters": [{"path": "systems.qmc.format.rho", "values": [0.2, 0.4]}]}))
    monkeypatch.chdir(client_dir)
    cfg, base_path = load_sweep(Path("sweep.yaml"))
    local = run_sweep(cfg, base_path, tmp_path / "local")
    assert local.failures.empty and local.computed == 3

    with _worker_elsewhere(distributed, tmp_path / "worker") as address:
        remote = run_sweep(cfg, base_path, tmp_path / "remote", dask_address=address)
        with distributed.Client(address) as client:   # what the worker read: its own copies
            copies = client.run(_copies_on_worker())
    assert remote.failures.empty, remote.failures.error.tolist()
    assert list(copies.values()) == [sorted([
        ("tiny.parquet", (client_dir / "tiny.parquet").read_bytes()),
        ("weights.safetensors", (client_dir / "weights.safetensors").read_bytes())])]
    assert (tmp_path / "remote" / "points.csv").read_bytes() == \
        (tmp_path / "local" / "points.csv").read_bytes()


def test_an_accuracy_sweep_sends_its_model_folder_and_text(tmp_path, monkeypatch):
    distributed = pytest.importorskip("dask.distributed")
    pytest.importorskip("transformers")
    from qmcsim.sweep import load_sweep, run_sweep
    from tests.test_sweep_accuracy import _tiny_model

    client_dir = tmp_path / "client"
    _tiny_model(client_dir / "model")
    (client_dir / "text.txt").write_text("Full fathom five thy father lies; " * 8)
    (client_dir / "acc.yaml").write_text(yaml.safe_dump({
        "name": "tiny", "model": {"hf_dir": "model"}, "text": "text.txt", "tokens": 64,
        "context_tokens": 32, "seeds": [0],
        "variants": [{"name": "qmc-3b", "format": {"kind": "qmc", "rho": 0.3},
                      "placement": {"codes": "qmc-reram-3b", "outlier_values": "qmc-mram"},
                      "device_params": {"qmc-reram-3b": {"read_noise_sigma": 0.05}}}]}))
    (client_dir / "sweep.yaml").write_text(yaml.safe_dump({
        "name": "acc", "kind": "accuracy", "base": "acc.yaml", "seeds": [0, 1],
        "parameters": [{"path": "variants.qmc-3b.format.rho", "values": [0.2]}]}))
    monkeypatch.chdir(client_dir)
    cfg, base = load_sweep(Path("sweep.yaml"))
    local = run_sweep(cfg, base, tmp_path / "local")
    with _worker_elsewhere(distributed, tmp_path / "worker") as address:
        remote = run_sweep(cfg, base, tmp_path / "remote", dask_address=address)
        with distributed.Client(address) as client:   # what the worker read: its own copies
            copies = [name for name, _ in next(iter(client.run(_copies_on_worker()).values()))]
    assert local.failures.empty and remote.failures.empty, remote.failures.error.tolist()
    assert remote.computed == 2
    shipped = sorted(p.relative_to(client_dir / "model").as_posix()
                     for p in (client_dir / "model").rglob("*") if p.is_file())
    assert copies == sorted([*shipped, "text.txt"])
    assert (tmp_path / "remote" / "points.csv").read_bytes() == \
        (tmp_path / "local" / "points.csv").read_bytes()


def test_a_run_reads_its_files_from_local_copies(tmp_path):
    from qmcsim.config.loader import load_run
    from qmcsim.runner import stored_trace_path
    from qmcsim.sweep.inputs import file_digest, run_time_files, with_local_files

    (tmp_path / "t.csv").write_text("not read here")
    base = yaml.safe_load((DATA / "tiny.yaml").read_text())
    base["trace"] = "t.csv"
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(base))
    run = load_run(tmp_path / "run.yaml")
    found = run_time_files(run)
    assert found == {"trace": (False, [("t.csv", tmp_path / "t.csv")])}
    digest = file_digest(tmp_path / "t.csv")
    local = with_local_files(run, {"trace": (False, [("t.csv", digest)])}, {digest: b"bytes"})
    copy = stored_trace_path(local)
    assert copy is not None and copy.name == "t.csv" and copy.read_bytes() == b"bytes"
    assert copy.parent != tmp_path and local.config.seed == run.config.seed
    again = with_local_files(run, {"trace": (False, [("t.csv", digest)])}, {})
    assert stored_trace_path(again) == copy   # written once per process

    # a model folder of weights: its *.safetensors shards, under their names
    (tmp_path / "ckpt").mkdir()
    for name in ("model-00002.safetensors", "model-00001.safetensors", "README.md"):
        (tmp_path / "ckpt" / name).write_text(name)
    base["weights"] = str(tmp_path / "ckpt")
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(base))
    run = load_run(tmp_path / "run.yaml")
    is_folder, shards = run_time_files(run)["weights"]
    assert is_folder and [n for n, _ in shards] == ["model-00001.safetensors",
                                                    "model-00002.safetensors"]
    spec = {"weights": (True, [(n, file_digest(p)) for n, p in shards])}
    local = with_local_files(run, spec, {file_digest(p): p.read_bytes() for _, p in shards})
    folder = Path(local.config.weights)
    assert folder != tmp_path / "ckpt" and sorted(p.name for p in folder.iterdir()) == \
        [n for n, _ in shards] and (folder / shards[0][0]).read_text() == shards[0][0]


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
