"""Sweep benchmark: CPU time per phase, and wall-time scaling of 1 vs 2 workers (local
processes and a Dask cluster started here on free ports).

    python benchmarks/sweep_scaling.py phases [--sweep S] [--workers N] [--dask]
        one in-process run into a fresh folder; CPU seconds (time.process_time) per phase:
        client import, client resolve+validate, client store (point files, resolved configs,
        rows), client tables (combined files), the Pareto figure as the CLI draws it, worker
        simulate (summed over workers); and wall seconds to the first dispatch, the last result
        and the tables written. --dask: N worker processes of a Dask cluster started here, and
        the CPU seconds of the scheduler and worker processes (psutil).
    python benchmarks/sweep_scaling.py wall [--sweep S ...] [--runs R] [--figure DIR]
                                            [--compare TREE]
        `qmcsim sweep` as a subprocess: local --workers 1, --workers 2, then Dask with 1 and 2
        worker processes (1 thread each; the cluster is up before the command starts), each
        into a fresh folder, the R rounds interleaved (every configuration once per round);
        wall time (median of R), speed-up, points per minute, load average; checks that every
        points.csv of a sweep is byte-identical. Default sweeps: hymba-lhs.yaml (16 + 4 tokens),
        hymba-lhs-main.yaml (the main job's 128 + 32) and hymba-lhs-exhaustive.yaml (the same
        with every decode token simulated: ~3.5x the work per point). --figure DIR:
        sweep-scaling.png (speed-up of 2 workers over 1, with the 1.8x goal) and
        sweep-scaling.json (every run).
        --compare TREE: the same runs with another checkout (e.g. a `git worktree` of main,
        its Cython controller built), interleaved with this one's, every configuration of both
        once per round; the wall time of each against it, and points.csv compared across both.

Run from the repository root (with the Cython DRAM controller built). Wall times are only
meaningful on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SWEEPS = [ROOT / "hw_configs" / "sweeps" / "hymba-lhs.yaml",
          ROOT / "hw_configs" / "sweeps" / "hymba-lhs-main.yaml",
          ROOT / "hw_configs" / "sweeps" / "hymba-lhs-exhaustive.yaml"]
CONFIGS = (("local", 1), ("local", 2), ("dask", 1), ("dask", 2))
GOAL = 1.8   # issue #11: 2 workers at least 1.8x faster than 1 on a 50-point sweep


def phases(sweep: Path, workers: int, dask: bool) -> None:
    clock = time.process_time
    t0 = clock()
    from qmcsim.sweep import load_sweep, run_sweep
    imported = clock() - t0
    cfg, base = load_sweep(sweep)
    with tempfile.TemporaryDirectory() as tmp:
        procs: list[subprocess.Popen[bytes]] = []
        address = None
        if dask:
            (Path(tmp) / "cluster").mkdir()
            address, procs = _dask_cluster(workers, Path(tmp) / "cluster")
        try:
            before = _cpu(procs)
            start = time.perf_counter()
            result = run_sweep(cfg, base, Path(tmp) / "out", workers=workers,
                               dask_address=address)
            wall = time.perf_counter() - start
            cluster = {k: v - before.get(k, 0.0) for k, v in _cpu(procs).items()}
        finally:
            _stop(procs)
        t0 = clock()
        import qmcsim.plot  # noqa: F401  (the CLI imports it while the workers simulate)
        plot_import = clock() - t0
        t0 = clock()
        figure_bytes(result.table, cfg)
        figure = clock() - t0
    n = len(result.table.point.unique()) + len(result.failures)
    cpu = {"client_import": imported, **result.cpu_s,
           "client_plot_import (CLI: during the sweep)": plot_import,
           "client_figure (CLI: after the sweep)": figure, **cluster}
    where = f"Dask, {workers} worker process(es)" if dask else f"workers={workers}"
    print(f"{sweep.name}: {n} points, {result.computed} simulations, {where}, "
          f"wall {wall:.1f} s (load average {os.getloadavg()[0]:.1f})")
    print("| phase | CPU s | CPU s per point |\n|---|---|---|")
    for phase, s in cpu.items():
        print(f"| {phase} | {s:.2f} | {s / n:.4f} |")
    print("wall s from run_sweep's start: " + ", ".join(
        f"{k} {v:.2f}" for k, v in result.wall_s.items()) + f"; figure {figure:.2f} CPU s after")


def figure_bytes(table: object, cfg: object) -> bytes:
    """The Pareto figure as `qmcsim sweep` draws it after the sweep (PNG bytes)."""
    import tempfile as tf

    from qmcsim.plot import objective_front, save_figure

    objectives = cfg.objectives  # type: ignore[attr-defined]
    fig = objective_front(table, objectives[0].metric, objectives[1].metric)
    with tf.TemporaryDirectory() as tmp:
        return save_figure(fig, Path(tmp) / "pareto", formats=("png",))["pareto.png"]


def _cpu(procs: list[subprocess.Popen[bytes]]) -> dict[str, float]:
    """User + system CPU seconds of a cluster's scheduler and of its worker processes (each
    `dask worker` runs a nanny and the worker processes under it)."""
    import psutil

    if not procs:
        return {}
    out = {}
    for name, proc in (("dask_scheduler (process)", procs[0]), ("dask_workers (processes)",
                                                                procs[1])):
        total = 0.0
        root = psutil.Process(proc.pid)
        for p in [root, *root.children(recursive=True)]:
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.NoSuchProcess:
                pass
        out[name] = total
    return out


def _run(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True)
    took = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stderr}")
    return took


def _busy_s() -> float:
    """CPU seconds all processes of the machine have used since boot (/proc/stat)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _own_s(procs: list[subprocess.Popen[bytes]]) -> float:
    """CPU seconds of this process, its finished children (the sweep command and the local
    workers it waited for) and the running Dask cluster processes."""
    import resource

    own = sum(getattr(resource.getrusage(who), f) for who in
              (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN) for f in ("ru_utime", "ru_stime"))
    return own + sum(_cpu(procs).values())


def _wait_quiet(most_s: float = 180.0, window_s: float = 2.0, busy_cores: float = 0.1) -> float:
    """Wait (at most `most_s`) until the machine's other processes use under `busy_cores`
    cores over `window_s`; the seconds waited."""
    start = time.perf_counter()
    while time.perf_counter() - start < most_s:
        busy, own = _busy_s(), _own_s([])
        time.sleep(window_s)
        if (_busy_s() - busy) - (_own_s([]) - own) < busy_cores * window_s:
            break
    return time.perf_counter() - start


def _measured(cmd: list[str], procs: list[subprocess.Popen[bytes]], tree: Path = ROOT
              ) -> tuple[float, float]:
    """Wall seconds of `cmd` run in `tree`, and the CPU seconds other processes of the
    machine used meanwhile (another user's job: the run measured the contention, not the
    sweep)."""
    busy, own = _busy_s(), _own_s(procs)
    took = _run(cmd, tree)
    return took, max(0.0, (_busy_s() - busy) - (_own_s(procs) - own))


def _dask_cluster(nworkers: int, folder: Path, tree: Path = ROOT
                  ) -> tuple[str, list[subprocess.Popen[bytes]]]:
    """A scheduler and `nworkers` single-threaded worker processes on free ports, started in
    another folder without QMCSIM_HW_CONFIGS (workers need only the package, here `tree`'s)."""
    from dask.distributed import Client

    dask = shutil.which("dask") or "dask"
    file = folder / "scheduler.json"
    env = {k: v for k, v in os.environ.items() if k != "QMCSIM_HW_CONFIGS"}
    env["PYTHONPATH"] = str(tree)
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


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


Key = tuple[str, str, str, int]   # tree ("" = this one, "compare"), sweep, how, workers
RUN_LINE = re.compile(r"round (\d+)/\d+ (compare )?(\S+) (local|dask) (\d+): ([\d.]+) s "
                      r"\(load ([\d.]+), other processes ([\d.]+) CPU s\)")


def _commit_of(tree: Path) -> str:
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=tree, text=True,
                          capture_output=True).stdout.strip()


def from_log(sweeps: list[Path], log: Path, runs: int, figure: Path | None,
             compare: Path | None, started: str, max_foreign: float) -> None:
    """The summary and figure of a `wall` run that was stopped, from its per-run lines on
    stderr (rounds 1..runs; of a run tried again, the last try is the one kept, as `wall`
    keeps it). points.csv was not compared: the folders went with the run."""
    times: dict[Key, list[float]] = {}
    loads: dict[Key, list[float]] = {}
    foreign: dict[Key, list[float]] = {}
    discarded: dict[Key, list[list[float]]] = {}
    kept: dict[tuple[Key, int], list[float]] = {}
    for line in log.read_text().splitlines():
        m = RUN_LINE.match(line)
        if m is None or int(m[1]) > runs:
            continue
        what: Key = ("compare" if m[2] else "", m[3], m[4], int(m[5]))
        if (what, int(m[1])) in kept:
            discarded.setdefault(what, []).append(kept[(what, int(m[1]))])
        kept[(what, int(m[1]))] = [float(m[6]), float(m[8]), float(m[7])]
    for (what, _), (took, other, load) in sorted(kept.items(), key=lambda kv: kv[0][1]):
        times.setdefault(what, []).append(took)
        loads.setdefault(what, []).append(load)
        foreign.setdefault(what, []).append(other)
    record: dict[str, object] = {
        "started": started, "finished": f"stopped; rounds 1-{runs} of its log",
        "commit": _commit_of(ROOT), "cpus": os.cpu_count(), "cpu": _cpu_model(), "runs": runs,
        "goal": GOAL, "max_foreign_cpu_s": max_foreign, "sweeps": {}}
    if compare:
        record["compare"] = {"tree": str(compare.resolve()), "commit": _commit_of(compare),
                             "sweeps": {}}
    summarize(sweeps, record, times, loads, foreign, discarded, None, figure)


def _same_points(folder: Path, sweep: Path) -> bool:
    """Every run's points.csv of `sweep` is the same bytes within each tree; across trees the
    same but for the `key` column (a key hashes the config's file path, which differs)."""
    import pandas as pd

    tables = []
    for tree in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(
            "cluster")):
        outs = [o for o in sorted(tree.glob(f"{sweep.stem}-*-*-*"))
                if o.name.count("-") == sweep.stem.count("-") + 3]
        first = (outs[0] / "points.csv").read_bytes()
        if any((o / "points.csv").read_bytes() != first for o in outs):
            return False
        tables.append(pd.read_csv(outs[0] / "points.csv").drop(columns="key"))
    return all(t.equals(tables[0]) for t in tables)


def wall(sweeps: list[Path], runs: int, figure: Path | None, max_foreign: float,
         attempts: int, compare: Path | None = None, max_wait: float = 180.0) -> None:
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    commit_of = _commit_of
    commit = commit_of(ROOT)
    trees = {"": ROOT, **({"compare": compare.resolve()} if compare else {})}
    record: dict[str, object] = {
        "started": started, "commit": commit, "cpus": os.cpu_count(), "cpu": _cpu_model(),
        "runs": runs, "goal": GOAL, "max_foreign_cpu_s": max_foreign, "sweeps": {}}
    if compare:
        record["compare"] = {"tree": str(trees["compare"]), "commit": commit_of(compare),
                             "sweeps": {}}
    times: dict[Key, list[float]] = {}
    loads: dict[Key, list[float]] = {}
    foreign: dict[Key, list[float]] = {}
    discarded: dict[Key, list[list[float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for r in range(runs):   # interleaved: every configuration (of every tree) per round
            for sweep in sweeps:
                for (how, workers), (label, tree) in itertools.product(CONFIGS, trees.items()):
                    file = tree / sweep.relative_to(ROOT) if sweep.is_relative_to(ROOT) \
                        else sweep
                    base = [sys.executable, "-m", "qmcsim", "sweep", str(file), "--no-progress"]
                    what = (label, sweep.name, how, workers)
                    for attempt in range(attempts):   # again if another job disturbed it
                        out = folder / f"{label or 'this'}" / f"{sweep.stem}-{how}-{workers}-{r}"
                        shutil.rmtree(out, ignore_errors=True)
                        out.parent.mkdir(exist_ok=True)
                        _wait_quiet(max_wait)
                        load = os.getloadavg()[0]
                        if how == "local":
                            took, other = _measured(
                                [*base, "--out", str(out), "--workers", str(workers)], [], tree)
                        else:
                            cluster = folder / f"cluster-{label}-{out.name}-{attempt}"
                            cluster.mkdir()
                            address, procs = _dask_cluster(workers, cluster, tree)
                            try:
                                took, other = _measured(
                                    [*base, "--out", str(out), "--dask", address], procs, tree)
                            finally:
                                _stop(procs)
                        print(f"round {r + 1}/{runs} {label + ' ' if label else ''}{sweep.name} "
                              f"{how} {workers}: {took:.2f} s (load {load:.2f}, other processes "
                              f"{other:.2f} CPU s)", file=sys.stderr)
                        if other <= max_foreign or attempt == attempts - 1:
                            break
                        discarded.setdefault(what, []).append([took, other, load])
                    times.setdefault(what, []).append(took)
                    loads.setdefault(what, []).append(load)
                    foreign.setdefault(what, []).append(other)
        same = {sweep.name: _same_points(folder, sweep) for sweep in sweeps}
    record["finished"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    summarize(sweeps, record, times, loads, foreign, discarded, same, figure)


def summarize(sweeps: list[Path], record: dict[str, object], times: dict[Key, list[float]],
              loads: dict[Key, list[float]], foreign: dict[Key, list[float]],
              discarded: dict[Key, list[list[float]]], same: dict[str, bool] | None,
              figure: Path | None) -> None:
    """Print the tables (medians, speed-ups, the compared tree), write the record and the
    figure; exit 1 if the points.csv of a sweep differed between runs."""
    from qmcsim.sweep import load_sweep
    from qmcsim.sweep.sampling import points

    runs, compare = record["runs"], record.get("compare")
    print(f"{record['started']} - {record['finished']}, commit {record['commit']}, "
          f"{record['cpus']} CPUs ({record['cpu']}), median of {runs} interleaved run(s) each")
    for sweep in sweeps:
        n = len(points(load_sweep(sweep)[0]))
        rows = {}
        print(f"\n{sweep.name}: {n} points")
        print("| how | workers | wall s (median) | runs s | speed-up vs 1 worker | points/min "
              "| load avg (1 min) before each run | other processes' CPU s during each run "
              "| runs discarded (other CPU > max) |")
        print("|---|---|---|---|---|---|---|---|---|")
        for how, workers in CONFIGS:
            what = ("", sweep.name, how, workers)
            got = times[what]
            t = statistics.median(got)
            one = statistics.median(times[("", sweep.name, how, 1)])
            rows[f"{how}-{workers}"] = {"runs_s": got, "median_s": t, "speedup": one / t,
                                        "loadavg": loads[what], "other_cpu_s": foreign[what],
                                        "discarded": discarded.get(what, [])}
            print(f"| {how} | {workers} | {t:.2f} | {', '.join(f'{x:.2f}' for x in got)} | "
                  f"{one / t:.2f}x | {60 * n / t:.0f} | "
                  f"{', '.join(f'{x:.2f}' for x in loads[what])} | "
                  f"{', '.join(f'{x:.2f}' for x in foreign[what])} | "
                  f"{len(discarded.get(what, []))} |")
        if compare:
            print(f"\n{sweep.name}, against {compare['tree']} (commit "  # type: ignore[index]
                  f"{compare['commit']}), same rounds:")  # type: ignore[index]
            print("| how | workers | wall s (median), compared tree | runs s | this tree / "
                  "compared | speed-up vs 1 worker, compared tree |\n|---|---|---|---|---|---|")
            theirs = {}
            for how, workers in CONFIGS:
                got = times[("compare", sweep.name, how, workers)]
                t = statistics.median(got)
                one = statistics.median(times[("compare", sweep.name, how, 1)])
                ours = statistics.median(times[("", sweep.name, how, workers)])
                theirs[f"{how}-{workers}"] = {"runs_s": got, "median_s": t, "speedup": one / t,
                                              "other_cpu_s": foreign[("compare", sweep.name,
                                                                      how, workers)]}
                print(f"| {how} | {workers} | {t:.2f} | {', '.join(f'{x:.2f}' for x in got)} "
                      f"| {ours / t:.3f} | {one / t:.2f}x |")
            compare["sweeps"][sweep.name] = {"configs": theirs}  # type: ignore[index]
        identical = None if same is None else same[sweep.name]
        print(f"points.csv byte-identical across all runs of {sweep.name}"
              f"{' (each tree; across trees all but the key column)' if compare else ''}: "
              f"{'not compared (from a log)' if identical is None else identical}")
        record["sweeps"][sweep.name] = {"points": n, "byte_identical": identical,  # type: ignore[index]
                                        "configs": rows}
    if figure is not None:
        figure.mkdir(parents=True, exist_ok=True)
        (figure / "sweep-scaling.json").write_text(json.dumps(record, indent=1) + "\n")
        draw(record, figure / "sweep-scaling.png")
        print(f"figure: {figure / 'sweep-scaling.png'}; numbers: {figure / 'sweep-scaling.json'}")
    if same is not None and not all(same.values()):
        sys.exit(1)


def draw(record: dict[str, object], path: Path) -> None:
    """Left: median wall time of each sweep with 1 and 2 workers, local and Dask. Right: the
    speed-up of 2 workers over 1, against the ideal 2x and the 1.8x goal."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sweeps: dict[str, dict[str, object]] = record["sweeps"]  # type: ignore[assignment]
    labels = {"hymba-lhs.yaml": "hymba-lhs\n(16 + 4 tokens)",
              "hymba-lhs-main.yaml": "hymba-lhs-main\n(128 + 32 tokens)",
              "hymba-lhs-exhaustive.yaml": "hymba-lhs-exhaustive\n(128 + 32, every token)"}
    names = list(sweeps)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.4))
    width = 0.2
    colours = {"local-1": "#9ecae1", "local-2": "#3182bd", "dask-1": "#fdae6b",
               "dask-2": "#e6550d"}
    for j, config in enumerate(colours):
        how, workers = config.split("-")
        xs = [i + (j - 1.5) * width for i in range(len(names))]
        ys = [sweeps[n]["configs"][config]["median_s"] for n in names]  # type: ignore[index]
        bars = left.bar(xs, ys, width, color=colours[config],
                        label=f"{'Dask' if how == 'dask' else 'local'}, {workers} "
                              f"worker{'s' if workers != '1' else ''}")
        left.bar_label(bars, fmt="%.1f", fontsize=8)
    left.set_xticks(range(len(names)), [labels.get(n, n) for n in names])
    left.set_ylabel("wall time, s (median)")
    left.set_title(f"{sweeps[names[0]]['points']}-point sweeps: wall time")
    left.legend(fontsize=8, loc="upper left")
    left.set_ylim(0, 1.2 * max(c["median_s"] for n in names  # type: ignore[index]
                               for c in sweeps[n]["configs"].values()))  # type: ignore[attr-defined]
    compared: dict[str, object] = record.get("compare") or {}  # type: ignore[assignment]
    before = compared.get("sweeps", {})
    series = [(how, "", sweeps) for how in ("local", "dask")]
    if all(n in before for n in names):   # --compare: the compared tree's bars beside, hatched
        series = [(how, tree, got) for how in ("local", "dask")
                  for tree, got in ((f"commit {compared['commit']}", before),
                                    (f"commit {record['commit']}", sweeps))]
    width = 0.6 / len(series)
    for j, (how, tree, got) in enumerate(series):
        xs = [i + (j - (len(series) - 1) / 2) * width for i in range(len(names))]
        ys = [got[n]["configs"][f"{how}-2"]["speedup"] for n in names]  # type: ignore[index]
        old = got is not sweeps
        bars = right.bar(xs, ys, width, color="white" if old else colours[f"{how}-2"],
                         edgecolor=colours[f"{how}-2"], hatch="//" if old else None,
                         label=("local processes" if how == "local" else "Dask")
                         + (f", {tree}" if tree else ""))
        right.bar_label(bars, fmt="%.2fx", fontsize=7)
    right.axhline(2.0, color="grey", linestyle=":", linewidth=1, label="ideal (2x)")
    right.axhline(GOAL, color="black", linestyle="--", linewidth=1, label=f"goal ({GOAL}x)")
    right.axhline(1.0, color="grey", linewidth=0.8)
    right.set_xticks(range(len(names)), [labels.get(n, n) for n in names])
    right.set_ylabel("speed-up, 2 workers over 1")
    right.set_ylim(0, 2.6)
    right.set_title("2 workers vs 1")
    right.legend(fontsize=7, loc="upper center", ncol=3)
    fig.suptitle(f"qmcsim sweep scaling: {record['cpus']} cores ({record['cpu']}), "
                 f"{record['started']}, median of {record['runs']} runs", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=("phases", "wall"))
    ap.add_argument("--sweep", type=Path, action="append", default=None,
                    help="sweep config (repeatable; phases: the first)")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--dask", action="store_true", help="phases on a Dask cluster")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--figure", type=Path, default=None,
                    help="wall: folder for sweep-scaling.png and sweep-scaling.json")
    ap.add_argument("--max-foreign", type=float, default=1.0, metavar="CPU_S",
                    help="wall: a run during which other processes of the machine used more "
                         "CPU seconds than this is discarded and run again (default 1.0)")
    ap.add_argument("--attempts", type=int, default=4,
                    help="wall: at most this many tries per run (the last one is kept)")
    ap.add_argument("--max-wait", type=float, default=180.0, metavar="S",
                    help="wall: before each run, wait at most this long for the machine's "
                         "other processes to use under 0.1 core (default 180)")
    ap.add_argument("--from-log", type=Path, default=None, metavar="LOG",
                    help="wall: do not run; summarize rounds 1..--runs of a stopped run from "
                         "its stderr LOG (--started: when it started)")
    ap.add_argument("--started", default="", help="wall --from-log: the run's start time")
    ap.add_argument("--compare", type=Path, default=None, metavar="TREE",
                    help="wall: also run another checkout's qmcsim, interleaved (A/B)")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    sweeps = args.sweep or SWEEPS
    if args.what == "phases":
        phases(sweeps[0], args.workers, args.dask)
    elif args.from_log is not None:
        from_log(sweeps, args.from_log, args.runs, args.figure, args.compare, args.started,
                 args.max_foreign)
    else:
        wall(sweeps, args.runs, args.figure, args.max_foreign, args.attempts, args.compare,
             args.max_wait)


if __name__ == "__main__":
    main()
