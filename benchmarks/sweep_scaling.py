"""Sweep benchmark: CPU time per phase, and wall-time scaling of 1 vs 2 workers (local
processes and a Dask cluster started here on free ports).

    python benchmarks/sweep_scaling.py phases [--sweep S] [--workers N]
        one in-process run into a fresh folder; CPU seconds (time.process_time) per phase:
        client import, client resolve+validate, client store (point files, resolved configs,
        rows), client tables (combined files), worker simulate (summed over workers).
    python benchmarks/sweep_scaling.py wall [--sweep S] [--runs R]
        `qmcsim sweep` as a subprocess: local --workers 1, --workers 2, then Dask with 1 and 2
        worker processes (1 thread each), each into a fresh folder; wall time (median of R),
        speed-up, points per minute, load average; checks every points.csv is byte-identical.

Run from the repository root (with the Cython DRAM controller built). Wall times are only
meaningful on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SWEEP = ROOT / "hw_configs" / "sweeps" / "hymba-lhs.yaml"


def phases(sweep: Path, workers: int) -> None:
    clock = time.process_time
    t0 = clock()
    from qmcsim.sweep import load_sweep, run_sweep
    imported = clock() - t0
    cfg, base = load_sweep(sweep)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = run_sweep(cfg, base, Path(tmp) / "out", workers=workers)
        wall = time.perf_counter() - start
    n = len(result.table.point.unique()) + len(result.failures)
    cpu = {"client_import": imported, **result.cpu_s}
    print(f"{sweep.name}: {n} points, {result.computed} simulations, workers={workers}, "
          f"wall {wall:.1f} s (load average {os.getloadavg()[0]:.1f})")
    print("| phase | CPU s | CPU s per point |\n|---|---|---|")
    for phase, s in cpu.items():
        print(f"| {phase} | {s:.2f} | {s / n:.4f} |")


def _run(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True)
    took = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stderr}")
    return took


def _dask_cluster(nworkers: int, folder: Path) -> tuple[str, list[subprocess.Popen[bytes]]]:
    """A scheduler and `nworkers` single-threaded worker processes on free ports, started in
    another folder without QMCSIM_HW_CONFIGS (workers need only the installed package)."""
    from dask.distributed import Client

    dask = shutil.which("dask") or "dask"
    file = folder / "scheduler.json"
    env = {k: v for k, v in os.environ.items() if k != "QMCSIM_HW_CONFIGS"}
    env["PYTHONPATH"] = str(ROOT)
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "cwd": folder,
             "env": env}
    procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", "0",
                               "--dashboard-address", "127.0.0.1:0", "--scheduler-file",
                               str(file)], **quiet)]
    while not file.exists():
        time.sleep(0.2)
    procs.append(subprocess.Popen([dask, "worker", "--scheduler-file", str(file), "--host",
                                   "127.0.0.1", "--nworkers", str(nworkers), "--nthreads", "1",
                                   "--no-dashboard"], **quiet))
    with Client(scheduler_file=str(file)) as client:
        client.wait_for_workers(nworkers, timeout=120)
        return client.scheduler.address, procs


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in reversed(procs):
        p.terminate()
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def wall(sweep: Path, runs: int) -> None:
    from qmcsim.sweep import load_sweep
    from qmcsim.sweep.sampling import points

    n = len(points(load_sweep(sweep)[0]))
    base = [sys.executable, "-m", "qmcsim", "sweep", str(sweep), "--no-progress"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        outputs = []
        for how, workers in (("local", 1), ("local", 2), ("dask", 1), ("dask", 2)):
            times = []
            for r in range(runs):
                out = folder / f"{how}-{workers}-{r}"
                if how == "local":
                    times.append(_run([*base, "--out", str(out), "--workers", str(workers)],
                                      ROOT))
                    continue
                cluster = folder / f"cluster-{workers}-{r}"
                cluster.mkdir()
                address, procs = _dask_cluster(workers, cluster)
                try:
                    times.append(_run([*base, "--out", str(out), "--dask", address], ROOT))
                finally:
                    _stop(procs)
                outputs.append(out)
            if how == "local":
                outputs.extend(folder / f"{how}-{workers}-{r}" for r in range(runs))
            rows.append((how, workers, statistics.median(times), os.getloadavg()[0]))
        first = (outputs[0] / "points.csv").read_bytes()
        same = all((o / "points.csv").read_bytes() == first for o in outputs)
    print(f"{sweep.name}: {n} points, median of {runs} run(s) each; machine: "
          f"{os.cpu_count()} CPUs")
    print("| how | workers | wall s | speed-up vs 1 worker | points/min | load avg (1 min) |")
    print("|---|---|---|---|---|---|")
    for how, workers, t, load in rows:
        one = next(x for h, w, x, _ in rows if h == how and w == 1)
        print(f"| {how} | {workers} | {t:.1f} | {one / t:.2f}x | {60 * n / t:.0f} | {load:.1f} |")
    print(f"points.csv byte-identical across all runs: {same}")
    if not same:
        sys.exit(1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=("phases", "wall"))
    ap.add_argument("--sweep", type=Path, default=SWEEP)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--runs", type=int, default=1)
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    if args.what == "phases":
        phases(args.sweep, args.workers)
    else:
        wall(args.sweep, args.runs)


if __name__ == "__main__":
    main()
