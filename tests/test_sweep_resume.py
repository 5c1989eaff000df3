"""A sweep killed with SIGKILL at any moment resumes: every point exactly once, the values of an
uninterrupted run, finished points never recomputed, no temporary files left behind, and no
worker process outliving the sweep."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import psutil
import yaml

from qmcsim.sweep import load_sweep, run_sweep
from qmcsim.sweep.store import KILL_HOOK
from tests.conftest import DATA, ROOT


def _sweep(tmp_path, rhos):
    cfg = {"name": "s", "base": str(DATA / "tiny.yaml"),
           "parameters": [{"path": "systems.qmc.format.rho", "values": rhos},
                          {"path": "workload.generate_tokens", "values": [1]}]}
    file = tmp_path / "sweep.yaml"
    file.write_text(yaml.safe_dump(cfg))
    return file


def _start(sweep, out, kill_at=None, workers=1):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop(KILL_HOOK, None)
    if kill_at:
        env[KILL_HOOK] = kill_at
    return subprocess.Popen([sys.executable, "-m", "qmcsim", "sweep", str(sweep), "--out",
                             str(out), "--workers", str(workers), "--no-progress"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _sweep_cli(sweep, out, kill_at=None):
    proc = _start(sweep, out, kill_at)
    stdout, stderr = proc.communicate(timeout=300)
    return proc.returncode, stdout, stderr


def _stored(out):
    """Finished point files with their identity (inode, mtime): rewritten files would differ."""
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in (out / "points").glob("*.parquet") if not p.name.startswith(".")}


def _temporaries(out):
    return [p for p in out.rglob("*") if p.name.startswith(".tmp-")]


def test_sigkill_at_every_moment_then_resume_gives_the_uninterrupted_table(tmp_path):
    sweep = _sweep(tmp_path, [0.2, 0.4])   # 3 simulations: the FP16 baseline once, 2 QMC
    cfg, base = load_sweep(sweep)
    reference = run_sweep(cfg, base, tmp_path / "reference").table
    out = tmp_path / "out"

    rc, _, _ = _sweep_cli(sweep, out, kill_at="start")        # validated, nothing run yet
    assert rc == -signal.SIGKILL and _stored(out) == {}

    rc, _, err = _sweep_cli(sweep, out, kill_at="writing:2")  # 1 stored, 2nd half-written
    assert rc == -signal.SIGKILL and "0 simulations (point x system) already stored" in err
    first = _stored(out)
    assert len(first) == 1 and len(_temporaries(out)) == 1

    rc, _, err = _sweep_cli(sweep, out, kill_at="stored:1")   # 1 more stored, then killed
    assert rc == -signal.SIGKILL and "1 simulations (point x system) already stored" in err
    second = _stored(out)
    assert len(second) == 2 and all(second[k] == v for k, v in first.items())
    assert _temporaries(out) == []

    rc, stdout, err = _sweep_cli(sweep, out)
    assert rc == 0, err
    assert "2 simulations (point x system) already stored" in err
    assert "1 simulations run, 2 reused" in stdout
    final = _stored(out)
    assert len(final) == 3 and all(final[k] == v for k, v in second.items())
    assert _temporaries(out) == []

    table = pd.read_parquet(out / "points.parquet")
    assert table.groupby(["point", "system"]).size().eq(1).all() and len(table) == 4
    pd.testing.assert_frame_equal(table, reference)

    again = run_sweep(cfg, base, out)          # finished: nothing recomputed
    assert (again.computed, again.reused) == (0, 3)
    assert _stored(out) == final


def test_workers_end_when_the_sweep_process_is_killed(tmp_path):
    sweep = _sweep(tmp_path, [0.1, 0.2, 0.3, 0.4])
    proc = _start(sweep, tmp_path / "out", kill_at="stored:1", workers=2)
    parent = psutil.Process(proc.pid)
    seen: dict[int, psutil.Process] = {}
    while proc.poll() is None:
        try:
            for child in parent.children(recursive=True):
                seen.setdefault(child.pid, child)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.05)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    assert len(seen) >= 2   # the two workers (and multiprocessing's helper, if any)
    _, alive = psutil.wait_procs(list(seen.values()), timeout=20)
    assert alive == []
