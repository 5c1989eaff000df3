"""Run a sweep: resolve and validate every point, skip those already stored, simulate the rest
in this process, on local worker processes or on a Dask cluster, store each as it finishes.

The client resolves every point (presets, models, `count: auto`) and ships the resolved run to
the worker, so a worker needs only the installed package: no config files, no preset folders.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd
import simpy

from qmcsim.config.loader import ResolvedRun, load_run
from qmcsim.config.overrides import parse_path
from qmcsim.errors import ConfigError, InternalError, QmcsimError
from qmcsim.lru import LastUsed
from qmcsim.results import csv_bytes
from qmcsim.sweep.accuracy import AccuracyJob, resolve_seeds, summarize_point
from qmcsim.sweep.config import SweepConfig
from qmcsim.sweep.inputs import run_keyed
from qmcsim.sweep.metrics import feasible, pareto, point_costs
from qmcsim.sweep.sampling import overrides_of, points
from qmcsim.sweep.store import (TMP_PREFIX, PointStore, atomic_write, check_manifest,
                                 kill_hook, point_key)


class PointError(QmcsimError):
    """A sweep point is invalid or failed (with --fail-fast, or when every point is)."""


@dataclass(frozen=True, kw_only=True)
class Task:
    """One system of one point: the unit that is simulated, stored and reused. Points that
    share a system's resolved config (e.g. the baseline of a rho sweep) share its task."""

    key: str
    system: str
    run: ResolvedRun | AccuracyJob   # this system alone, or one accuracy seed
    costs: dict[str, Any]     # units, area, capacity, Eq. 4 power (accuracy: the seed)


@dataclass(frozen=True, kw_only=True)
class SweepPoint:
    index: int
    values: dict[str, Any]
    baseline: str = ""
    tasks: tuple[Task, ...] = ()
    resolved: dict[str, Any] = field(default_factory=dict)
    error: str | None = None            # the one-line validation error


def one_line(exc: BaseException) -> str:
    text = str(exc) if isinstance(exc, QmcsimError) else f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())


def check_buildable(run: ResolvedRun, counts: dict[str, dict[str, int]]) -> None:
    """Build every memory on a scratch environment: rules the technology modules enforce at
    construction (e.g. a DRAM channel count that is a power of two) fail here, before any run."""
    from qmcsim.memories.base import registry

    kinds = registry()
    for system in run.systems:
        for mem, device in system.devices.items():
            try:
                kinds[device.kind](simpy.Environment(), mem, device, counts[system.name][mem])
            except (ValueError, TypeError, ConfigError) as exc:
                raise ConfigError(run.file, f"{system.field_path}.memories.{mem}",
                                  " ".join(str(exc).split())) from None


RUN_KEYS = ("systems", "resolved_presets", "resolved_counts", "baseline")


def system_config(resolved: dict[str, Any], index: int, name: str) -> dict[str, Any]:
    """The resolved config one system's simulation depends on: the run-level fields (model,
    workload, accounting, seed, ...) and this system with its presets and unit counts."""
    out = {k: v for k, v in resolved.items() if k not in RUN_KEYS}
    out["system"] = resolved["systems"][index]
    out["presets"] = resolved["resolved_presets"][name]
    out["counts"] = resolved["resolved_counts"][name]
    return out


PlacementCache = LastUsed[str, Any]
PLACEMENTS_KEPT = 32   # most recently used; a Hymba placement holds ~0.7 MB


def placements(run: ResolvedRun, cache: PlacementCache | None) -> list[tuple[Any, Any]]:
    """runner.prepare, with each system's placement reused across points whose system, devices,
    model, workload and accounting are the same (the baselines of most sweeps)."""
    import json
    from functools import partial

    from qmcsim.placement import build_placement
    from qmcsim.runner import prepare

    if cache is None or run.config.weights is not None:   # measured layouts: no reuse
        return prepare(run)
    out = []
    for s in run.systems:
        key = json.dumps([s.index, s.config.model_dump(mode="json"),
                          {m: d.model_dump(mode="json") for m, d in s.devices.items()},
                          run.model.name, run.model.source, run.file,
                          run.config.workload.model_dump(mode="json"), run.config.accounting],
                         sort_keys=True, default=str)
        # a varied system's placement is rarely reused: only the last PLACEMENTS_KEPT are kept
        out.append((s, cache.get_or_build(key, partial(
            build_placement, s, run.model, run.config.workload, run.config.accounting,
            file=run.file, layouts={}))))
    return out


def resolve_point(cfg: SweepConfig, base: Path, index: int, values: dict[str, Any],
                  cache: PlacementCache | None = None) -> SweepPoint:
    from qmcsim.runner import check_stored_trace, resolved_config

    if cfg.kind == "accuracy":
        try:
            seeds = resolve_seeds(cfg, base, values)
        except QmcsimError as exc:
            return SweepPoint(index=index, values=values, error=one_line(exc))
        return SweepPoint(index=index, values=values, tasks=tuple(
            Task(key=key, system=f"seed {seed}", run=job, costs={})
            for seed, job, key in seeds))
    try:
        run = load_run(base, overrides_of({**cfg.fixed, **values}))
        prepared = placements(run, cache)
        check_stored_trace(run)
        resolved = resolved_config(run, prepared)
        check_buildable(run, resolved["resolved_counts"])  # type: ignore[arg-type]
    except QmcsimError as exc:
        return SweepPoint(index=index, values=values, error=one_line(exc))
    keyed = run_keyed(resolved, run)
    tasks = tuple(
        Task(key=point_key(system_config(keyed, i, s.name)), system=s.name,
             run=replace(run, systems=(s,), baseline=s.name),
             costs=point_costs(s, p, cfg.network_energy_pj_per_bit.value))
        for i, (s, p) in enumerate(prepared))
    return SweepPoint(index=index, values=values, baseline=run.baseline, tasks=tasks,
                      resolved=resolved)


def resolve_points(cfg: SweepConfig, base: Path) -> list[SweepPoint]:
    """Every point, resolved and validated (loader, placement, memory construction)."""
    return list(iter_points(cfg, base, points(cfg)))


def iter_points(cfg: SweepConfig, base: Path, values: list[dict[str, Any]]
                ) -> Iterator[SweepPoint]:
    """The points in sweep order, each resolved and validated when it is asked for, with
    placements reused across points."""
    cache: PlacementCache = LastUsed(PLACEMENTS_KEPT)
    for i, v in enumerate(values):
        yield resolve_point(cfg, base, i, v, cache)


def simulate_point(run: ResolvedRun | AccuracyJob) -> pd.DataFrame | str:
    """The summary rows of a run's systems (ratios left out: the sweep computes them against
    the point's baseline), or the one-line error. Runs wherever the worker is."""
    from qmcsim.pipeline import run as simulate

    try:
        if isinstance(run, AccuracyJob):
            from qmcsim.sweep.accuracy import evaluate

            return evaluate(run)
        rows = simulate(run).summary   # one system, its own baseline: ratios of 1
    except Exception as exc:   # a sweep records a failing point and goes on
        return one_line(exc)
    return rows[[c for c in rows.columns if "_vs_" not in c]]


def simulate_timed(run: ResolvedRun | AccuracyJob) -> tuple[pd.DataFrame | str, float]:
    """simulate_point and the CPU seconds it took on the worker."""
    start = time.process_time()
    outcome = simulate_point(run)
    return outcome, time.process_time() - start


def simulate_chunk(runs: list[ResolvedRun | AccuracyJob]
                   ) -> list[tuple[pd.DataFrame | str, float]]:
    """simulate_timed for several tasks, one after the other (one Dask task)."""
    return [simulate_timed(run) for run in runs]


def simulate_chunk_with_files(runs: list[ResolvedRun | AccuracyJob],
                              specs: list[dict[str, Any]], files: dict[str, bytes]
                              ) -> list[tuple[pd.DataFrame | str, float]]:
    """simulate_chunk on a worker that shares no files with the client: each run reads its
    trace and weights (an accuracy job its model and texts) from copies of the bytes the client
    scattered (`files`, by digest)."""
    from qmcsim.sweep.inputs import with_local_files

    return simulate_chunk([with_local_files(run, spec, files) if spec else run
                           for run, spec in zip(runs, specs, strict=True)])


def warm_worker() -> None:
    """Import the simulator once, before the first task arrives (Dask workers)."""
    import qmcsim.pipeline  # noqa: F401
    import qmcsim.report  # noqa: F401


Outcome = tuple[str, "pd.DataFrame | str", float]   # key, rows or error, worker CPU s
Chunk = list[tuple[str, "ResolvedRun | AccuracyJob"]]   # (key, run) of tasks sent together


def chunk_size(remaining: int, threads: int, most: int) -> int:
    """Tasks to send in the next chunk: a share of those left (remaining / 2 per worker
    thread, shrinking as the sweep ends so the workers finish together), at most `most`."""
    return max(1, min(most, -(-remaining // (2 * threads))))


class _Inline:
    """No workers: a task is simulated in this process when it is submitted."""

    slots = 1
    most_per_chunk = 1

    def __init__(self) -> None:
        self.done: list[Outcome] = []
        self.in_flight = 0

    def submit(self, chunk: Chunk) -> None:
        self.done += [(key, *simulate_timed(run)) for key, run in chunk]

    def finished(self, block: bool) -> list[Outcome]:
        out, self.done = self.done, []
        return out

    def close(self) -> None:
        pass


class _Processes:
    """Local worker processes. On Linux they are forked when the first task is submitted,
    after the first point was resolved: they start with the simulator imported, the model
    loaded and the DRAM fast mode calibrated, instead of paying that once each."""

    most_per_chunk = 1   # a task costs the pool ~1 ms: no need to batch, balance is better

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.slots = 2 * workers   # one running, one queued per worker
        self.pool: ProcessPoolExecutor | None = None
        self.futures: dict[Future[tuple[pd.DataFrame | str, float]], str] = {}

    @property
    def in_flight(self) -> int:
        return len(self.futures)

    def submit(self, chunk: Chunk) -> None:
        if self.pool is None:
            from qmcsim.parallel import worker_pool

            self.pool = worker_pool(self.workers)
        for key, run in chunk:
            self.futures[self.pool.submit(simulate_timed, run)] = key

    def finished(self, block: bool) -> list[Outcome]:
        from concurrent.futures import FIRST_COMPLETED, wait

        if not self.futures:
            return []
        done, _ = wait(self.futures, timeout=None if block else 0, return_when=FIRST_COMPLETED)
        return [(self.futures.pop(f), *f.result()) for f in done]

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


class _Dask:
    """A Dask cluster. Tasks go in chunks (`chunk_size`): each Dask task costs the scheduler,
    the client and the worker some bookkeeping, which on a small cluster takes CPU from the
    simulations; a chunk's results come back together and are stored one file per task."""

    most_per_chunk = 8

    def __init__(self, address: str) -> None:
        try:
            from dask.distributed import Client
        except ImportError:
            raise ConfigError("--dask", "", "dask.distributed is not installed: "
                              "pip install -e '.[cluster]'") from None
        self.client = Client(address)
        # every worker imports the simulator while this process resolves the first point
        self.warming = [self.client.submit(warm_worker, pure=False, workers=[w],
                                           allow_other_workers=False)
                        for w in self.client.scheduler_info()["workers"]]
        self.futures: dict[Any, list[str]] = {}
        self.scattered: dict[str, Any] = {}   # file digest -> its bytes on the workers
        self._slots, self._asked = 2, -1e9

    @property
    def slots(self) -> int:
        """Two tasks per worker thread (asked of the scheduler at most every 5 s: workers
        may join or leave during a sweep)."""
        if time.monotonic() - self._asked > 5.0:
            workers = self.client.scheduler_info()["workers"].values()
            self._slots = max(2, 2 * sum(w.get("nthreads", 1) for w in workers))
            self._asked = time.monotonic()
        return self._slots

    @property
    def in_flight(self) -> int:
        return len(self.futures)

    def submit(self, chunk: Chunk) -> None:
        from qmcsim.parallel import call_shipped, ship

        keys = [key for key, _ in chunk]
        runs = [r for _, r in chunk]
        specs = [self._files(r) for r in runs]
        name = f"qmcsim-points-{keys[0]}-{len(keys)}"
        if any(specs):   # files read at run time go once to every worker, not with each task
            files = {d: self.scattered[d] for spec in specs for _, entries in spec.values()
                     for _, d in entries}
            future = self.client.submit(call_shipped, ship(simulate_chunk_with_files, runs,
                                                           specs), files, key=name, pure=False)
        else:
            future = self.client.submit(call_shipped, ship(simulate_chunk, runs), key=name,
                                        pure=False)
        self.futures[future] = keys

    def _files(self, run: ResolvedRun | AccuracyJob) -> dict[str, Any]:
        """field -> (is a folder, [(name, digest)]) of what `run` reads while it simulates,
        each file's bytes scattered to the workers the first time it is named."""
        from qmcsim.sweep.inputs import file_digest, run_time_files

        spec = {}
        for config_field, (is_folder, entries) in run_time_files(run).items():
            named = []
            for name, path in entries:
                digest = file_digest(path)
                if digest not in self.scattered:
                    try:
                        data = path.read_bytes()
                    except OSError as exc:   # it was read when the point was resolved
                        raise ConfigError(str(path), "", f"a readable file expected "
                                          f"({exc.strerror})") from None
                    self.scattered[digest] = self.client.scatter(data, broadcast=True,
                                                                 hash=False)
                named.append((name, digest))
            spec[config_field] = (is_folder, named)
        return spec

    def finished(self, block: bool) -> list[Outcome]:
        from dask.distributed import wait

        if block and self.futures:
            wait(list(self.futures), return_when="FIRST_COMPLETED")
        done = [f for f in self.futures if f.done()]
        return [(key, *outcome) for f in done
                for key, outcome in zip(self.futures.pop(f), f.result(), strict=True)]

    def close(self) -> None:
        self.client.cancel([*self.futures, *self.warming, *self.scattered.values()])
        self.client.close()


@dataclass(frozen=True, kw_only=True)
class SweepResult:
    table: pd.DataFrame      # one row per point x system
    failures: pd.DataFrame   # one row per failed point: point, key, parameters, error
    computed: int            # tasks (point x system) simulated by this call
    reused: int              # tasks found already stored
    cpu_s: dict[str, float] = field(default_factory=dict)   # CPU seconds per phase
    # wall seconds from the call's start to: the first task dispatched, the last result
    # collected, the combined tables written
    wall_s: dict[str, float] = field(default_factory=dict)


def _value(v: Any) -> Any:
    return v if not isinstance(v, (list, dict)) else str(v)


def with_ratios(rows: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """Baseline / system for the metrics where lower is better (as the run report does)."""
    from qmcsim.report import RATIO_METRICS

    base = rows.set_index("system").loc[baseline]
    for metric in RATIO_METRICS:
        rows[f"{metric}_vs_{baseline}"] = base[metric] / rows[metric]
    return rows


def point_rows(cfg: SweepConfig, p: SweepPoint, parts: list[pd.DataFrame]
               ) -> pd.DataFrame | str:
    """A valid point's rows (point, key, system, metrics, costs, ratios, parameters) from its
    tasks' stored rows, or the first task's error. The reference for `run_table`, which
    builds the same rows for all points at once."""
    error = task_error(parts)
    if error is not None:
        return error
    params = {path: _value(v) for path, v in p.values.items()}
    parts = [r.assign(**t.costs) for r, t in zip(parts, p.tasks, strict=True)]
    if cfg.kind == "accuracy":
        rows = summarize_point(parts)
        rows.insert(0, "point", p.index)
    else:
        rows = with_ratios(pd.concat(parts, ignore_index=True), p.baseline)
        rows.insert(0, "point", p.index)
        rows.insert(1, "key", [t.key for t in p.tasks])
    for path, v in params.items():
        rows[path] = v
    return rows


def task_error(parts: list[pd.DataFrame]) -> str | None:
    return next((str(r.error.iloc[0]) for r in parts if "error" in r.columns), None)


@dataclass(frozen=True, kw_only=True)
class Finished:
    """A point once all its tasks are stored: its task keys (run sweeps) or rows (accuracy
    sweeps), or its one-line error."""

    index: int
    values: dict[str, Any]
    baseline: str = ""
    keys: tuple[str, ...] = ()
    systems: tuple[str, ...] = ()
    rows: pd.DataFrame | None = None
    error: str | None = None


def run_table(ok: list[Finished], frames: dict[str, pd.DataFrame],
              costs: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """The rows of every valid point of a run sweep, as `point_rows` gives them one point at a
    time and concatenated, built at once: each distinct task's row and costs once, then
    repeated for every point that shares it (a sweep's fixed systems)."""
    from qmcsim.report import RATIO_METRICS

    keys = list(dict.fromkeys(k for f in ok for k in f.keys))
    distinct = pd.concat([pd.concat([frames[k] for k in keys], ignore_index=True),
                          pd.DataFrame([costs[k] for k in keys])], axis=1)
    where = {k: i for i, k in enumerate(keys)}
    table = distinct.iloc[[where[k] for f in ok for k in f.keys]].reset_index(drop=True)
    row_of_base, start = [], 0     # per row: the row of its point's baseline system
    for f in ok:
        row_of_base += [start + f.systems.index(f.baseline)] * len(f.keys)
        start += len(f.keys)
    baselines = [f.baseline for f in ok for _ in f.keys]
    for baseline in dict.fromkeys(baselines):
        mine = pd.Series([b == baseline for b in baselines])
        for metric in RATIO_METRICS:
            base = table[metric].iloc[row_of_base].reset_index(drop=True)
            table[f"{metric}_vs_{baseline}"] = (base / table[metric]).where(mine)
    table.insert(0, "point", [f.index for f in ok for _ in f.keys])
    table.insert(1, "key", [k for f in ok for k in f.keys])
    for path in ok[0].values:
        table[path] = [_value(f.values[path]) for f in ok for _ in f.keys]
    return table


def combine(cfg: SweepConfig, done: list[Finished], frames: dict[str, pd.DataFrame],
            costs: dict[str, dict[str, Any]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The tidy table of every finished point (with feasible and pareto) and the failed
    points with their errors, both in point order."""
    done = sorted(done, key=lambda f: f.index)
    ok = [f for f in done if f.error is None]
    if cfg.kind == "run":
        table = run_table(ok, frames, costs) if ok else pd.DataFrame()
    else:
        frames_ = [f.rows for f in ok if f.rows is not None]
        table = pd.concat(frames_, ignore_index=True) if frames_ else pd.DataFrame()
    if not table.empty and cfg.kind == "run":
        ok_rows = feasible(table, cfg.constraints, ok[0].baseline)
        table["feasible"] = ok_rows
        table["pareto"] = pareto(table, cfg.objectives, ok_rows, ok[0].baseline)
    failures = [{"point": f.index, **{k: _value(v) for k, v in f.values.items()},
                 "error": f.error} for f in done if f.error is not None]
    columns = ["point", *(p.path for p in cfg.parameters), "error"]
    return table, pd.DataFrame(failures, columns=columns)


def shared_tasks(cfg: SweepConfig, base: Path, out: Path) -> list[Task]:
    """The tasks of the base config's systems that no parameter varies (a sweep's fixed
    systems, e.g. its baselines), not stored yet under `out`: they can run before the points
    are drawn and resolved, and every point will claim them. None if a parameter is not inside
    one system (e.g. the workload: then every system varies)."""
    varied: set[str] = set()
    for param in cfg.parameters:
        path = parse_path(param.path)
        if len(path) < 3 or path[0] != "systems":
            return []
        varied.add(path[1])
    p = resolve_point(cfg, base, -1, {})
    if p.error is not None:
        return []
    run = p.tasks[0].run if p.tasks else None
    names = {s.name: str(i) for i, s in enumerate(run.config.systems)} \
        if isinstance(run, ResolvedRun) else {}
    return [t for t in p.tasks if t.system not in varied and names.get(t.system) not in varied
            and not (out / "points" / f"{t.key}.parquet").is_file()]


def stored_count(out: Path) -> int:
    """Point files already in a sweep folder (without creating anything)."""
    folder = out / "points"
    return sum(1 for f in folder.glob("*.parquet") if not f.name.startswith(TMP_PREFIX)) \
        if folder.is_dir() else 0


def run_sweep(cfg: SweepConfig, base: Path, out: Path, *, workers: int = 1,
              dask_address: str | None = None, fail_fast: bool = False,
              retry_failed: bool = False, pts: list[SweepPoint] | None = None,
              on_start: Callable[[int, int], None] | None = None,
              on_point: Callable[[], None] | None = None) -> SweepResult:
    """Simulate every task (point x system) not stored yet under `out`, each stored as it
    finishes, then write the combined tables there.

    Points stream: point i+1 is resolved and validated while the workers simulate earlier
    ones, and a point's tasks are dispatched as soon as it is valid (at most two per worker
    waiting). Each point is validated before any of its tasks runs; with `fail_fast` every
    point is, before anything runs. `on_start(points, stored)` is called before the first
    point is resolved, `on_point()` when a point is finished (or found invalid)."""
    clock = time.process_time
    started = clock()
    begun = time.perf_counter()
    wall: dict[str, float] = {}
    cpu = {"client_resolve": 0.0, "client_store": 0.0, "client_tables": 0.0,
           "worker_simulate": 0.0}
    manifest = cfg.model_dump(mode="json", exclude_defaults=True)
    check_manifest(out, manifest)
    if pts is None and fail_fast:
        pts = resolve_points(cfg, base)
        cpu["client_resolve"] += clock() - started
    if pts is not None:
        bad = [p for p in pts if p.error is not None]
        if bad and (fail_fast or len(bad) == len(pts)):
            raise PointError(f"point {bad[0].index} ({', '.join(overrides_of(bad[0].values))})"
                             f": {bad[0].error}")

    store: PointStore | None = None
    frames: dict[str, pd.DataFrame] = {}       # key -> its rows (simulated or read back)
    costs: dict[str, dict[str, Any]] = {}      # key -> its pre-run costs
    waiters: dict[str, list[SweepPoint]] = {}  # key -> points waiting for it
    missing: dict[int, int] = {}               # point -> tasks not finished yet
    done: list[Finished] = []
    first_bad: SweepPoint | None = None
    reused = 0
    first_error: str | None = None
    unclaimed: dict[str, pd.DataFrame] = {}   # key -> rows of a shared task no point claimed yet
    runner: _Inline | _Processes | _Dask = (
        _Dask(dask_address) if dask_address else _Processes(workers) if workers > 1
        else _Inline())

    def finish_point(p: SweepPoint) -> None:
        parts = [frames[t.key] for t in p.tasks]
        rows = point_rows(cfg, p, parts) if cfg.kind == "accuracy" else task_error(parts)
        done.append(Finished(index=p.index, values=p.values, baseline=p.baseline,
                             keys=tuple(t.key for t in p.tasks),
                             systems=tuple(t.system for t in p.tasks),
                             rows=rows if isinstance(rows, pd.DataFrame) else None,
                             error=rows if isinstance(rows, str) else None))
        if on_point:
            on_point()

    def collect(outcomes: list[Outcome]) -> None:
        nonlocal first_error
        t0 = clock()
        for key, outcome, worker_s in outcomes:
            cpu["worker_simulate"] += worker_s
            wall["last_result"] = time.perf_counter() - begun
            rows = pd.DataFrame({"error": [outcome]}) if isinstance(outcome, str) else outcome
            if not waiters[key]:   # a shared task run ahead: stored once a point claims it
                del waiters[key]
                unclaimed[key] = rows
                continue
            if store is None:
                raise InternalError("sweep results arrived before the store was opened")
            store.write(key, rows)
            frames[key] = rows
            owners = waiters.pop(key)
            if isinstance(outcome, str) and fail_fast and first_error is None:
                system = next(t.system for t in owners[0].tasks if t.key == key)
                first_error = f"point {owners[0].index} (system {system}): {outcome}"
            for p in owners:
                missing[p.index] -= 1
                if missing[p.index] == 0:
                    finish_point(p)
        cpu["client_store"] += clock() - t0

    pending: list[Task] = []   # new tasks not handed to the runner yet
    seen = {"points": 0, "tasks": 0, "total": -1}   # for the estimate of the tasks left

    def dispatch(ahead: int) -> None:
        """Hand the pending tasks to the runner in chunks while it has a free slot; wait for
        results while `ahead` or more tasks are pending (the client resolves that far ahead,
        enough for a full chunk)."""
        while pending and first_error is None:
            if runner.in_flight < runner.slots:
                unresolved = max(0, seen["total"] - seen["points"])
                per_point = seen["tasks"] / seen["points"] if seen["points"] else 1.0
                n = chunk_size(len(pending) + round(unresolved * per_point),
                               max(1, runner.slots // 2), runner.most_per_chunk)
                chunk, pending[:] = pending[:n], pending[n:]
                wall.setdefault("first_dispatch", time.perf_counter() - begun)
                runner.submit([(t.key, t.run) for t in chunk])
            elif len(pending) >= ahead:
                collect(runner.finished(block=True))
            else:
                return

    try:
        if pts is not None:
            total, source = len(pts), iter(pts)
        else:
            t0 = clock()
            ahead = shared_tasks(cfg, base, out) if cfg.kind == "run" else []
            cpu["client_resolve"] += clock() - t0
            for t in ahead:   # the workers simulate these while the points are drawn
                waiters[t.key] = []
                pending.append(t)
            dispatch(ahead=1)
            t0 = clock()
            values = points(cfg)
            total, source = len(values), iter_points(cfg, base, values)
            cpu["client_resolve"] += clock() - t0
        seen["total"] = total
        if on_start:
            on_start(total, stored_count(out))
        while first_error is None:
            t0 = clock()
            p = next(source, None)
            cpu["client_resolve"] += clock() - t0
            if p is None:
                break
            seen["points"] += 1
            t0 = clock()
            if p.error is not None:
                first_bad = first_bad or p
                done.append(Finished(index=p.index, values=p.values, baseline=p.baseline,
                                     rows=None, error=p.error))
                if on_point:
                    on_point()
                cpu["client_store"] += clock() - t0
                continue
            if store is None:   # created with the first valid point: none, nothing written
                store = PointStore(out, manifest)
                kill_hook("start")
            if cfg.kind == "run":   # JSON: 5x cheaper to write than YAML, and YAML reads it
                target = store.folder / "resolved" / f"point-{p.index:04d}.json"
                if not target.exists():
                    target.parent.mkdir(exist_ok=True)
                    atomic_write(target, json.dumps(p.resolved, indent=1, default=str).encode())
            new: list[Task] = []
            missing[p.index] = 0
            for t in p.tasks:
                costs.setdefault(t.key, t.costs)
                if t.key in waiters:
                    waiters[t.key].append(p)
                    missing[p.index] += 1
                elif t.key in unclaimed:
                    frames[t.key] = unclaimed.pop(t.key)
                    store.write(t.key, frames[t.key])
                elif t.key not in frames:
                    if store.finished(t.key):
                        rows = store.read(t.key)
                        if retry_failed and "error" in rows.columns:
                            store.path(t.key).unlink()
                        else:
                            frames[t.key] = rows
                            reused += 1
                            continue
                    waiters[t.key] = [p]
                    missing[p.index] += 1
                    new.append(t)
            if missing[p.index] == 0:
                finish_point(p)
            cpu["client_store"] += clock() - t0
            seen["tasks"] += len(new)
            pending += new
            dispatch(ahead=runner.most_per_chunk)
            collect(runner.finished(block=False))
        dispatch(ahead=1)
        while first_error is None and runner.in_flight:
            collect(runner.finished(block=True))
    finally:
        runner.close()
    if store is None:   # every point is invalid
        if first_bad is None:
            raise InternalError("no sweep point was stored and none failed")
        raise PointError(f"point {first_bad.index} ({', '.join(overrides_of(first_bad.values))})"
                         f": {first_bad.error}")
    t0 = clock()
    table, failures = combine(cfg, done, frames, costs)
    write_tables(out, table, failures)
    cpu["client_tables"] = clock() - t0
    cpu["client_total"] = clock() - started
    wall["tables_written"] = time.perf_counter() - begun
    if first_error is not None:
        raise PointError(first_error)
    return SweepResult(table=table, failures=failures, computed=store.written, reused=reused,
                       cpu_s=cpu, wall_s=wall)


def write_tables(out: Path, table: pd.DataFrame, failures: pd.DataFrame) -> None:
    """The combined tables, each replaced atomically."""
    tmp = out / f"{TMP_PREFIX}points.parquet.{os.getpid()}"
    table.to_parquet(tmp, index=False)
    os.replace(tmp, out / "points.parquet")
    atomic_write(out / "points.csv", csv_bytes(table))
    atomic_write(out / "failures.csv", csv_bytes(failures))
