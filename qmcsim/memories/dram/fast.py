"""Fast mode: a request's share of each channel is one in-order transaction whose cycle cost is
derived from the burst-mode controller and the same compiled constraints.

Derivation (`derive_costs`, once per parameter set): the burst controller itself (the reference,
same constraint tables, same page policy, mapping and refresh mode) runs a few calibration
streams on one channel — sequential reads and writes, back to back, read-then-write,
write-then-read, with refresh off and on — and yields
- `r_*`: the steady-state cycles per burst of an in-order stream (row stripes across the bank
  groups included: ACT/PRE of the next stripe hide behind the column commands of this one);
- `fill_*`: the extra start-up of a stream of more than one burst over the one-burst latency;
- `turn_*`: the extra cycles when a write stream follows a read stream (and the reverse);
- `refresh_*`: the cycles a stream loses per refresh interval it crosses (tRFC, the PREA before
  it and the re-activations after it).
The one-burst latencies come in closed form from the constraint values: row hit nCL + nBL,
idle bank nRCD + nCL + nBL, row conflict nRPpb + nRCD + nCL + nBL (nCWL for writes).

Serving (`FastChannels.serve`): the controllers admit bursts in arrival order, so every channel
is a FIFO: a transaction starts when it arrives (paying its first-burst latency) or right behind
the channel's previous transaction (one burst interval, plus a read/write turnaround), whichever
is later, and lasts (n - 1) burst intervals plus one refresh penalty per refresh boundary
(every nREFI, or nREFIpb for per-bank refresh) it crosses. Contending streams therefore slow
each other exactly by their share of the channel.

Row-buffer outcomes are counted per row segment (the bursts of one request sharing channel,
bank and row) with numpy, without enumerating bursts: a segment's first burst is a hit if its
bank still holds that row (no refresh since), a conflict if another row is open, else a miss;
the other bursts are hits, except one miss per refresh that interrupts the segment.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from qmcsim.memories.dram.channel import compiled_timing, new_controller
from qmcsim.memories.dram.controller import ChannelController, CompiledTiming
from qmcsim.memories.dram.mapping import AddressMapping
from qmcsim.memories.dram.params import DramParams, timing_cycles

CAL_BURSTS = 4096  # calibration stream length (bursts); 16 row stripes of the default mapping
CAL_REFRESH_BURSTS = 16384  # long enough to cross ~10 all-bank refresh intervals
CAL_TURN_LEAD = 512  # the stream a direction switch follows
CAL_TURN_MAX_LOG2 = 11  # direction-switch costs for 1, 2, 4, ... 2048 bursts
GEOMETRY_CACHE_SEGMENTS = 4_000_000  # memoised row segments per process (~31 bytes each)


@dataclass(frozen=True, kw_only=True)
class StreamCosts:
    """Cycle costs of in-order streams on one channel (all in CK cycles)."""

    r_read: float  # cycles per burst, steady state
    r_write: float
    fill_read: float  # extra start-up of a multi-burst stream over the one-burst latency
    fill_write: float
    turn_rw: tuple[float, ...]  # extra cycles when 2**k writes follow reads, k = 0, 1, ...
    turn_wr: tuple[float, ...]  # extra cycles when 2**k reads follow writes
    refresh_read: float  # cycles lost per refresh boundary a read stream crosses
    refresh_write: float
    refresh_grid: int  # nREFI (all-bank) or nREFIpb (per-bank); 0 = no refresh
    refresh_busy: int  # an idle channel's refresh occupancy (nRPab + nRFCab, or 0)
    first_read: tuple[int, int, int]  # one-burst latency: (hit, miss, conflict)
    first_write: tuple[int, int, int]


def _cal_controller(params: DramParams, refresh: str, timing: CompiledTiming | None = None
                    ) -> ChannelController:
    return new_controller(params, refresh=refresh, timing=timing)


def _run_streams(params: DramParams, parts: list[tuple[int, bool]], refresh: str = "off",
                 timing: CompiledTiming | None = None) -> tuple[list[int], ChannelController]:
    """Done cycle of each sequential stream (n bursts, is_write), pushed at cycle 0 in order
    into one channel; consecutive streams continue at the next address. `timing`: the
    parameters' compiled constraints, built once for all the calibration streams."""
    mapping = AddressMapping.parse(params.controller.address_mapping,
                                   params.org.organisation(), 1)
    ctrl = _cal_controller(params, refresh, timing)
    pos = 0
    for tag, (n, is_write) in enumerate(parts):
        _, bank, row, col = mapping.decode(
            np.arange(pos, pos + n, dtype=np.int64) * mapping.org.burst_bytes)
        ctrl.push(tag, 0, list(zip(bank.tolist(), row.tolist(), col.tolist(), strict=True)),
                  is_write)
        pos += n
    ctrl.run()
    done = {tag: d for tag, _, d, *_ in ctrl.finished}
    return [done[t] for t in range(len(parts))], ctrl


def derive_costs(params: DramParams) -> StreamCosts:
    """Stream costs of a parameter set (cached on the parameters' JSON)."""
    return _derive_costs_json(params.model_dump_json())


@lru_cache(maxsize=16)
def _derive_costs_json(text: str) -> StreamCosts:
    params = DramParams.model_validate(json.loads(text))
    v = timing_cycles(params)
    timing = compiled_timing(params)  # shared by the calibration controllers
    n = CAL_BURSTS
    first_rd = (v["nCL"] + v["nBL"], v["nRCD"] + v["nCL"] + v["nBL"],
                v["nRPpb"] + v["nRCD"] + v["nCL"] + v["nBL"])
    rcd_wr = v.get("nRCDWR", v["nRCD"])  # HBM3 may activate for writes faster
    first_wr = (v["nCWL"] + v["nBL"], rcd_wr + v["nCWL"] + v["nBL"],
                v["nRPpb"] + rcd_wr + v["nCWL"] + v["nBL"])
    rates, fills = [], []
    for is_write, first in ((False, first_rd), (True, first_wr)):
        (d1, d2), _ = _run_streams(params, [(n, is_write), (n, is_write)], timing=timing)
        r = (d2 - d1) / n
        rates.append(r)
        fills.append(d1 - first[1] - (n - 1) * r)
    # direction switches: a stream of 2**k bursts behind a stream of the other direction. The
    # burst controller may finish the first stream after the second started (write draining
    # interleaves them): what is derived is the pair's total time beyond the first alone
    turns: list[tuple[float, ...]] = []
    for is_write in (False, True):
        (alone,), _ = _run_streams(params, [(CAL_TURN_LEAD, is_write)], timing=timing)
        table = []
        for k in range(CAL_TURN_MAX_LOG2 + 1):
            (d1, d2), _ = _run_streams(params, [(CAL_TURN_LEAD, is_write),
                                                (2**k, not is_write)], timing=timing)
            table.append(max(d1, d2) - alone - 2**k * rates[0 if is_write else 1])
        turns.append(tuple(table))
    turn_rw, turn_wr = turns
    refresh = params.controller.refresh
    grid = v[params.spec.refresh[refresh].interval]
    penalties = []
    m = CAL_REFRESH_BURSTS
    for is_write in (False, True):
        (with_ref,), ctrl = _run_streams(params, [(m, is_write)], refresh, timing)
        (without,), _ = _run_streams(params, [(m, is_write)], timing=timing)
        crossed = with_ref // grid
        penalties.append((with_ref - without) / max(1, crossed))
    busy = 0 if params.spec.is_partial(refresh) else v["nRPab"] + v["nRFCab"]
    return StreamCosts(r_read=rates[0], r_write=rates[1], fill_read=fills[0],
                       fill_write=fills[1], turn_rw=turn_rw, turn_wr=turn_wr,
                       refresh_read=penalties[0], refresh_write=penalties[1],
                       refresh_grid=grid, refresh_busy=busy, first_read=first_rd,
                       first_write=first_wr)


@dataclass(frozen=True, kw_only=True)
class _Geometry:
    """A request's row segments in (channel, bank), position order; depends on the addresses
    only, so it is computed once per distinct request (decode steps repeat every weight read)."""

    n_ch: np.ndarray  # bursts per channel
    ch: np.ndarray
    bank: np.ndarray
    key: np.ndarray  # channel x banks + bank
    row: np.ndarray
    prev_row: np.ndarray  # row of the previous segment (meaningful inside a bank group)
    pos_first: np.ndarray  # position of the first / last burst within its channel's share
    pos_last: np.ndarray
    new_group: np.ndarray  # first segment of its bank
    last_of: np.ndarray  # last segment of its bank
    head: np.ndarray  # the channel's first burst
    bursts: int
    # derived once, used by every serve of the request
    active: np.ndarray  # channels touched
    mask: int  # their bit mask
    multi: np.ndarray  # channels with more than one burst
    turn_k: np.ndarray  # direction-switch table index: log2(bursts), capped
    starts: np.ndarray  # bank key of each bank's first / last segment
    ends: np.ndarray
    last_rows: np.ndarray  # row of each bank's last segment
    head_ch: np.ndarray  # channel of each head segment


class _GeometryCache:
    """Row segments of requests, per address mapping, shared by every memory of that mapping
    in the process: a geometry depends on the addresses only, so the systems of a run and the
    points of a sweep that put the same traffic at the same addresses (the KV cache of systems
    with the same weights elsewhere, the cold start's load) build it once. Bounded: emptied
    when full."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0  # segments held
        self.tables: dict[AddressMapping, dict[tuple[int, int], _Geometry]] = {}

    def table(self, mapping: AddressMapping) -> dict[tuple[int, int], _Geometry]:
        return self.tables.setdefault(mapping, {})

    def add(self, table: dict[tuple[int, int], _Geometry], key: tuple[int, int],
            geo: _Geometry) -> None:
        n = len(geo.key)
        if n > self.limit:
            return
        if self.held + n > self.limit:
            for t in list(self.tables.values()):
                t.clear()
            self.held = 0
        table[key] = geo
        self.held += n


_GEOMETRIES = _GeometryCache(GEOMETRY_CACHE_SEGMENTS)


@dataclass(frozen=True, kw_only=True)
class FastResult:
    """One request through fast mode (cycles)."""

    first_cycle: int  # earliest first command over the channels
    done_cycle: int  # last data beat over the channels
    channels: int  # bit mask of the channels the request touches
    hits: int
    misses: int
    conflicts: int


class FastChannels:
    """Per-channel and per-bank state of `channels` channels in fast mode."""

    def __init__(self, params: DramParams, mapping: AddressMapping) -> None:
        self.c = derive_costs(params)
        self.mapping = mapping
        org = mapping.org
        self.n_ch = mapping.channels
        self.n_banks = org.banks
        self.banks_per_rank = org.bank_groups * org.banks_per_group
        self.closed_page = params.controller.page_policy == "closed"
        mode = params.controller.refresh
        self.per_bank = params.spec.is_partial(mode)  # partial refresh: per-bank epochs
        groups = params.spec.refresh_groups(mode, org)
        # the partial refresh group of each bank of a rank (its position in the rotation)
        self.n_groups = max(1, len(groups))
        self.group_of = np.zeros(self.banks_per_rank, dtype=np.int64)
        for k, grp in enumerate(groups):
            self.group_of[list(grp)] = k
        # bit positions (within the burst index) of the column and channel fields
        pos, where = 0, {}
        widths = mapping.widths
        for level in reversed(mapping.order):
            where[level] = (pos, widths[level])
            pos += widths[level]
        self.co_lsb, self.co_w = where["Co"]
        self.ch_lsb, self.ch_w = where["Ch"]
        self._geo_cache = _GEOMETRIES.table(mapping)
        c = self.c  # per direction (False: read, True: write)
        self._turn = {False: np.asarray(c.turn_wr), True: np.asarray(c.turn_rw)}
        self._firsts = {False: np.asarray(c.first_read, dtype=float),
                        True: np.asarray(c.first_write, dtype=float)}
        self.reset()

    def reset(self) -> None:
        """Idle channels at cycle zero: banks precharged, no refresh yet (a new phase; the
        address geometry cache is state-free and kept)."""
        n = self.n_ch
        self.free = np.zeros(n)  # cycle the channel's last scheduled data beat ends
        self.last_write = np.zeros(n, dtype=bool)
        self.used = np.zeros(n, dtype=bool)
        self.bank_row = np.full(n * self.n_banks, -1, dtype=np.int64)
        self.bank_epoch = np.zeros(n * self.n_banks)  # refresh epochs (whole numbers)
        self.open_acc = np.zeros(n)  # closed-out active-standby cycles
        self.open_from = np.zeros(n)
        self.open_to = np.zeros(n)

    # ---- address arithmetic
    def _count_before(self, x: int) -> np.ndarray:
        """Per channel: bursts j in [0, x) of that channel."""
        lsb, w = self.ch_lsb, self.ch_w
        ch = np.arange(self.n_ch)
        full = (x >> (lsb + w)) << lsb
        mid = (x >> lsb) & ((1 << w) - 1)
        low = x & ((1 << lsb) - 1)
        return full + np.where(mid > ch, 1 << lsb, np.where(mid == ch, low, 0))

    def _compress(self, i: np.ndarray) -> np.ndarray:
        """Index of burst i among the bursts of its channel."""
        lsb, w = self.ch_lsb, self.ch_w
        return ((i >> (lsb + w)) << lsb) | (i & ((1 << lsb) - 1))

    def _segments(self, f: int, last: int) -> tuple[np.ndarray, ...]:
        """Row segments of bursts [f, last]: first and last burst index, burst count."""
        p, w = self.co_lsb, self.co_w
        b = p + w
        his = np.arange(f >> b, (last >> b) + 1, dtype=np.int64)
        los = np.arange(1 << p, dtype=np.int64)
        hi = np.repeat(his, len(los))
        lo = np.tile(los, len(his))
        co_f, lo_f = (f >> p) & ((1 << w) - 1), f & ((1 << p) - 1)
        co_l, lo_l = (last >> p) & ((1 << w) - 1), last & ((1 << p) - 1)
        co_min = np.where(hi == his[0], co_f + (lo < lo_f), 0)
        co_max = np.where(hi == his[-1], co_l - (lo > lo_l), (1 << w) - 1)
        ok = co_min <= co_max
        hi, lo, co_min, co_max = hi[ok], lo[ok], co_min[ok], co_max[ok]
        first = (hi << b) | (co_min << p) | lo
        lastb = (hi << b) | (co_max << p) | lo
        return first, lastb, co_max - co_min + 1

    def _epoch(self, bank: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Refreshes that have closed `bank` by cycle t."""
        grid = self.c.refresh_grid
        k = np.floor_divide(t, grid)  # whole numbers, kept as floats (no conversion pass)
        if not self.per_bank:
            return k
        n = self.n_groups
        j = self.group_of[bank % self.banks_per_rank]
        return np.maximum(0, (k - 1 - j + n) // n)

    # ---- the address geometry of one request (state-free, memoised)
    def _geometry(self, f: int, last: int) -> _Geometry:
        """Row segments of bursts [f, last], sorted by (channel, bank) then position."""
        key_ = (f, last)
        geo = self._geo_cache.get(key_)
        if geo is not None:
            return geo
        bb = self.mapping.org.burst_bytes
        n_ch = self._count_before(last + 1) - self._count_before(f)
        first, lastb, nb = self._segments(f, last)
        ch, bank, row, _ = self.mapping.decode(first * bb)
        base = self._count_before(f)
        pos_first = self._compress(first) - base[ch]
        pos_last = self._compress(lastb) - base[ch]
        key = ch * self.n_banks + bank
        # segments come in address order, so within a channel in position order: a stable
        # sort by bank key alone (radix sort for 16-bit keys) gives (bank, position) order
        kdt = np.int16 if self.n_ch * self.n_banks < 2**15 else np.int64
        srt = np.argsort(key.astype(kdt), kind="stable")
        k_s = key[srt]
        new_group = np.ones(len(k_s), dtype=bool)
        new_group[1:] = k_s[1:] != k_s[:-1]
        last_of = np.ones(len(k_s), dtype=bool)
        last_of[:-1] = k_s[1:] != k_s[:-1]
        row_s = row[srt]
        prev_row = np.empty_like(row_s)
        prev_row[1:] = row_s[:-1]
        pos_first_s = pos_first[srt]
        i32 = np.int32  # compact: the cache holds a whole decode step's segments
        ch_s = ch[srt].astype(i32)
        head = pos_first_s == 0
        active = n_ch > 0
        turn_k = np.minimum(np.log2(np.maximum(n_ch, 1)).astype(np.int64), CAL_TURN_MAX_LOG2)
        geo = _Geometry(n_ch=n_ch, ch=ch_s, bank=bank[srt].astype(i32),
                        key=k_s.astype(i32), row=row_s.astype(i32),
                        prev_row=prev_row.astype(i32), pos_first=pos_first_s.astype(i32),
                        pos_last=pos_last[srt].astype(i32),
                        new_group=new_group, last_of=last_of, head=head,
                        bursts=int(nb.sum()), active=active,
                        mask=int((active.astype(np.int64) << np.arange(self.n_ch)).sum()),
                        multi=n_ch > 1, turn_k=turn_k, starts=k_s[new_group],
                        ends=k_s[last_of], last_rows=row_s[last_of], head_ch=ch_s[head])
        _GEOMETRIES.add(self._geo_cache, key_, geo)
        return geo

    # ---- one request
    def serve(self, address: int, nbytes: int, is_write: bool, arrival: int) -> FastResult:
        c = self.c
        bb = self.mapping.org.burst_bytes
        g = self._geometry(address // bb, (address + nbytes - 1) // bb)
        n_ch = g.n_ch
        active = g.active

        r = c.r_write if is_write else c.r_read
        fill = c.fill_write if is_write else c.fill_read
        turn = np.where(self.last_write == is_write, 0.0,
                        self._turn[is_write][g.turn_k])
        firsts = c.first_write if is_write else c.first_read
        behind = self.free + r + np.where(self.used, turn, 0.0)
        extra = np.where(g.multi, fill, 0.0)
        # an idle channel may still be refreshing
        idle_start = float(arrival)
        delay = np.zeros(self.n_ch)
        if c.refresh_busy and c.refresh_grid:
            due = (arrival // c.refresh_grid) * c.refresh_grid
            if due > 0:
                delay = np.where(self.free < due,
                                 np.maximum(0.0, due + c.refresh_busy - arrival), 0)

        # row-buffer outcome of each segment, with first-data estimates from an idle-bank start
        # (segments in (channel, bank), position order: each follows the previous one of its
        # bank, the first of a bank follows the bank's state)
        est_first = np.maximum(idle_start + delay + firsts[1] + extra, behind)
        at = est_first[g.ch]
        t0 = at + g.pos_first * r
        t1 = at + g.pos_last * r
        e0 = self._epoch(g.bank, t0) if c.refresh_grid else np.zeros(len(t0))
        e1 = self._epoch(g.bank, t1) if c.refresh_grid else e0
        starts = g.starts
        kind = np.ones(len(t0), dtype=np.int64)  # 0 hit, 1 miss, 2 conflict
        if not self.closed_page:
            prev_row = g.prev_row.copy()
            prev_ep = np.empty_like(e1)
            prev_ep[1:] = e1[:-1]
            prev_row[g.new_group] = self.bank_row[starts]
            prev_ep[g.new_group] = self.bank_epoch[starts]
            still_open = (prev_row >= 0) & (prev_ep == e0)
            kind[:] = np.where(still_open, np.where(prev_row == g.row, 0, 2), 1)
        reopen = int((e1 - e0).sum()) if c.refresh_grid else 0
        misses = int(np.count_nonzero(kind == 1)) + reopen
        conflicts = int(np.count_nonzero(kind == 2))
        hits = g.bursts - misses - conflicts
        # bank state after the request: each bank's last segment
        self.bank_row[g.ends] = -1 if self.closed_page else g.last_rows
        self.bank_epoch[g.ends] = e1[g.last_of]

        # channel timing: first burst by its row state, then in-order at r cycles per burst
        first_kind = np.ones(self.n_ch, dtype=np.int64)
        first_kind[g.head_ch] = kind[g.head]
        lat = self._firsts[is_write][first_kind]
        first_done = np.maximum(idle_start + delay + lat + extra, behind)
        done = first_done + (n_ch - 1) * r
        start = np.maximum(float(arrival), self.free)
        if c.refresh_grid:
            pen = c.refresh_write if is_write else c.refresh_read
            grid = c.refresh_grid
            base_done = done
            for _ in range(8):
                crossed = np.floor_divide(done, grid) - np.floor_divide(start, grid)
                new = base_done + crossed * pen
                if np.array_equal(new, done):
                    break
                done = new
        # active standby: banks stay open until the next all-bank refresh (open page), or
        # per-bank refresh: until the round of pair refreshes has closed every bank
        cmd_start = first_done - lat
        if self.closed_page:
            close = done
        elif c.refresh_grid and not self.per_bank:
            close = (np.floor_divide(done, c.refresh_grid) + 1) * c.refresh_grid
        elif c.refresh_grid:
            close = done + c.refresh_grid * (self.banks_per_rank // 2)
        else:
            close = np.full(self.n_ch, np.inf)
        joined = cmd_start <= self.open_to
        upd = active & joined
        self.open_to = np.where(upd, np.maximum(self.open_to, close), self.open_to)
        new = active & ~joined
        self.open_acc = np.where(new, self.open_acc + (self.open_to - self.open_from),
                                 self.open_acc)
        self.open_from = np.where(new, cmd_start, self.open_from)
        self.open_to = np.where(new, close, self.open_to)

        self.free = np.where(active, done, self.free)
        self.last_write = np.where(active, is_write, self.last_write)
        self.used |= active
        return FastResult(first_cycle=int(np.floor(cmd_start[active].min())),
                          done_cycle=int(np.ceil(done[active].max())),
                          channels=g.mask,
                          hits=hits, misses=misses, conflicts=conflicts)

    # ---- energy bookkeeping
    def open_cycles(self, now: int) -> float:
        """Cycles with at least one bank open, summed over the channels, up to `now`."""
        cur = np.clip(np.minimum(self.open_to, now) - self.open_from, 0, None)
        return float(np.minimum(self.open_acc + cur, now).sum())

    def refreshes(self, now: int) -> int:
        """Refresh commands issued by `now`, summed over the channels."""
        if not self.c.refresh_grid:
            return 0
        return int(now // self.c.refresh_grid) * self.n_ch


__all__ = ["FastChannels", "FastResult", "StreamCosts", "derive_costs"]
