"""The one run pipeline: `qmcsim.run(config_or_path, overrides=...) -> RunResult`.

load + validate -> place every system (all capacity checks, and the stored trace's, before any
simulation) -> simulate each system -> tidy tables. The `run`, `sweep` and `bench` commands and
the notebooks all call it; only the `run` command prints and writes a results folder.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qmcsim.config.loader import ResolvedRun, load_run
from qmcsim.errors import ConfigError
from qmcsim.runner import SystemResult
from qmcsim.trace.generate import Step

if TYPE_CHECKING:   # imported by the tables' builders (report.py), after the simulation
    import pandas as pd

RESULT_FILES = ("resolved_config.yaml", "summary.csv", "per_step.csv", "traffic.csv",
                "per_memory.csv", "footprint.csv", "contention.csv")


@dataclass(frozen=True, kw_only=True)
class RunResult:
    """Everything one run computed, as tidy tables (one row per system x step, memory, ...).
    The detail tables are built from `systems` when first read (a sweep reads only the
    summary: building them all cost ~0.09 CPU-s per Hymba sweep point)."""

    run: ResolvedRun
    systems: tuple[SystemResult, ...]
    summary: pd.DataFrame        # one row per system, ratios vs the baseline
    resolved_config: dict[str, Any]   # the config, every preset it used, resolved counts

    @cached_property
    def per_step(self) -> pd.DataFrame:
        """system x step (prefill chunk or decode token)"""
        from qmcsim.report import steps_table

        return steps_table(list(self.systems))

    @cached_property
    def traffic(self) -> pd.DataFrame:
        """system x step x memory x traffic class"""
        from qmcsim.report import traffic_table

        return traffic_table(list(self.systems))

    @cached_property
    def per_memory(self) -> pd.DataFrame:
        """system x memory: mean per decode token, endurance"""
        from qmcsim.report import lifetime_table, per_memory_table

        return lifetime_table(list(self.systems), per_memory_table(self.traffic, self.per_step),
                              self.per_step, self.traffic)

    @cached_property
    def footprint(self) -> pd.DataFrame:
        """system x memory: stored weight bits, cells, area"""
        from qmcsim.report import footprint_table

        return footprint_table(list(self.systems))

    @cached_property
    def contention(self) -> pd.DataFrame:
        """system x memory x traffic class over the decode steps"""
        from qmcsim.report import contention_table

        return contention_table(self.traffic, self.per_step)

    @property
    def name(self) -> str:
        return self.run.config.name

    @property
    def baseline(self) -> str:
        return self.run.baseline

    def files(self) -> dict[str, bytes]:
        """The results folder's files, byte-for-byte reproducible."""
        import yaml

        from qmcsim.results import csv_bytes

        return {
            "resolved_config.yaml": yaml.safe_dump(self.resolved_config,
                                                   sort_keys=False).encode(),
            "summary.csv": csv_bytes(self.summary),
            "per_step.csv": csv_bytes(self.per_step),
            "traffic.csv": csv_bytes(self.traffic),
            "per_memory.csv": csv_bytes(self.per_memory),
            "footprint.csv": csv_bytes(self.footprint),
            "contention.csv": csv_bytes(self.contention),
        }

    def write(self, parent: str | Path) -> Path:
        """A new results folder parent/<name>-NNN (atomic; never overwrites an earlier run)."""
        from qmcsim.results import write_results_folder

        return write_results_folder(Path(parent), self.name, self.files())


def run(config: str | Path | ResolvedRun, overrides: Sequence[str] = (), *,
        systems: Sequence[str] | None = None,
        on_start: Callable[[int], None] | None = None,
        on_step: Callable[[Step], None] | None = None,
        jobs: int = 1,
        on_system: Callable[[str, int], None] | None = None,
        while_waiting: Callable[[], None] | None = None) -> RunResult:
    """Simulate a run config (a path, or one already loaded) and return its tables.

    `overrides` are `--set` assignments (`systems.qmc-3bit.format.rho=0.4`); `systems` keeps
    only the named systems (without the baseline the summary has no ratio columns);
    `on_start(total_steps)` is called once everything is validated, `on_step(step)` after each
    simulated step. `jobs` > 1 simulates the systems in that many worker processes at once
    (same results, byte for byte); then `on_step` is not called, `on_system(name, steps)` is
    as each system finishes, and `while_waiting()` once the workers have started (the caller's
    chance to use this process meanwhile). Raises the typed errors of qmcsim.errors on bad
    input."""
    from qmcsim.config.checks import check_prepared
    from qmcsim.runner import (check_stored_trace, prepare, resolved_config, simulate_systems,
                               total_steps)

    if isinstance(config, ResolvedRun):
        if overrides:
            raise ConfigError(config.file, "overrides", "no overrides on a loaded run: pass "
                              "the config's path")
        resolved = config
    else:
        resolved = load_run(config, list(overrides))
    prepared = prepare(resolved)   # every capacity check before anything is simulated
    info = check_stored_trace(resolved)
    check_prepared(resolved, prepared, info)   # auto counts, the trace's address ranges
    if systems is not None:
        known = [s.name for s, _ in prepared]
        unknown = sorted(set(systems) - set(known))
        if unknown or not systems:
            raise ConfigError(resolved.file, "systems", f"system names among {known} expected,"
                              f" got {unknown}")
        prepared = [(s, p) for s, p in prepared if s.name in systems]
    if on_start is not None:
        on_start(len(prepared) * total_steps(resolved, info))
    if jobs < 1:
        raise ConfigError(resolved.file, "jobs", f"a number of worker processes >= 1 expected,"
                          f" got {jobs}")
    results = simulate_systems(resolved, prepared, jobs, on_step, on_system, while_waiting)
    from qmcsim.report import summary_table   # pandas: not needed before the simulation

    return RunResult(
        run=resolved, systems=results,
        summary=summary_table(list(results), resolved.baseline),
        resolved_config=resolved_config(resolved, prepared))
