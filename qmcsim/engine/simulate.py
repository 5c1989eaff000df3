"""Replay a system's trace on one simpy Environment.

Operators run one after another; inside an operator every memory request and the compute run
concurrently (roofline overlap), so an operator lasts as long as its slowest part. When one
operator's weights come from several memories (QMC: ReRAM inliers + MRAM outliers) the merge
adds the dual-clock FIFO crossing after the slower stream (QMC Eq. 3).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass

import simpy

from qmcsim.compute import ComputeParams
from qmcsim.compute.kernels import op_energy_pj, op_time_ns, op_work
from qmcsim.engine.counts import StepCounts
from qmcsim.engine.sampling import fractions, lerp, lerp_int
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
    simulated: bool = True  # False: a decode step interpolated between simulated ones


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
                 onchip_buffer: str | None = None, batch: int = 1,
                 decode_stride: int = 1) -> None:
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
        if decode_stride < 1:
            raise SimulationError(f'"decode_stride" must be >= 1, got {decode_stride}')
        self.decode_stride = decode_stride  # 1: every decode token simulated (exhaustive)
        self._counter = StepCounts(onchip_buffer)

    def _after(self, event: simpy.Event, ticks: float) -> Generator[simpy.Event, object, None]:
        yield event
        yield self.env.timeout(ticks)

    def _requests(self, op: OpStep) -> Iterator[tuple[str, Request, bool]]:
        """The requests an operator issues: (memory, request, is a weight stream), staging
        buffer traffic included."""
        for a in merge_weight_reads(op.accesses):
            request = Request(address=a.address, nbytes=a.nbytes, is_write=a.is_write,
                              traffic_class=a.traffic_class)
            yield a.memory, request, a.traffic_class == "weights"
            if self.onchip_buffer is not None and a.memory != self.onchip_buffer:
                yield from self._staged(self.onchip_buffer, request)

    def _op(self, op: OpStep, tokens: int) -> Generator[simpy.Event, object, None]:
        env = self.env
        weights: list[simpy.Process] = []
        others: list[simpy.Event] = []
        for memory, request, is_weight in self._requests(op):
            proc = env.process(self.memories[memory].serve(request))
            (weights if is_weight else others).append(proc)
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

    def _staged(self, buffer: str, request: Request) -> Iterator[tuple[str, Request, bool]]:
        """The on-chip buffer between memories and compute: every byte streamed in is written
        into it and read by the compute; every byte going out is written by the compute and
        read out of it. Both run alongside the memory stream (double buffering)."""
        for is_write in (True, False):
            yield buffer, Request(address=0, nbytes=request.nbytes, is_write=is_write,
                                  traffic_class=request.traffic_class), False

    def _snapshot(self) -> dict[tuple[str, str], ClassStats]:
        return {(m, c): copy.copy(s) for m, mem in self.memories.items()
                for c, s in mem.stats.per_class.items()}

    def run(self, steps: Iterable[Step], on_step: Callable[[Step], None] | None = None
            ) -> SystemTrace:
        """Every step in order. With decode_stride > 1, decode tokens 0, stride, 2 x stride,
        ... and the last are simulated; the ones between are interpolated (engine/sampling.py)
        while the simulated clock moves on by their estimated time."""
        records: list[StepRecord] = []
        traffic: list[TrafficRecord] = []
        current: list[Step] = []
        finished = [False]
        pending: list[tuple[Step, dict[tuple[str, str], ClassStats]]] = []
        decoded = 0  # decode steps seen

        def simulate(step: Step) -> Generator[simpy.Event, object, None]:
            current[:] = [step]
            before, start = self._snapshot(), self.env.now
            for op in step.ops:
                yield self.env.process(self._op(op, step.tokens))
            elapsed_ns = ticks_to_ns(self.env.now - start)
            records.append(StepRecord(step=step.index, phase=step.phase, tokens=step.tokens,
                                      context=step.context, time_ns=elapsed_ns))
            traffic.extend(self._deltas(step.index, before, elapsed_ns))

        def done(step: Step) -> None:
            if on_step is not None:
                on_step(step)

        def flush() -> Generator[simpy.Event, object, None]:
            """Simulate the last pending step, interpolate the others between it and the
            simulated decode step before them."""
            last, _ = pending.pop()
            skipped = list(pending)
            pending.clear()
            if not skipped:
                yield from simulate(last)
                done(last)
                return
            prev = len(records) - 1
            # the skipped tokens' time passes before the simulated one starts; their static
            # energy is interpolated, not charged to the simulated step
            yield self.env.timeout(ns_to_ticks(records[prev].time_ns * len(skipped)))
            for name, memory in self.memories.items():
                self._static_seen[name] = memory.static_energy_pj()
            yield from simulate(last)
            a_step, b_step = records[prev], records[-1]
            a_rows = [r for r in traffic if r.step == a_step.step]
            b_rows = traffic[len(traffic) - sum(1 for r in reversed(traffic)
                                                if r.step == b_step.step):]
            del records[-1], traffic[len(traffic) - len(b_rows):]
            span = len(skipped) + 1
            for (step, counts), (_, frac) in zip(skipped, fractions(0, span), strict=False):
                records.append(StepRecord(step=step.index, phase=step.phase, tokens=step.tokens,
                                          context=step.context, simulated=False,
                                          time_ns=lerp(a_step.time_ns, b_step.time_ns, frac)))
                traffic.extend(self._interpolated(step.index, counts, a_rows, b_rows, frac))
                done(step)
            records.append(b_step)
            traffic.extend(b_rows)
            done(last)

        def body() -> Generator[simpy.Event, object, None]:
            nonlocal decoded
            for step in steps:
                if step.phase == "decode":
                    skip = self.decode_stride > 1 and decoded % self.decode_stride != 0
                    decoded += 1
                    pending.append((step, self._counter.of(step) if skip else {}))
                    if not skip:
                        yield from flush()
                    continue
                if pending:
                    yield from flush()
                yield from simulate(step)
                done(step)
            if pending:   # the last decode token is always simulated
                yield from flush()
            finished[0] = True

        self.env.process(body())
        self.env.run()
        if not finished[0]:   # no event left, yet a request never completed
            where = f"step {current[0].index}" if current else "the first step"
            raise SimulationError(f"the replay stopped in {where} at {ticks_to_ns(self.env.now)}"
                                  " ns with a request no memory completed")
        return SystemTrace(steps=tuple(records), traffic=tuple(traffic))

    def _interpolated(self, step: int, counts: dict[tuple[str, str], ClassStats],
                      a_rows: list[TrafficRecord], b_rows: list[TrafficRecord],
                      frac: float) -> list[TrafficRecord]:
        """A skipped step's traffic rows: exact bytes and requests, the rest interpolated."""
        a = {(r.memory, r.traffic_class): r for r in a_rows}
        b = {(r.memory, r.traffic_class): r for r in b_rows}
        zero = TrafficRecord(step=step, memory="", traffic_class="", read_bytes=0,
                             write_bytes=0, requests=0, energy_pj=0.0, busy_ns=0.0,
                             queue_ns=0.0)
        keys = sorted(counts)
        if self.compute.energy is not None:   # accelerator energy: interpolated like the rest
            keys.append(("accelerator", "compute"))
        if self.include_static:
            keys += [(name, "static") for name in sorted(self.memories)]
        rows = []
        for key in keys:
            ra, rb = a.get(key, zero), b.get(key, zero)
            exact = counts.get(key, ClassStats())
            rows.append(TrafficRecord(
                step=step, memory=key[0], traffic_class=key[1],
                read_bytes=exact.read_bytes, write_bytes=exact.write_bytes,
                requests=exact.requests, energy_pj=lerp(ra.energy_pj, rb.energy_pj, frac),
                busy_ns=lerp(ra.busy_ns, rb.busy_ns, frac),
                queue_ns=lerp(ra.queue_ns, rb.queue_ns, frac),
                row_hits=lerp_int(ra.row_hits, rb.row_hits, frac),
                row_misses=lerp_int(ra.row_misses, rb.row_misses, frac),
                row_conflicts=lerp_int(ra.row_conflicts, rb.row_conflicts, frac)))
        return rows

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
