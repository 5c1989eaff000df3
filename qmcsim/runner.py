"""One run: for each system, place the model, generate its trace (or read the stored one named
by the config's `trace:`) and replay it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import simpy

from qmcsim.config.loader import ResolvedRun, ResolvedSystem
from qmcsim.engine.sampling import decode_stride
from qmcsim.engine.simulate import Replay, SystemTrace
from qmcsim.errors import ConfigError, InternalError, SimulationError
from qmcsim.memories.base import Memory, Request, build_memories, start_phase
from qmcsim.placement import Placement, build_placement
from qmcsim.trace.generate import Step, TraceBuilder, step_count
from qmcsim.trace.store import TraceInfo, read_steps, scan_trace, trace_metadata
from qmcsim.units import ticks_to_ns


@dataclass(frozen=True, kw_only=True)
class SystemResult:
    system: ResolvedSystem
    placement: Placement
    trace: SystemTrace
    external_memories: frozenset[str]
    cold_start: ColdStart


def stored_trace_path(run: ResolvedRun) -> Path | None:
    """The config's `trace:` path, relative to the config file."""
    if run.config.trace is None:
        return None
    path = Path(run.config.trace)
    return path if path.is_absolute() else Path(run.file).parent / path


def check_stored_trace(run: ResolvedRun) -> TraceInfo | None:
    """Validate the stored trace (one streaming pass) and its memory names against every
    system, before anything is simulated."""
    path = stored_trace_path(run)
    if path is None:
        return None
    info = scan_trace(path)
    made_for = trace_metadata(path).get("model")
    if made_for is not None and made_for != run.model.name:
        raise ConfigError(run.file, "trace", f"a trace of model {run.model.name!r} expected; "
                          f"{str(path)!r} was generated for {made_for!r}")
    for system in run.systems:
        missing = sorted(info.memories - set(system.config.memories))
        if missing:
            raise ConfigError(run.file, "trace", f"the trace at {str(path)!r} uses memories "
                              f"{missing} that system {system.name!r} does not have "
                              f"({', '.join(system.config.memories)})")
    return info


def total_steps(run: ResolvedRun, info: TraceInfo | None) -> int:
    return info.steps if info is not None else step_count(run.model, run.config.workload)


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


@dataclass(frozen=True, kw_only=True)
class ColdStart:
    """Power-on until the weights sit in their working memories (NaN: no copy to load from)."""

    time_ns: float
    energy_pj: float


def simulate_cold_start(system: ResolvedSystem, placement: Placement,
                        memories: dict[str, Memory]) -> ColdStart:
    """Stream the persistent copy out of `weights_copy` into every volatile working memory,
    reads and writes overlapping. Non-volatile working memories need no load.

    Power-on is the first phase of the system's memories (built once; `memories` are fresh, on
    an Environment at time zero); the inference that follows is the next phase, from idle
    memories at time zero (`qmcsim.memories.base.start_phase`), so its figures do not depend
    on how the weights were loaded."""
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
    env = memories[copy].env
    if env.now != 0 or any(mem.stats.per_class for mem in memories.values()):
        raise SimulationError(f"system {system.name!r}: the cold start needs fresh memories "
                              f"at time zero (now {env.now} ticks)")
    procs = [env.process(memories[copy].serve(Request(
        address=0, nbytes=sum(volatile.values()), is_write=False, traffic_class="weights")))]
    procs += [env.process(memories[m].serve(Request(address=0, nbytes=n, is_write=True,
                                                    traffic_class="weights")))
              for m, n in volatile.items()]
    everything = env.all_of(procs)
    while not everything.processed:   # stop when the last transfer ends (its time is the result)
        if env.peek() == float("inf"):
            raise SimulationError(f"system {system.name!r}: the cold start stopped at "
                                  f"{ticks_to_ns(env.now)} ns with a transfer no memory "
                                  "completed")
        env.step()
    dynamic = sum(mem.stats.dynamic_energy_pj for mem in memories.values())
    static = sum(mem.static_energy_pj() for mem in memories.values())
    return ColdStart(time_ns=ticks_to_ns(env.now), energy_pj=dynamic + static)


def resolved_config(run: ResolvedRun, prepared: list[tuple[ResolvedSystem, Placement]]
                    ) -> dict[str, object]:
    """The run's resolved config plus the unit count of every memory (after `count: auto`)."""
    out = run.to_dict()
    out["resolved_counts"] = {s.name: dict(p.counts) for s, p in prepared}
    return out


def onchip_capacity_bytes(system: ResolvedSystem, placement: Placement) -> int:
    """Activations that fit here stay on chip: the staging buffer memory if the system has
    one, else the compute preset's on-chip buffer."""
    buffer = system.config.onchip_buffer
    if buffer is None:
        return system.compute.onchip_buffer_bytes
    return placement.hardware[buffer].capacity_bytes


def simulate_system(run: ResolvedRun, system: ResolvedSystem, placement: Placement,
                    on_step: Callable[[Step], None] | None = None) -> SystemResult:
    """Power-on (the cold start), then inference, on the system's memories built once."""
    memories: dict[str, Memory] = build_memories(simpy.Environment(), placement.hardware)
    cold_start = simulate_cold_start(system, placement, memories)
    start_phase(memories, simpy.Environment())   # idle until the first prompt
    trace, external = simulate_inference(run, system, placement, memories, on_step)
    return SystemResult(system=system, placement=placement, trace=trace,
                        external_memories=external, cold_start=cold_start)


def simulate_inference(run: ResolvedRun, system: ResolvedSystem, placement: Placement,
                       memories: dict[str, Memory],
                       on_step: Callable[[Step], None] | None = None
                       ) -> tuple[SystemTrace, frozenset[str]]:
    """The inference phase on `memories`, idle at time zero of their Environment: the
    simulated trace and the names of the external memories."""
    stored = stored_trace_path(run)
    steps: Iterable[Step]
    if stored is not None:
        steps = read_steps(stored)
    else:
        steps = TraceBuilder(run.model, placement, run.config.workload, run.config.accounting,
                             onchip_capacity_bytes(system, placement)).steps()
    replay = Replay(memories, system.compute, system.config.format.compute_precision,
                    system.config.merge_sync_ns,
                    onchip_buffer=system.config.onchip_buffer,
                    batch=run.config.workload.batch,
                    include_static=run.config.accounting == "full",
                    decode_stride=decode_stride(run.config.workload))
    trace = replay.run(steps, on_step=on_step)
    return trace, frozenset(m for m, mem in memories.items() if mem.is_external)


# a worker process's run and placements, handed over at fork (not pickled) by _adopt; a worker
# sends back only a trace or a cold start (the parent keeps its own system and placement objects)
_WORKER: dict[str, object] = {}


def _adopt(run: ResolvedRun, placements: dict[str, Placement]) -> None:
    _WORKER.update(run=run, placements=placements)


def _worker_system(name: str) -> tuple[ResolvedRun, ResolvedSystem, Placement]:
    run = _WORKER["run"]
    placements = _WORKER["placements"]
    if not isinstance(run, ResolvedRun) or not isinstance(placements, dict):
        raise InternalError("a run worker started without its run")
    system = next(s for s in run.systems if s.name == name)
    return run, system, placements[name]


def _cold_start_in_worker(name: str) -> ColdStart:
    """Power-on on memories of its own: a phase ends idle and the next starts from the idle
    state of new memories (`Memory.start_phase`), so power-on and inference are independent
    and a worker can take each."""
    _, system, placement = _worker_system(name)
    memories = build_memories(simpy.Environment(), placement.hardware)
    return simulate_cold_start(system, placement, memories)


def _inference_in_worker(name: str) -> tuple[SystemTrace, frozenset[str]]:
    run, system, placement = _worker_system(name)
    memories = build_memories(simpy.Environment(), placement.hardware)
    start_phase(memories, simpy.Environment())   # as after power-on: a new phase, idle
    return simulate_inference(run, system, placement, memories)


def simulate_systems(run: ResolvedRun, prepared: Sequence[tuple[ResolvedSystem, Placement]],
                     jobs: int = 1, on_step: Callable[[Step], None] | None = None,
                     on_system: Callable[[str, int], None] | None = None,
                     while_waiting: Callable[[], None] | None = None
                     ) -> tuple[SystemResult, ...]:
    """Every prepared system, in order. With jobs > 1 (and more than one system) they run in
    forked worker processes at once; each system's simulation is independent of the others
    (its own Environment and memories), so the results are the same as one after another."""
    from qmcsim.parallel import forks, worker_pool

    workers = min(jobs, len(prepared))
    if workers <= 1 or not forks():
        out = []
        for system, placement in prepared:
            out.append(simulate_system(run, system, placement, on_step))
            if on_system is not None:
                on_system(system.name, len(out[-1].trace.steps))
        return tuple(out)
    with worker_pool(workers, _adopt, (run, {s.name: p for s, p in prepared})) as pool:
        # power-on and inference are separate tasks (the FP16 system's weight load is as
        # long as its inference), so two workers share one system's work
        colds = [pool.submit(_cold_start_in_worker, s.name) for s, _ in prepared]
        inferences = [pool.submit(_inference_in_worker, s.name) for s, _ in prepared]
        if while_waiting is not None:   # the workers are forked by now
            while_waiting()
        done: list[SystemResult] = []
        for (system, placement), cold, inference in zip(prepared, colds, inferences,
                                                         strict=True):
            trace, external = inference.result()
            done.append(SystemResult(system=system, placement=placement, trace=trace,
                                     external_memories=external, cold_start=cold.result()))
            if on_system is not None:
                on_system(system.name, len(trace.steps))
    return tuple(done)
