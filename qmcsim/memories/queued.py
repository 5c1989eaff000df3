"""Latency + bandwidth + queueing: the QMC study's Eq. 3 device model, T = t_access + s/b + t_queue.

The `count` units are striped, so together they act as one server of bandwidth
min(count x per-unit bandwidth, interface cap). Requests queue first-come first-served for that
server; the access latency is pipelined (it delays completion, not the next transfer).
Technology modules subclass this until they get a deeper timing model of their own.
"""

from __future__ import annotations

from collections.abc import Generator

import simpy

from qmcsim.memories.base import DeviceParams, Memory, Request
from qmcsim.units import BITS_PER_BYTE, ns_to_ticks, transfer_ticks


def aggregate_bandwidth_gb_per_s(per_unit: float, count: int, cap: float | None) -> float:
    total = per_unit * count
    return min(total, cap) if cap is not None else total


def unloaded_access_ns(nbytes: int, latency_ns: float, bandwidth_gb_per_s: float) -> float:
    """Analytic oracle: one request on an idle memory."""
    return latency_ns + nbytes / bandwidth_gb_per_s


class QueuedMemory(Memory):
    def __init__(self, env: simpy.Environment, name: str, params: DeviceParams, count: int) -> None:
        super().__init__(env, name, params, count)
        self.reset_state()
        cap = params.interface_bandwidth_gb_per_s
        self.read_bandwidth_gb_per_s = aggregate_bandwidth_gb_per_s(
            params.read_bandwidth_gb_per_s, count, cap)
        self.write_bandwidth_gb_per_s = aggregate_bandwidth_gb_per_s(
            params.write_bandwidth_gb_per_s, count, cap)

    def reset_state(self) -> None:
        self._server = simpy.Resource(self.env, capacity=1)

    def busy(self) -> bool:
        # the access latency after the transfer is pipelined: it holds no device state
        return bool(self._server.count or self._server.queue)

    def transfer_bytes(self, nbytes: int) -> int:
        """Bytes the device actually moves for a request (page-granular devices round up)."""
        return nbytes

    def serve(self, request: Request) -> Generator[simpy.Event, object, None]:
        p = self.params
        arrived = self.env.now
        if request.is_write:
            bandwidth, latency_ns, pj_per_bit = (self.write_bandwidth_gb_per_s,
                                                 p.write_latency_ns, p.write_energy_pj_per_bit)
        else:
            bandwidth, latency_ns, pj_per_bit = (self.read_bandwidth_gb_per_s,
                                                 p.read_latency_ns, p.read_energy_pj_per_bit)
        moved = self.transfer_bytes(request.nbytes)
        occupancy = transfer_ticks(moved, bandwidth)
        with self._server.request() as slot:
            yield slot
            started = self.env.now
            yield self.env.timeout(occupancy)
        yield self.env.timeout(ns_to_ticks(latency_ns))
        self.record(request, energy_pj=moved * BITS_PER_BYTE * pj_per_bit, busy_ticks=occupancy,
                    queue_ticks=started - arrived)
