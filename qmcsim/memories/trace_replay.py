"""A plain request trace through any memory's `serve` on a simpy Environment (the default
`Memory.replay_trace`; the command-level DRAM replays through its controllers instead)."""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import simpy

from qmcsim.errors import ConfigError
from qmcsim.units import ns_to_ticks, ticks_to_ns

if TYPE_CHECKING:
    from qmcsim.memories.base import DeviceParams, Memory


class ReplayFigures(Protocol):
    """What every technology's `replay_trace` reports."""

    @property
    def requests(self) -> int: ...
    @property
    def bytes(self) -> int: ...
    @property
    def simulated_ns(self) -> float: ...
    @property
    def bandwidth_gb_per_s(self) -> float: ...
    @property
    def mean_read_latency_ns(self) -> float: ...
    @property
    def row_hit_rate(self) -> float | None: ...
    @property
    def requests_per_s(self) -> float: ...


DEFAULT_OUTSTANDING = 32   # requests in flight without a queue model (LPDDR5's read queue)


@dataclass(frozen=True, kw_only=True)
class TraceReplay:
    """What a replay measured (the fields the `replay` command prints)."""

    requests: int
    reads: int
    writes: int
    request_bytes: int
    bytes: int
    outstanding: int               # requests in flight at most
    simulated_ns: float
    bandwidth_gb_per_s: float
    mean_read_latency_ns: float    # admission (a free slot) -> completion, reads only
    p50_read_latency_ns: float
    p95_read_latency_ns: float
    p99_read_latency_ns: float
    max_read_latency_ns: float
    mean_frontend_wait_ns: float   # arrival -> admission
    row_hit_rate: float | None    # None: the technology has no row buffer
    requests_per_s: float         # wall-clock simulation speed


def replay_through_serve(path: Path, technology: type[Memory], params: DeviceParams,
                         channels: int, request_bytes: int,
                         outstanding: int = DEFAULT_OUTSTANDING) -> TraceReplay:
    """Each trace line one request of `request_bytes`, arriving at its time in ns (or at 0);
    at most `outstanding` in flight; latency from admission to completion."""
    import numpy as np

    from qmcsim.memories.base import Request
    from qmcsim.memories.dram.replay import read_trace

    if request_bytes < 1:
        raise ConfigError("--request-bytes", "", f"a positive size expected, got {request_bytes}")
    env = simpy.Environment()
    mem = technology(env, "m", params, channels)
    slots = simpy.Resource(env, capacity=outstanding)
    latencies: list[float] = []
    waits = [0.0]
    count = [0]

    def one(address: int, is_write: bool, arrived: float
            ) -> Generator[simpy.Event, object, None]:
        with slots.request() as slot:
            yield slot
            start = env.now
            waits[0] += ticks_to_ns(start - arrived)
            yield env.process(mem.serve(Request(address=address, nbytes=request_bytes,
                                                is_write=is_write, traffic_class="trace")))
        if not is_write:
            latencies.append(ticks_to_ns(env.now - start))

    def feeder() -> Generator[simpy.Event, object, None]:
        for address, is_write, arrival in read_trace(path):
            if arrival is not None and ns_to_ticks(arrival) > env.now:
                yield env.timeout(ns_to_ticks(arrival) - env.now)
            env.process(one(address, is_write, env.now))
            count[0] += 1
            if count[0] % 4096 == 0:      # let the queue drain: bounded memory
                yield env.timeout(0)

    wall = time.perf_counter()
    env.process(feeder())
    env.run()
    wall = time.perf_counter() - wall
    total = count[0] * request_bytes
    sim_ns = ticks_to_ns(env.now)
    n = count[0]
    lat = np.asarray(latencies) if latencies else np.full(1, np.nan)

    def pct(q: float) -> float:
        return float(np.percentile(lat, q, method="inverted_cdf")) if latencies \
            else float("nan")

    return TraceReplay(
        requests=n, reads=len(latencies), writes=n - len(latencies),
        request_bytes=request_bytes, bytes=total, outstanding=outstanding, simulated_ns=sim_ns,
        bandwidth_gb_per_s=total / sim_ns if sim_ns else 0.0,
        mean_read_latency_ns=float(lat.mean()), p50_read_latency_ns=pct(50),
        p95_read_latency_ns=pct(95), p99_read_latency_ns=pct(99),
        max_read_latency_ns=float(lat.max()),
        mean_frontend_wait_ns=waits[0] / n if n else 0.0,
        row_hit_rate=None, requests_per_s=n / wall if wall else 0.0)
