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
    """Placement (and capacity checks) of every system, before anything is simulated."""
    return [(s, build_placement(s, run.model, run.config.workload, run.config.accounting,
                                file=run.file)) for s in run.systems]


def resolved_config(run: ResolvedRun, prepared: list[tuple[ResolvedSystem, Placement]]
                    ) -> dict[str, object]:
    """The run's resolved config plus the unit count of every memory (after `count: auto`)."""
    out = run.to_dict()
    out["resolved_counts"] = {s.name: dict(p.counts) for s, p in prepared}
    return out


def simulate_system(run: ResolvedRun, system: ResolvedSystem, placement: Placement,
                    on_step: Callable[[Step], None] | None = None) -> SystemResult:
    env = simpy.Environment()
    memories: dict[str, Memory] = build_memories(env, system.devices, placement.counts)
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
