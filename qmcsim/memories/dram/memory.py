"""`kind: dram`: the command-level DRAM model (any registered standard) behind the engine's
Memory interface.

`count` channels share one address space through the address mapping; each channel has its own
ChannelController (an event loop, compiled when built; see controller.py). simpy is used only
at the request boundary: a pump process advances every controller up to the next simpy event
(`env.peek()`), so a request arriving at simulated time T only ever competes with commands at
or after T, and each request's completion is signalled at the exact cycle its last burst's data
has moved.
"""

from __future__ import annotations

from collections.abc import Generator
from functools import partial
from itertools import count as counter
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import simpy

from qmcsim.errors import ConfigError, InternalError, SimulationError
from qmcsim.memories.base import (ClassStats, DeviceParams, Memory, Request, params_as,
                                  register)
from qmcsim.memories.dram.channel import new_controller
from qmcsim.memories.dram.controller import ChannelController
from qmcsim.memories.dram.fast import FastChannels, FastResult
from qmcsim.memories.dram.mapping import AddressMapping
from qmcsim.memories.dram.params import DramParams
from qmcsim.units import BITS_PER_BYTE, cycles_to_ticks

if TYPE_CHECKING:
    from qmcsim.memories.trace_replay import ReplayFigures

INF = float("inf")


def _succeed(event: simpy.Event, _fired: simpy.Event) -> None:
    event.succeed()


def build_controllers(params: DramParams, channels: int, *, log: bool = False
                      ) -> tuple[AddressMapping, list[ChannelController],
                                 list[list[tuple[int, int, int, int]]] | None]:
    """Address mapping and one controller per channel (with command logs if asked)."""
    org = params.org.organisation()
    cp = params.controller
    logs: list[list[tuple[int, int, int, int]]] | None = [[] for _ in range(channels)] \
        if log else None
    ctrls = [new_controller(params, log=logs[i] if logs is not None else None)
             for i in range(channels)]
    return AddressMapping.parse(cp.address_mapping, org, channels), ctrls, logs


def request_bursts(mapping: AddressMapping, address: int, nbytes: int
                   ) -> dict[int, list[tuple[int, int, int]]]:
    """Channel -> the (bank, row, column) bursts a byte range touches, in address order."""
    bb = mapping.org.burst_bytes
    first, last = address // bb, (address + nbytes - 1) // bb
    ch, bank, row, col = mapping.decode(np.arange(first, last + 1, dtype=np.int64) * bb)
    out: dict[int, list[tuple[int, int, int]]] = {}
    for c in np.unique(ch).tolist():
        sel = ch == c
        out[c] = list(zip(bank[sel].tolist(), row[sel].tolist(), col[sel].tolist(), strict=True))
    return out


@register
class DramMemory(Memory):
    kind = "dram"
    params_class = DramParams

    def __init__(self, env: simpy.Environment, name: str, params: DramParams, count: int,
                 *, log_commands: bool = False) -> None:
        super().__init__(env, name, params, count)
        self.dram = params
        self.fast: FastChannels | None = None
        if params.controller.fidelity == "fast" and log_commands:
            raise ConfigError(params.name, "controller.fidelity", f"memory {name!r}: command "
                              "logs need controller.fidelity 'burst'")
        self._log_commands = log_commands
        self.mapping = AddressMapping.parse(params.controller.address_mapping,
                                            params.org.organisation(), count)
        if self.mapping.capacity_bytes != self.capacity_bytes:
            raise ConfigError(params.name, "controller.address_mapping", f"a mapping over "
                              f"{self.capacity_bytes} bytes (count x capacity_bytes) expected, "
                              f"got {self.mapping.capacity_bytes}")
        if params.controller.fidelity == "fast":
            self.fast = FastChannels(params, self.mapping)
        self.t_ck_ns = params.timing.t_ck_ns
        self.controllers: list[ChannelController] = []
        self.command_logs: list[list[tuple[int, int, int, int]]] | None = None
        self.reset_state()

    def reset_state(self) -> None:
        """Idle, as at power-on: every bank precharged, queues empty, refresh schedule and
        standby counters from cycle zero of the phase (see Memory.start_phase)."""
        if self.fast is not None:
            self.fast.reset()
        else:
            _, self.controllers, self.command_logs = build_controllers(
                self.dram, self.count, log=self._log_commands)
        self._tags = counter(1)
        self._waiting: dict[int, tuple[simpy.Event, Request, float, int]] = {}
        self._wake = self.env.event()
        self._cycle = 0  # controllers have been advanced up to (not including) this cycle
        self._batch_cycle = -1  # fast mode: the requests that arrived at this cycle
        self._batch: list[tuple[bool, FastResult]] = []
        if self.fast is None:
            self.env.process(self._pump())

    def busy(self) -> bool:
        if self.fast is not None:   # a channel still moving data after now
            return bool((self.fast.free > self._cycles_at(self.env.now)).any())
        return bool(self._waiting) or any(c.busy() for c in self.controllers)

    # ---- time conversion (the one place: qmcsim.units)
    def _ticks(self, cycles: float) -> float:
        return cycles_to_ticks(cycles, self.t_ck_ns)

    def _cycles_at(self, ticks: float) -> int:
        return int(-(-ticks // self._ticks(1)))  # first cycle at or after `ticks`

    def serve(self, request: Request) -> Generator[simpy.Event, object, None]:
        if request.address + request.nbytes > self.capacity_bytes:   # placement checks it
            raise SimulationError(f"request [{request.address}, +{request.nbytes}) outside "
                                  f"memory {self.name!r} of {self.capacity_bytes} bytes")
        now_cycle = self._cycles_at(self.env.now)
        if self.fast is not None:
            yield from self._serve_fast(request, now_cycle)
            return
        self._advance(now_cycle)
        tag = next(self._tags)
        parts = request_bursts(self.mapping, request.address, request.nbytes)
        done = self.env.event()
        self._waiting[tag] = (done, request, self.env.now, len(parts))
        for ch, bursts in parts.items():
            self.controllers[ch].push(tag, now_cycle, bursts, request.is_write)
        if not self._wake.triggered:
            self._wake.succeed()
        yield done

    def _serve_fast(self, request: Request, now_cycle: int
                    ) -> Generator[simpy.Event, object, None]:
        """A request's cost from fast mode. Reads and writes that arrive at the same cycle and
        share a channel finish together: the burst controller's write draining (watermarks)
        interleaves the two streams, so each ends with the pair (measured in
        tests/dram/test_fast_vs_burst.py), not one after the other as in the channel FIFO."""
        if self.fast is None:
            raise InternalError(f"memory {self.name!r}: fast-mode request in burst mode")
        res = self.fast.serve(request.address, request.nbytes, request.is_write, now_cycle)
        arrived = self.env.now
        if self._batch_cycle != now_cycle:
            self._batch_cycle, self._batch = now_cycle, []
        batch = self._batch
        batch.append((request.is_write, res))
        yield self.env.timeout(0)   # the other requests of this instant register first
        done_cycle = res.done_cycle
        for is_write, other in batch:
            if is_write != request.is_write and other.channels & res.channels:
                done_cycle = max(done_cycle, other.done_cycle)
        done_ticks = self._ticks(done_cycle)
        self.record(request, row_hits=res.hits, row_misses=res.misses,
                    row_conflicts=res.conflicts,
                    queue_ticks=max(0.0, self._ticks(res.first_cycle) - arrived),
                    energy_pj=self._request_energy_pj(request, res.misses + res.conflicts),
                    busy_ticks=done_ticks - arrived)
        yield self.env.timeout(max(0.0, done_ticks - self.env.now))

    def _request_energy_pj(self, req: Request, activations: int) -> float:
        """ACT+PRE per activation, core + I/O energy per bit moved (both fidelities)."""
        p = self.dram.energy
        bits = req.nbytes * BITS_PER_BYTE
        if req.is_write:
            per_bit = p.write_core_pj_per_bit + p.write_io_pj_per_bit
        else:
            per_bit = p.read_core_pj_per_bit + p.read_io_pj_per_bit
        return p.act_pre_pj * activations + bits * per_bit

    def _advance(self, until_cycle: float) -> None:
        for ctrl in self.controllers:
            ctrl.run(until=until_cycle, final=True)
            if ctrl.finished:
                for tag, first, done_cycle, hits, misses, conflicts in ctrl.finished:
                    self._part_done(tag, first, done_cycle, hits, misses, conflicts)
                ctrl.finished.clear()
        if until_cycle > self._cycle:
            self._cycle = int(min(until_cycle, 2**62))

    def _part_done(self, tag: int, first: int, done_cycle: int, hits: int, misses: int,
                   conflicts: int) -> None:
        event, req, arrived, parts = self._waiting[tag]
        self.record(req, row_hits=hits, row_misses=misses, row_conflicts=conflicts,
                    energy_pj=self._request_energy_pj(req, misses + conflicts) if parts == 1
                    else self.dram.energy.act_pre_pj * (misses + conflicts), complete=False)
        # queueing: arrival to the request's first command on any channel, once per request
        # (fast mode counts the same)
        first_ticks = min(self._ticks(first), getattr(event, "_qmc_first", INF))
        event._qmc_first = first_ticks  # type: ignore[attr-defined]
        done_ticks = max(self._ticks(done_cycle), getattr(event, "_qmc_done", 0.0))
        event._qmc_done = done_ticks  # type: ignore[attr-defined]
        if parts > 1:
            self._waiting[tag] = (event, req, arrived, parts - 1)
            return
        del self._waiting[tag]
        self.record(req, busy_ticks=done_ticks - arrived,
                    queue_ticks=max(0.0, first_ticks - arrived))
        delay = max(0.0, done_ticks - self.env.now)
        self.env.timeout(delay).callbacks.append(partial(_succeed, event))

    def _pump(self) -> Generator[simpy.Event, object, None]:
        env = self.env
        while True:
            if not any(c.busy() for c in self.controllers):
                self._wake = env.event()
                yield self._wake
                continue
            horizon = env.peek()
            target = self._cycles_at(horizon) if horizon < INF else INF
            self._advance(target)
            if target == INF:
                continue
            self._wake = env.event()
            wait = max(0.0, horizon - env.now)
            yield env.timeout(wait) | self._wake
            if wait == 0.0:
                yield env.timeout(self._ticks(1))

    # ---- energy not attributable to one traffic class
    def static_energy_pj(self) -> float:
        """Background (standby) and refresh energy of every channel up to now."""
        return self.background_energy_pj() + self.refresh_energy_pj()

    def refresh_energy_pj(self) -> float:
        e = self.dram.energy
        if self.fast is not None:
            per = e.refresh_pb_pj if self.dram.spec.is_partial(self.dram.controller.refresh) \
                else e.refresh_ab_pj
            return self.fast.refreshes(self._cycles_at(self.env.now)) * per
        # an idle controller issues the refreshes due while it waited only when next advanced:
        # advance it to now, so both fidelities count every refresh due by now
        self._advance(self._cycles_at(self.env.now))
        return sum(c.counters.refresh_ab * e.refresh_ab_pj + c.counters.refresh_pb * e.refresh_pb_pj
                   for c in self.controllers)

    def background_energy_pj(self) -> float:
        """Standby energy of all channels up to now: active standby while a bank is open."""
        e = self.dram.energy
        now = self._cycles_at(self.env.now)
        if self.fast is not None:
            open_c = self.fast.open_cycles(now)
            return (open_c * e.active_standby_mw
                    + (now * self.count - open_c) * e.precharge_standby_mw) * self.t_ck_ns
        total = 0.0
        for c in self.controllers:
            open_c = min(c.open_cycles(now), now)
            total += (open_c * e.active_standby_mw + (now - open_c) * e.precharge_standby_mw)
        return total * self.t_ck_ns  # mW x ns = pJ

    # ---- technology contract: plain traces replay through the controllers, arrivals in CK
    @classmethod
    def replay_trace(cls, path: Path, params: DeviceParams, *, channels: int,
                     request_bytes: int | None, outstanding: int | None = None
                     ) -> ReplayFigures:
        from qmcsim.memories.dram.replay import replay

        params = params_as(params, DramParams)
        bb = params.org.organisation().burst_bytes
        if request_bytes is not None and (request_bytes < bb or request_bytes % bb):
            raise ConfigError("--request-bytes", "", f"a multiple of the {bb}-byte burst "
                              f"expected, got {request_bytes}")
        return replay(path, params, channels=channels, request_bytes=request_bytes,
                      outstanding=outstanding)


__all__ = ["ClassStats", "DramMemory", "build_controllers", "request_bursts"]
