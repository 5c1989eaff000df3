"""Replay a plain memory request trace through one DRAM memory (burst fidelity), as a front
end of the kind other DRAM simulators have.

Formats, read line by line (a trace never has to fit in memory):
- Ramulator LoadStoreTrace text: `LD 0x1f40` / `ST 0x1f80`, one request per line;
- CSV: `address,R|W[,arrival_cycle]` (an optional header line starting with "address"),
  addresses decimal or 0x-hex, arrival in memory clock (CK) cycles.

Each line is one request of `request_bytes` (default 64 B, the cache line of a
LoadStoreTrace, for every memory kind); the controller splits it into bursts.

Admission: a request enters its channel's read or write queue when the queue has room and
its arrival cycle has come (without arrivals: as early as the queues allow, i.e. a saturating
stream). With `outstanding=N` the front end also keeps at most N requests in flight (issued
and not completed), like a core's miss-status registers, and issues the next one when one
completes. Read latency is measured from admission (the request's first burst entering the
queue) to its last data beat, as Ramulator and DRAMSim3 measure it; the wait in front of
the queue (arrival to admission) is reported apart.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import numpy as np

from qmcsim.errors import ConfigError, TraceError
from qmcsim.memories.dram.controller import CONFLICT, E_ARR, E_BANK, E_KIND, E_TAG, MISS
from qmcsim.memories.dram.memory import build_controllers
from qmcsim.memories.dram.params import DramParams, timing_cycles

CHUNK = 4096
DEFAULT_REQUEST_BYTES = 64


@dataclass(frozen=True, kw_only=True)
class BankCounters:
    """Bursts served by one bank of one channel, by row-buffer outcome."""

    channel: int
    bank: int
    reads: int
    writes: int
    row_hits: int
    row_misses: int  # bank idle (precharged): ACT then column
    row_conflicts: int  # another row open: PRE, ACT, column


@dataclass(frozen=True, kw_only=True)
class ReplayResult:
    requests: int
    reads: int
    writes: int
    request_bytes: int
    bytes: int
    outstanding: int | None  # front-end limit on requests in flight (None: queues only)
    simulated_ns: float  # last data beat of the last request
    bandwidth_gb_per_s: float  # bytes / simulated time
    mean_read_latency_ns: float  # admission to last data beat, reads only
    p50_read_latency_ns: float
    p95_read_latency_ns: float
    p99_read_latency_ns: float
    max_read_latency_ns: float
    mean_frontend_wait_ns: float  # arrival (trace or front end) to admission, all requests
    row_hit_rate: float  # row hits / bursts
    row_hits: int
    row_misses: int
    row_conflicts: int
    activates: int
    refreshes: int
    wall_s: float
    requests_per_s: float  # wall-clock simulation speed
    banks: tuple[BankCounters, ...] = field(default=())


def _parse_int(text: str, file: str, row: int, column: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise TraceError(file, row, column, f"expected an integer, got {text!r}") from None
    if value < 0:
        raise TraceError(file, row, column, f"expected a non-negative integer, got {value}")
    return value


def read_trace(path: str | Path) -> Iterator[tuple[int, bool, int | None]]:
    """(address, is_write, arrival cycle or None) per line, streaming."""
    file = str(path)
    is_csv = file.lower().endswith(".csv")
    try:
        fh = open(path, encoding="utf-8")  # noqa: SIM115 (closed by the with below)
    except OSError as exc:
        raise TraceError(file, None, None, f"cannot open trace ({exc.strerror})") from None
    with fh:
        for row, line in enumerate(fh, start=1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            if is_csv:
                cols = [c.strip() for c in text.split(",")]
                if row == 1 and cols[0].lower() == "address":
                    continue
                if len(cols) not in (2, 3):
                    raise TraceError(file, row, None, "expected address,R|W[,arrival_cycle]")
                addr = _parse_int(cols[0], file, row, "address")
                op = cols[1].upper()
                if op not in ("R", "W"):
                    raise TraceError(file, row, "op", f"expected R or W, got {cols[1]!r}")
                arrival = _parse_int(cols[2], file, row, "arrival_cycle") if len(cols) == 3 \
                    else None
                yield addr, op == "W", arrival
            else:
                parts = text.split()
                if len(parts) != 2:
                    raise TraceError(file, row, None, "expected 'LD <address>' or 'ST <address>'")
                op = parts[0].upper()
                if op not in ("LD", "ST"):
                    raise TraceError(file, row, "op", f"expected LD or ST, got {parts[0]!r}")
                yield _parse_int(parts[1], file, row, "address"), op == "ST", None


class _Tally:
    """Per-request admission and completion, per-bank outcomes, a latency histogram."""

    def __init__(self, channels: int, banks: int) -> None:
        self.banks = banks
        self.entries: dict[int, list[list[int]]] = {}   # tag -> its bursts (controller entries)
        self.channel_of: dict[int, int] = {}            # id(entry) -> channel
        self.arrival: dict[int, int] = {}
        self.write: set[int] = set()
        self.pending: dict[int, int] = {}   # tag -> channels still to finish it
        self.done: dict[int, int] = {}
        self.lat_hist: dict[int, int] = {}   # read latency in cycles -> count
        self.wait_sum = 0
        self.n = 0
        # per channel x bank: reads, writes, hits, misses, conflicts (bursts)
        self.counts = [0] * (channels * banks * 5)
        self.last_done = 0

    def finish(self, tag: int, done: int) -> None:
        left = self.pending[tag] - 1
        if left:
            self.pending[tag] = left
            self.done[tag] = max(self.done.get(tag, 0), done)
            return
        del self.pending[tag]
        done = max(done, self.done.pop(tag, 0))
        entries = self.entries.pop(tag)
        is_write = tag in self.write
        if is_write:
            self.write.discard(tag)
        admitted = entries[0][E_ARR]
        counts, channel_of, rw = self.counts, self.channel_of, 1 if is_write else 0
        for e in entries:
            if e[E_ARR] < admitted:
                admitted = e[E_ARR]
            kind = e[E_KIND]
            base = (channel_of.pop(id(e)) * self.banks + e[E_BANK]) * 5
            counts[base + rw] += 1
            counts[base + (3 if kind == MISS else 4 if kind == CONFLICT else 2)] += 1
        self.wait_sum += admitted - self.arrival.pop(tag)
        self.n += 1
        if done > self.last_done:
            self.last_done = done
        if not is_write:
            lat = done - admitted
            self.lat_hist[lat] = self.lat_hist.get(lat, 0) + 1


def _percentile(hist: dict[int, int], q: float) -> int:
    """The smallest latency (cycles) with at least a share q of the reads at or below it."""
    if not hist:
        return 0
    lats = sorted(hist)
    cum = np.cumsum([hist[x] for x in lats])
    return int(lats[int(np.searchsorted(cum, q * cum[-1]))])


def replay(path: str | Path, params: DramParams, *, channels: int = 1,
           request_bytes: int | None = None, outstanding: int | None = None) -> ReplayResult:
    """Replay a trace through `channels` channels of a DRAM preset (see the module doc)."""
    mapping, ctrls, _ = build_controllers(params, channels)
    bb = mapping.org.burst_bytes
    size = request_bytes or DEFAULT_REQUEST_BYTES
    if size < bb or size % bb:
        raise ConfigError("replay", "request_bytes", f"a multiple of the {bb}-byte burst "
                          f"expected, got {size}")
    if outstanding is not None and outstanding < 1:
        raise ConfigError("replay", "outstanding", f"at least 1 expected, got {outstanding}")
    n_bursts = size // bb
    cap = mapping.capacity_bytes
    t_ck = params.timing.t_ck_ns
    v = timing_cycles(params)
    tally = _Tally(channels, mapping.org.banks)
    offs = np.arange(n_bursts, dtype=np.int64) * bb
    wall0 = time.perf_counter()

    def harvest(final: bool, until: float = float("inf")) -> None:
        for c in ctrls:
            c.run(until=until, final=final)
            for tag, _first, done, _h, _mi, _co in c.finished:
                tally.finish(tag, done)
            c.finished.clear()

    def push(tags: list[int], addrs: list[int], writes: list[bool], arrivals: list[int]
             ) -> None:
        """Queue requests (one push_each per channel; a request's bursts share its tag) and
        keep references to their controller entries: the admission cycle and the row
        outcome are read from them when the request completes."""
        m = len(tags)
        a = np.asarray(addrs, dtype=np.int64)
        ch_a, bank_a, row_a, col_a = mapping.decode((a[:, None] + offs[None, :]).ravel())
        tag_a = np.repeat(np.asarray(tags, dtype=np.int64), n_bursts)
        w_a = np.repeat(np.asarray(writes, dtype=bool), n_bursts)
        arr_a = np.repeat(np.asarray(arrivals, dtype=np.int64), n_bursts)
        if n_bursts == 1 or channels == 1:
            touched = np.ones(m, dtype=np.int64)
        else:   # channels each request touches: distinct values per row
            per = np.sort(ch_a.reshape(m, n_bursts), axis=1)
            touched = 1 + (np.diff(per, axis=1) != 0).sum(axis=1)
        tally.pending.update(zip(tags, touched.tolist(), strict=True))
        tally.arrival.update(zip(tags, arrivals, strict=True))
        tally.write.update(t for t, w in zip(tags, writes, strict=True) if w)
        entries = tally.entries
        for t in tags:
            entries[t] = []
        for c_id in np.unique(ch_a).tolist():
            sel = ch_a == c_id
            ctrl = ctrls[c_id]
            ctrl.push_each(tag_a[sel].tolist(), arr_a[sel].tolist(), bank_a[sel].tolist(),
                           row_a[sel].tolist(), col_a[sel].tolist(), w_a[sel].tolist())
            fifo = ctrl.fifo
            for e in islice(fifo, len(fifo) - int(sel.sum()), None):
                entries[e[E_TAG]].append(e)
                tally.channel_of[id(e)] = c_id

    n = 0
    clock = 0
    batch: list[tuple[int, bool, int]] = []
    # the front end's clock step while it waits for a completion (outstanding mode)
    step = max(1, v["nBL"])

    for addr, is_write, arrival in read_trace(path):
        if addr + size > cap:
            raise TraceError(str(path), n + 1, "address",
                             f"address {addr:#x} + {size} B beyond the memory ({cap} B)")
        if arrival is not None:
            if arrival < clock:
                raise TraceError(str(path), n + 1, "arrival_cycle",
                                 f"arrival {arrival} before the previous one ({clock})")
            clock = arrival
        aligned = addr - addr % bb
        if outstanding is None:
            batch.append((aligned, is_write, clock))
            n += 1
            if len(batch) == CHUNK:
                push(list(range(n - len(batch), n)), [b[0] for b in batch],
                     [b[1] for b in batch], [b[2] for b in batch])
                batch.clear()
                harvest(final=False)
            continue
        # outstanding mode: wait (advancing every controller) until a slot is free
        now = max(c.clk for c in ctrls)
        while len(tally.pending) >= outstanding:
            now += step
            harvest(final=True, until=now)
        issue = max(clock, now)
        push([n], [aligned], [is_write], [issue])
        tally.arrival[n] = clock      # the front end's wait counts from the trace arrival
        n += 1
    if batch:
        push(list(range(n - len(batch), n)), [b[0] for b in batch], [b[1] for b in batch],
             [b[2] for b in batch])
    harvest(final=True)
    wall = time.perf_counter() - wall0
    sim_ns = tally.last_done * t_ck
    hist = tally.lat_hist
    n_reads = sum(hist.values())
    lat_mean = sum(k * c for k, c in hist.items()) / n_reads if n_reads else 0.0
    counts = np.asarray(tally.counts, dtype=np.int64).reshape(channels, mapping.org.banks, 5)
    hits, misses, conflicts = (int(counts[:, :, i].sum()) for i in (2, 3, 4))
    bursts = hits + misses + conflicts
    banks = tuple(BankCounters(channel=c, bank=b, reads=int(x[0]), writes=int(x[1]),
                               row_hits=int(x[2]), row_misses=int(x[3]),
                               row_conflicts=int(x[4]))
                  for c in range(channels) for b, x in enumerate(counts[c].tolist()))
    return ReplayResult(
        requests=n, reads=n_reads, writes=n - n_reads, request_bytes=size, bytes=n * size,
        outstanding=outstanding, simulated_ns=sim_ns,
        bandwidth_gb_per_s=n * size / sim_ns if sim_ns else 0.0,
        mean_read_latency_ns=lat_mean * t_ck,
        p50_read_latency_ns=_percentile(hist, 0.50) * t_ck,
        p95_read_latency_ns=_percentile(hist, 0.95) * t_ck,
        p99_read_latency_ns=_percentile(hist, 0.99) * t_ck,
        max_read_latency_ns=max(hist, default=0) * t_ck,
        mean_frontend_wait_ns=tally.wait_sum / n * t_ck if n else 0.0,
        row_hit_rate=hits / bursts if bursts else 0.0, row_hits=hits, row_misses=misses,
        row_conflicts=conflicts, activates=sum(c.counters.acts for c in ctrls),
        refreshes=sum(c.counters.refresh_ab + c.counters.refresh_pb for c in ctrls),
        wall_s=wall, requests_per_s=n / wall if wall > 0 else float("inf"), banks=banks)
