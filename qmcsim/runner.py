"""One run: for each system, place the model, generate its trace and replay it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import simpy

from qmcsim.config.loader import ResolvedRun, ResolvedSystem
from qmcsim.engine.simulate import Replay, SystemTrace, build_memories
from qmcsim.memories.base import Memory, Request
from qmcsim.placement import Placement, build_placement
from qmcsim.trace.generate import Step, TraceBuilder
from qmcsim.units import ticks_to_ns


@dataclass(frozen=True, kw_only=True)
class SystemResult:
    system: ResolvedSystem
    placement: Placement
    trace: SystemTrace
    external_memories: frozenset[str]
    cold_start: ColdStart


def prepare(run: ResolvedRun) -> list[tuple[ResolvedSystem, Placement]]:
    """Placement (and capacity checks) of every system, before anything is simulated."""
    return [(s, build_placement(s, run.model, run.config.workload, run.config.accounting,
                                file=run.file)) for s in run.systems]


@dataclass(frozen=True, kw_only=True)
class ColdStart:
    """Power-on until the weights sit in their working memories (NaN: no copy to load from)."""

    time_ns: float
    energy_pj: float


def simulate_cold_start(system: ResolvedSystem, placement: Placement) -> ColdStart:
    """Stream the persistent copy out of `weights_copy` into every volatile working memory,
    reads and writes overlapping. Non-volatile working memories need no load."""
    copy = system.config.placement.weights_copy
    volatile: dict[str, int] = {}
    for components in placement.weights.values():
        for placed in components:
            if system.devices[placed.memory].volatile:
                volatile[placed.memory] = volatile.get(placed.memory, 0) + placed.component.nbytes
    if not volatile:
        return ColdStart(time_ns=0.0, energy_pj=0.0)
    if copy is None:
        return ColdStart(time_ns=float("nan"), energy_pj=float("nan"))
    env = simpy.Environment()
    memories = build_memories(env, system.devices, placement.counts)
    procs = [env.process(memories[copy].serve(Request(
        address=0, nbytes=sum(volatile.values()), is_write=False, traffic_class="weights")))]
    procs += [env.process(memories[m].serve(Request(address=0, nbytes=n, is_write=True,
                                                    traffic_class="weights")))
              for m, n in volatile.items()]
    env.run(env.all_of(procs))
    dynamic = sum(mem.stats.dynamic_energy_pj for mem in memories.values())
    static = sum(mem.static_power_mw for mem in memories.values()) * ticks_to_ns(env.now)
    return ColdStart(time_ns=ticks_to_ns(env.now), energy_pj=dynamic + static)


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
                        external_memories=external,
                        cold_start=simulate_cold_start(system, placement))


def simulate(run: ResolvedRun, on_step: Callable[[Step], None] | None = None
             ) -> list[SystemResult]:
    return [simulate_system(run, s, p, on_step) for s, p in prepare(run)]
