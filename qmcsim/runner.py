"""One run: for each system, place the model, generate its trace and replay it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import simpy

from qmcsim.config.loader import ResolvedRun, ResolvedSystem
from qmcsim.engine.simulate import Replay, SystemTrace, build_memories
from qmcsim.memories.base import Memory
from qmcsim.placement import Placement, build_placement
from qmcsim.trace.generate import Step, TraceBuilder


@dataclass(frozen=True, kw_only=True)
class SystemResult:
    system: ResolvedSystem
    placement: Placement
    trace: SystemTrace
    external_memories: frozenset[str]


def prepare(run: ResolvedRun) -> list[tuple[ResolvedSystem, Placement]]:
    """Placement (and capacity checks) of every system, before anything is simulated.
    With `weights:` in the config, data-dependent layouts are measured on those weights."""
    layouts: tuple[dict, ...] = tuple({} for _ in run.systems)
    if run.config.weights is not None:
        from pathlib import Path

        from qmcsim.formats.measure import measure_model
        from qmcsim.weights.source import open_weights

        source = open_weights(run.config.weights, run.model, run.config.seed, file=run.file,
                              field_path="weights", base_dir=Path(run.file).parent)
        layouts = measure_model([s.config.format for s in run.systems], run.model, source,
                                run.config.accounting).layouts
    return [(s, build_placement(s, run.model, run.config.workload, run.config.accounting,
                                file=run.file, layouts=lay))
            for s, lay in zip(run.systems, layouts, strict=True)]


def simulate_system(run: ResolvedRun, system: ResolvedSystem, placement: Placement,
                    on_step: Callable[[Step], None] | None = None) -> SystemResult:
    env = simpy.Environment()
    counts = {m: c.count for m, c in system.config.memories.items()}
    memories: dict[str, Memory] = build_memories(env, system.devices, counts)
    builder = TraceBuilder(run.model, placement, run.config.workload, run.config.accounting,
                           system.compute.onchip_buffer_bytes)
    replay = Replay(memories, system.compute, system.config.format.compute_precision,
                    system.config.merge_sync_ns,
                    include_static=run.config.accounting == "full")
    trace = replay.run(builder.steps(), on_step=on_step)
    external = frozenset(m for m, mem in memories.items() if mem.is_external)
    return SystemResult(system=system, placement=placement, trace=trace,
                        external_memories=external)


def simulate(run: ResolvedRun, on_step: Callable[[Step], None] | None = None
             ) -> list[SystemResult]:
    return [simulate_system(run, s, p, on_step) for s, p in prepare(run)]
