"""Run a sweep: resolve and validate every point, skip those already stored, simulate the rest
in this process, on local worker processes or on a Dask cluster, store each as it finishes.

The client resolves every point (presets, models, `count: auto`) and ships the resolved run to
the worker, so a worker needs only the installed package: no config files, no preset folders.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd
import simpy
import yaml

from qmcsim.config.loader import ResolvedRun, load_run
from qmcsim.errors import ConfigError, QmcsimError
from qmcsim.results import csv_bytes
from qmcsim.sweep.accuracy import AccuracyJob, resolve_seeds, summarize_point
from qmcsim.sweep.config import SweepConfig
from qmcsim.sweep.metrics import feasible, pareto, point_costs
from qmcsim.sweep.sampling import overrides_of, points
from qmcsim.sweep.store import PointStore, atomic_write, kill_hook, point_key


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


PlacementCache = dict[str, Any]


def placements(run: ResolvedRun, cache: PlacementCache | None) -> list[tuple[Any, Any]]:
    """runner.prepare, with each system's placement reused across points whose system, devices,
    model, workload and accounting are the same (the baselines of most sweeps)."""
    import json

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
        if key not in cache:
            cache[key] = build_placement(s, run.model, run.config.workload,
                                         run.config.accounting, file=run.file, layouts={})
        out.append((s, cache[key]))
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
    tasks = tuple(
        Task(key=point_key(system_config(resolved, i, s.name)), system=s.name,
             run=replace(run, systems=(s,), baseline=s.name),
             costs=point_costs(s, p, cfg.network_energy_pj_per_bit.value))
        for i, (s, p) in enumerate(prepared))
    return SweepPoint(index=index, values=values, baseline=run.baseline, tasks=tasks,
                      resolved=resolved)


def resolve_points(cfg: SweepConfig, base: Path) -> list[SweepPoint]:
    """Every point, resolved and validated (loader, placement, memory construction)."""
    cache: PlacementCache = {}
    return [resolve_point(cfg, base, i, v, cache) for i, v in enumerate(points(cfg))]


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


def _die_with_parent(parent: int) -> None:
    """Worker initializer: end this worker when the sweep's process dies (even by SIGKILL)."""
    import signal
    import sys

    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    else:   # elsewhere: a watchdog thread
        def watch() -> None:
            while os.getppid() == parent:
                time.sleep(1.0)
            os._exit(1)
        threading.Thread(target=watch, daemon=True).start()
    if os.getppid() != parent:   # died before the death signal was armed
        os._exit(1)


Outcome = tuple[str, "pd.DataFrame | str"]   # key, rows or error


def _local(runs: dict[str, ResolvedRun | AccuracyJob], workers: int) -> Iterator[Outcome]:
    if workers <= 1:
        for key, run in runs.items():
            yield key, simulate_point(run)
        return
    import multiprocessing

    from concurrent.futures import as_completed

    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_die_with_parent, initargs=(os.getpid(),)) as pool:
        futures: dict[Future[pd.DataFrame | str], str] = {
            pool.submit(simulate_point, run): key for key, run in runs.items()}
        try:
            for future in as_completed(futures):
                yield futures[future], future.result()
        finally:
            for f in futures:
                f.cancel()


def _dask(runs: dict[str, ResolvedRun | AccuracyJob], address: str) -> Iterator[Outcome]:
    try:
        from dask.distributed import Client, as_completed
    except ImportError:
        raise ConfigError("--dask", "", "dask.distributed is not installed: "
                          "pip install -e '.[cluster]'") from None
    with Client(address) as client:
        futures = {client.submit(simulate_point, run, key=f"qmcsim-point-{key}", pure=False): key
                   for key, run in runs.items()}
        try:
            for future in as_completed(futures):
                yield futures[future], future.result()
        finally:
            client.cancel(list(futures))


@dataclass(frozen=True, kw_only=True)
class SweepResult:
    table: pd.DataFrame      # one row per point x system
    failures: pd.DataFrame   # one row per failed point: point, key, parameters, error
    computed: int            # tasks (point x system) simulated by this call
    reused: int              # tasks found already stored


def _value(v: Any) -> Any:
    return v if not isinstance(v, (list, dict)) else str(v)


def with_ratios(rows: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """Baseline / system for the metrics where lower is better (as the run report does)."""
    from qmcsim.report import RATIO_METRICS

    base = rows.set_index("system").loc[baseline]
    for metric in RATIO_METRICS:
        rows[f"{metric}_vs_{baseline}"] = base[metric] / rows[metric]
    return rows


def assemble(cfg: SweepConfig, pts: list[SweepPoint], store: PointStore
             ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The tidy table of every finished point (point, key, system, metrics, costs, ratios,
    parameters, feasible, pareto) and the failed points with their errors."""
    frames, failures = [], []
    for p in pts:
        params = {path: _value(v) for path, v in p.values.items()}
        error = p.error
        if error is None:
            parts = [store.read(t.key) for t in p.tasks]
            error = next((str(r.error.iloc[0]) for r in parts if "error" in r.columns), None)
            parts = [r.assign(**t.costs) for r, t in zip(parts, p.tasks, strict=True)]
            if error is None and cfg.kind == "accuracy":
                rows = summarize_point(parts)
                rows.insert(0, "point", p.index)
                for path, v in params.items():
                    rows[path] = v
                frames.append(rows)
            elif error is None:
                rows = with_ratios(pd.concat(parts, ignore_index=True), p.baseline)
                rows.insert(0, "point", p.index)
                rows.insert(1, "key", [t.key for t in p.tasks])
                for path, v in params.items():
                    rows[path] = v
                frames.append(rows)
        if error is not None:
            failures.append({"point": p.index, **params, "error": error})
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if not table.empty and cfg.kind == "run":
        baseline = next(p.baseline for p in pts if p.error is None)
        ok = feasible(table, cfg.constraints, baseline)
        table["feasible"] = ok
        table["pareto"] = pareto(table, cfg.objectives, ok, baseline)
    columns = ["point", *(p.path for p in cfg.parameters), "error"]
    return table, pd.DataFrame(failures, columns=columns)


def run_sweep(cfg: SweepConfig, base: Path, out: Path, *, workers: int = 1,
              dask_address: str | None = None, fail_fast: bool = False,
              retry_failed: bool = False, pts: list[SweepPoint] | None = None,
              on_start: Callable[[int, int], None] | None = None,
              on_point: Callable[[], None] | None = None) -> SweepResult:
    """Simulate every task (point x system) not stored yet under `out`, each stored as it
    finishes, then write the combined tables there."""
    pts = resolve_points(cfg, base) if pts is None else pts
    bad = [p for p in pts if p.error is not None]
    if bad and (fail_fast or len(bad) == len(pts)):
        raise PointError(f"point {bad[0].index} ({', '.join(overrides_of(bad[0].values))}): "
                         f"{bad[0].error}")
    store = PointStore(out, cfg.model_dump(mode="json", exclude_defaults=True))
    tasks: dict[str, Task] = {}
    owner: dict[str, int] = {}
    for p in pts:
        for t in p.tasks:
            tasks.setdefault(t.key, t)
            owner.setdefault(t.key, p.index)
    if retry_failed:
        for key in tasks:
            if store.finished(key) and "error" in store.read(key).columns:
                store.path(key).unlink()
    todo = {key: t for key, t in tasks.items() if not store.finished(key)}
    if on_start:
        on_start(len(tasks), len(tasks) - len(todo))
    kill_hook("start")
    runs = {key: t.run for key, t in todo.items()}
    outcomes = _dask(runs, dask_address) if dask_address else _local(runs, workers)
    first_error = None
    for key, outcome in outcomes:
        store.write(key, pd.DataFrame({"error": [outcome]}) if isinstance(outcome, str)
                    else outcome)
        if on_point:
            on_point()
        if isinstance(outcome, str) and fail_fast:
            first_error = f"point {owner[key]} (system {todo[key].system}): {outcome}"
            break
    table, failures = assemble(cfg, pts, store)
    write_tables(out, table, failures, pts)
    if first_error is not None:
        raise PointError(first_error)
    return SweepResult(table=table, failures=failures, computed=store.written,
                       reused=len(tasks) - len(todo))


def write_tables(out: Path, table: pd.DataFrame, failures: pd.DataFrame,
                 pts: list[SweepPoint]) -> None:
    """The combined tables, each replaced atomically; resolved configs written once."""
    tmp = out / f".tmp-points.parquet.{os.getpid()}"
    table.to_parquet(tmp, index=False)
    os.replace(tmp, out / "points.parquet")
    atomic_write(out / "points.csv", csv_bytes(table))
    atomic_write(out / "failures.csv", csv_bytes(failures))
    resolved = out / "resolved"
    resolved.mkdir(exist_ok=True)
    for p in pts:
        target = resolved / f"point-{p.index:04d}.yaml"
        if p.error is None and not target.exists():
            atomic_write(target, yaml.safe_dump(p.resolved, sort_keys=False).encode())
