"""Replay a system's trace on one simpy Environment.

Operators run one after another; inside an operator every memory request and the compute run
concurrently (roofline overlap), so an operator lasts as long as its slowest part. When one
operator's weights come from several memories (QMC: ReRAM inliers + MRAM outliers) the merge
adds the dual-clock FIFO crossing after the slower stream (QMC Eq. 3).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass

import simpy

from qmcsim.compute import ComputeParams
from qmcsim.compute.kernels import op_energy_pj, op_time_ns, op_work
from qmcsim.errors import SimulationError
from qmcsim.memories.base import ClassStats, Memory, Request
from qmcsim.trace.generate import OpStep, Step, merge_weight_reads
from qmcsim.units import ns_to_ticks, ticks_to_ns


@dataclass(frozen=True, kw_only=True)
class StepRecord:
    step: int
    phase: str
    tokens: int
    context: int
    time_ns: float


@dataclass(frozen=True, kw_only=True)
class TrafficRecord:
    """One step's traffic of one class through one memory (class 'static' = leakage)."""

    step: int
    memory: str
    traffic_class: str
    read_bytes: int
    write_bytes: int
    requests: int
    energy_pj: float
    busy_ns: float
    queue_ns: float
    row_hits: int = 0        # DRAM bursts: served from an open row
    row_misses: int = 0      # activated a closed bank
    row_conflicts: int = 0   # closed another row first


@dataclass(frozen=True, kw_only=True)
class SystemTrace:
    steps: tuple[StepRecord, ...]
    traffic: tuple[TrafficRecord, ...]


class Replay:
    def __init__(self, memories: dict[str, Memory], compute: ComputeParams,
                 precision: str, merge_sync_ns: float, include_static: bool,
                 onchip_buffer: str | None = None, batch: int = 1) -> None:
        self.memories = memories
        self.env = next(iter(memories.values())).env
        self.compute = compute
        self.precision = precision
        self.merge_sync_ticks = ns_to_ticks(merge_sync_ns)
        self.include_static = include_static
        self.onchip_buffer = onchip_buffer
        self._static_seen: dict[str, float] = {}
        self.batch = batch
        self._compute_pj = 0.0    # accelerator energy so far (calibrated presets only)
        self._compute_seen_pj = 0.0

    def _after(self, event: simpy.Event, ticks: float) -> Generator[simpy.Event, object, None]:
        yield event
        yield self.env.timeout(ticks)

    def _op(self, op: OpStep, tokens: int) -> Generator[simpy.Event, object, None]:
        env = self.env
        weights: list[simpy.Process] = []
        others: list[simpy.Event] = []
        for a in merge_weight_reads(op.accesses):
            request = Request(address=a.address, nbytes=a.nbytes, is_write=a.is_write,
                              traffic_class=a.traffic_class)
            proc = env.process(self.memories[a.memory].serve(request))
            (weights if a.traffic_class == "weights" else others).append(proc)
            if self.onchip_buffer is not None and a.memory != self.onchip_buffer:
                others.extend(self._staged(self.onchip_buffer, request))
        waits = list(others)
        if len(weights) > 1 and self.merge_sync_ticks > 0:
            waits.append(env.process(self._after(env.all_of(weights), self.merge_sync_ticks)))
        else:
            waits.extend(weights)
        if self.compute.kernels is None:   # ideal roofline: compute overlaps the streams
            if op.flops:
                waits.append(env.timeout(ns_to_ticks(
                    op.flops / self.compute.peak_flops_per_ns(self.precision))))
            if waits:
                yield env.all_of(waits)
            return
        start = env.now   # calibrated: qmcsim.compute.kernels times the operator
        if waits:
            yield env.all_of(waits)
        work = op_work(op, tokens, self.batch, self.compute.kernels.launches)
        total = ns_to_ticks(op_time_ns(work, ticks_to_ns(env.now - start), self.compute))
        self._compute_pj += op_energy_pj(work, self.compute)
        if total > env.now - start:
            yield env.timeout(total - (env.now - start))

    def _staged(self, buffer: str, request: Request) -> list[simpy.Process]:
        """The on-chip buffer between memories and compute: every byte streamed in is written
        into it and read by the compute; every byte going out is written by the compute and
        read out of it. Both run alongside the memory stream (double buffering)."""
        return [self.env.process(self.memories[buffer].serve(Request(
            address=0, nbytes=request.nbytes, is_write=is_write,
            traffic_class=request.traffic_class))) for is_write in (True, False)]

    def _snapshot(self) -> dict[tuple[str, str], ClassStats]:
        return {(m, c): copy.copy(s) for m, mem in self.memories.items()
                for c, s in mem.stats.per_class.items()}

    def run(self, steps: Iterable[Step], on_step: Callable[[Step], None] | None = None
            ) -> SystemTrace:
        records: list[StepRecord] = []
        traffic: list[TrafficRecord] = []
        current: list[Step] = []
        done = [False]

        def body() -> Generator[simpy.Event, object, None]:
            for step in steps:
                current[:] = [step]
                before, start = self._snapshot(), self.env.now
                for op in step.ops:
                    yield self.env.process(self._op(op, step.tokens))
                elapsed_ns = ticks_to_ns(self.env.now - start)
                records.append(StepRecord(step=step.index, phase=step.phase, tokens=step.tokens,
                                          context=step.context, time_ns=elapsed_ns))
                traffic.extend(self._deltas(step.index, before, elapsed_ns))
                if on_step is not None:
                    on_step(step)
            done[0] = True

        self.env.process(body())
        self.env.run()
        if not done[0]:   # no event left, yet a request never completed
            where = f"step {current[0].index}" if current else "the first step"
            raise SimulationError(f"the replay stopped in {where} at {ticks_to_ns(self.env.now)}"
                                  " ns with a request no memory completed")
        return SystemTrace(steps=tuple(records), traffic=tuple(traffic))

    def _deltas(self, step: int, before: dict[tuple[str, str], ClassStats],
                elapsed_ns: float) -> list[TrafficRecord]:
        rows = []
        for (mem, cls), now in sorted(self._snapshot().items()):
            old = before.get((mem, cls), ClassStats())
            if now.requests == old.requests:
                continue
            rows.append(TrafficRecord(
                step=step, memory=mem, traffic_class=cls,
                read_bytes=now.read_bytes - old.read_bytes,
                write_bytes=now.write_bytes - old.write_bytes,
                requests=now.requests - old.requests,
                energy_pj=now.dynamic_energy_pj - old.dynamic_energy_pj,
                busy_ns=ticks_to_ns(now.busy_ticks - old.busy_ticks),
                queue_ns=ticks_to_ns(now.queue_ticks - old.queue_ticks),
                row_hits=now.row_hits - old.row_hits,
                row_misses=now.row_misses - old.row_misses,
                row_conflicts=now.row_conflicts - old.row_conflicts))
        if self.compute.energy is not None:
            rows.append(TrafficRecord(step=step, memory="accelerator", traffic_class="compute",
                                      read_bytes=0, write_bytes=0, requests=0,
                                      energy_pj=self._compute_pj - self._compute_seen_pj,
                                      busy_ns=0.0, queue_ns=0.0))
            self._compute_seen_pj = self._compute_pj
        if self.include_static:
            for name, memory in sorted(self.memories.items()):
                total = memory.static_energy_pj()
                rows.append(TrafficRecord(step=step, memory=name, traffic_class="static",
                                          read_bytes=0, write_bytes=0, requests=0,
                                          energy_pj=total - self._static_seen.get(name, 0.0),
                                          busy_ns=0.0, queue_ns=0.0))
                self._static_seen[name] = total
        return rows
