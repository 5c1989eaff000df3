"""Fast mode: a request's share of each channel is one in-order transaction whose cycle cost is
derived from the burst-mode controller and the same compiled constraints.

Derivation (`derive_costs`, once per standard, timing, organisation and controller): the
burst controller itself (the reference, same constraint tables, same page policy, mapping and
refresh mode) runs a few calibration
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
the other bursts are hits, except one miss per refresh that interrupts the segment. With open
pages and all-bank refresh, long requests are counted per refresh boundary instead (same
counts, no per-segment arrays; `_outcomes_by_boundaries`, geometry.py): a bank's later segments
open new rows, so only which boundaries fall inside a segment and which in a gap matters.
"""

from __future__ import annotations

import pickle
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import numpy as np

from qmcsim.errors import InternalError
from qmcsim.lru import LastUsed
from qmcsim.parallel import forks, meanwhile_in_a_child
from qmcsim.memories.dram.channel import compiled_timing, new_controller
from qmcsim.memories.dram.controller import ChannelController, CompiledTiming
from qmcsim.memories.dram.geometry import (
    CAL_TURN_MAX_LOG2,
    GEOMETRIES,
    ChannelBits,
    Geometry,
    Segments,
    build,
    count_inside,
)
from qmcsim.memories.dram.mapping import AddressMapping
from qmcsim.memories.dram.params import DramParams, timing_cycles

CAL_BURSTS = 4096  # calibration stream length (bursts); 16 row stripes of the default mapping
CAL_REFRESH_BURSTS = 16384  # long enough to cross ~10 all-bank refresh intervals
CAL_TURN_LEAD = 512  # the stream a direction switch follows


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


# What a calibration runs on: the standard's constraints, the timing, the organisation and the
# controller (its mapping, page policy, refresh). Energy, latency and density fields of a
# preset do not enter it, so a sweep over them calibrates once.
CALIBRATED_FIELDS = frozenset({"standard", "timing", "org", "controller"})
CALIBRATIONS_KEPT = 16
_COSTS: LastUsed[str, StreamCosts] = LastUsed(CALIBRATIONS_KEPT)


def derive_costs(params: DramParams) -> StreamCosts:
    """Stream costs of a parameter set (cached on the fields the calibration runs on)."""
    key = params.model_dump_json(include=set(CALIBRATED_FIELDS))
    return _COSTS.get_or_build(key, lambda: _derive_costs(params))


# the calibration may run its streams in two processes (a forked child takes part of them):
# set by the `run` command, which has a core to spare then; only in a one-thread process
_TWO_PROCESSES: ContextVar[bool] = ContextVar("qmcsim_calibration_two_processes",
                                              default=False)


@contextmanager
def calibration_on_two_cores() -> Iterator[None]:
    """Within this block, a calibration forks a child for part of its streams (same
    results: the streams are independent runs of the burst controller)."""
    token = _TWO_PROCESSES.set(True)
    try:
        yield
    finally:
        _TWO_PROCESSES.reset(token)


_Stream = tuple[tuple[tuple[int, bool], ...], str]   # (n bursts, is_write) parts, refresh mode


def _calibration_streams(params: DramParams) -> list[_Stream]:
    """Every stream run the calibration needs, in `_derive_costs`'s order."""
    n, lead, m = CAL_BURSTS, CAL_TURN_LEAD, CAL_REFRESH_BURSTS
    out: list[_Stream] = []
    for w in (False, True):
        out.append((((n, w), (n, w)), "off"))
    for w in (False, True):
        out.append((((lead, w),), "off"))
        out += [(((lead, w), (2**k, not w)), "off") for k in range(CAL_TURN_MAX_LOG2 + 1)]
    for w in (False, True):
        out += [(((m, w),), params.controller.refresh), (((m, w),), "off")]
    return out


def _run_all(params: DramParams, streams: list[_Stream], timing: CompiledTiming
             ) -> list[list[int]]:
    def run(part: list[_Stream]) -> list[list[int]]:
        return [_run_streams(params, list(parts), refresh, timing)[0]
                for parts, refresh in part]

    if not (_TWO_PROCESSES.get() and forks() and threading.active_count() == 1):
        return run(streams)
    # the child takes the three longest streams (~half the bursts), the parent the rest
    order = sorted(range(len(streams)), key=lambda i: -sum(k for k, _ in streams[i][0]))
    theirs = sorted(order[:3])
    mine = [i for i in range(len(streams)) if i not in theirs]
    mine_done, data = meanwhile_in_a_child(
        lambda: pickle.dumps(run([streams[i] for i in theirs])),
        lambda: run([streams[i] for i in mine]))
    done = dict(zip(mine, mine_done, strict=True))
    done.update(zip(theirs, pickle.loads(data), strict=True))  # noqa: S301 (our child's)
    return [done[i] for i in range(len(streams))]


def _derive_costs(params: DramParams) -> StreamCosts:
    v = timing_cycles(params)
    timing = compiled_timing(params)  # shared by the calibration controllers
    n = CAL_BURSTS
    first_rd = (v["nCL"] + v["nBL"], v["nRCD"] + v["nCL"] + v["nBL"],
                v["nRPpb"] + v["nRCD"] + v["nCL"] + v["nBL"])
    rcd_wr = v.get("nRCDWR", v["nRCD"])  # HBM3 may activate for writes faster
    first_wr = (v["nCWL"] + v["nBL"], rcd_wr + v["nCWL"] + v["nBL"],
                v["nRPpb"] + rcd_wr + v["nCWL"] + v["nBL"])
    done = iter(_run_all(params, _calibration_streams(params), timing))
    rates, fills = [], []
    for first in (first_rd, first_wr):
        d1, d2 = next(done)
        r = (d2 - d1) / n
        rates.append(r)
        fills.append(d1 - first[1] - (n - 1) * r)
    # direction switches: a stream of 2**k bursts behind a stream of the other direction. The
    # burst controller may finish the first stream after the second started (write draining
    # interleaves them): what is derived is the pair's total time beyond the first alone
    turns: list[tuple[float, ...]] = []
    for is_write in (False, True):
        (alone,) = next(done)
        table = []
        for k in range(CAL_TURN_MAX_LOG2 + 1):
            d1, d2 = next(done)
            table.append(max(d1, d2) - alone - 2**k * rates[0 if is_write else 1])
        turns.append(tuple(table))
    turn_rw, turn_wr = turns
    refresh = params.controller.refresh
    grid = v[params.spec.refresh[refresh].interval]
    penalties = []
    for _ in (False, True):
        (with_ref,), (without,) = next(done), next(done)
        crossed = with_ref // grid
        penalties.append((with_ref - without) / max(1, crossed))
    busy = 0 if params.spec.is_partial(refresh) else v["nRPab"] + v["nRFCab"]
    return StreamCosts(r_read=rates[0], r_write=rates[1], fill_read=fills[0],
                       fill_write=fills[1], turn_rw=turn_rw, turn_wr=turn_wr,
                       refresh_read=penalties[0], refresh_write=penalties[1],
                       refresh_grid=grid, refresh_busy=busy, first_read=first_rd,
                       first_write=first_wr)


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
        self.bits = ChannelBits(mapping)
        self._geo_cache = GEOMETRIES.table(mapping)
        # row outcomes counted per refresh boundary need one epoch per channel (all banks)
        self.by_boundaries = not self.closed_page and not self.per_bank
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
    def _geometry(self, f: int, last: int) -> Geometry:
        """The geometry of bursts [f, last] (`qmcsim.memories.dram.geometry`)."""
        key_ = (f, last)
        geo = self._geo_cache.get(key_)
        if geo is None:
            geo = build(self.bits, f, last, spans=self.by_boundaries)
            if geo.segments is None and not self._gaps_fit(geo.max_gap):
                geo = build(self.bits, f, last, spans=False)
            GEOMETRIES.add(self._geo_cache, key_, geo)
        return geo

    def _gaps_fit(self, max_gap: int) -> bool:
        """No gap between two segments of a bank can hold two refresh boundaries."""
        c = self.c
        if not c.refresh_grid:
            return True
        return max_gap + 2 < c.refresh_grid / max(c.r_read, c.r_write) - 2

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

        # row-buffer outcomes, with first-data estimates from an idle-bank start
        est_first = np.maximum(idle_start + delay + self._firsts[is_write][1] + extra, behind)
        f = address // bb
        counted = None
        if g.segments is None:
            counted = self._outcomes_by_boundaries(g, est_first, r)
        if counted is None:
            segs = g.segments
            if segs is None:  # boundaries too close for this request's gaps: every segment
                segs = build(self.bits, f, (address + nbytes - 1) // bb, spans=False).segments
                if segs is None:
                    raise InternalError("fast mode: a geometry built without spans has none")
            counted = self._outcomes_by_segments(g, segs, est_first, r)
        misses, conflicts, head_kind, last_epoch = counted
        hits = g.bursts - misses - conflicts
        # bank state after the request: each bank's last segment
        self.bank_row[g.ends] = -1 if self.closed_page else g.last_rows
        self.bank_epoch[g.ends] = last_epoch

        # channel timing: first burst by its row state, then in-order at r cycles per burst
        first_kind = np.ones(self.n_ch, dtype=np.int64)
        first_kind[g.head_ch] = head_kind
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

    def _first_outcomes(self, g: Geometry, e0_first: np.ndarray) -> np.ndarray:
        """0 hit, 1 miss, 2 conflict for each bank's first segment, from the bank's state
        (open page: the only policy counted per boundary)."""
        prev_row = self.bank_row[g.starts]
        still_open = (prev_row >= 0) & (self.bank_epoch[g.starts] == e0_first)
        return np.where(still_open, np.where(prev_row == g.first_row, 0, 2), 1)

    def _outcomes_by_segments(self, g: Geometry, s: Segments, est_first: np.ndarray,
                              r: float) -> tuple[int, int, np.ndarray, np.ndarray]:
        """Misses, conflicts, the head segments' outcomes and each bank's last epoch, one
        segment at a time (segments in (channel, bank), position order: each follows the
        previous one of its bank, the first of a bank follows the bank's state)."""
        at = est_first[s.ch]
        t0 = at + s.pos_first * r
        t1 = at + s.pos_last * r
        e0 = self._epoch(s.bank, t0) if self.c.refresh_grid else np.zeros(len(t0))
        e1 = self._epoch(s.bank, t1) if self.c.refresh_grid else e0
        kind = np.ones(len(t0), dtype=np.int64)  # 0 hit, 1 miss, 2 conflict
        if not self.closed_page:
            prev_row = s.prev_row.copy()
            prev_ep = np.empty_like(e1)
            prev_ep[1:] = e1[:-1]
            prev_row[s.new_group] = self.bank_row[g.starts]
            prev_ep[s.new_group] = self.bank_epoch[g.starts]
            still_open = (prev_row >= 0) & (prev_ep == e0)
            kind[:] = np.where(still_open, np.where(prev_row == s.row, 0, 2), 1)
        reopen = int((e1 - e0).sum()) if self.c.refresh_grid else 0
        misses = int(np.count_nonzero(kind == 1)) + reopen
        conflicts = int(np.count_nonzero(kind == 2))
        return misses, conflicts, kind[s.head], e1[s.last_of]

    def _outcomes_by_boundaries(self, g: Geometry, est_first: np.ndarray, r: float
                                ) -> tuple[int, int, np.ndarray, np.ndarray] | None:
        """The same counts as `_outcomes_by_segments` from each bank's first and last segment
        and the refresh boundaries the request crosses (None if two boundaries could fall in
        one gap). Within a channel the epoch E(p) of burst position p is non-decreasing; P_k,
        the first position of epoch k, splits the boundaries into those inside a segment
        (p_first < P_k <= p_last: a re-opened row, counted with the sorted spans) and those
        in a gap of a bank (the next segment of that bank misses instead of conflicting): a
        bank's first-to-last epoch difference counts both."""
        grid = self.c.refresh_grid
        inside = 0
        if grid:
            e_first = np.floor_divide(est_first[g.first_ch] + g.first_pos * r, grid)
            e_last = np.floor_divide(est_first[g.last_ch] + g.last_pos * r, grid)
            boundaries = self._boundary_positions(g, est_first, r)
            if boundaries is None:
                return None
            if len(boundaries[0]):
                inside = count_inside(self.bits, g, *boundaries)
        else:
            e_first = e_last = np.zeros(len(g.starts))
        kind_f = self._first_outcomes(g, e_first)
        crossed = int((e_last - e_first).sum())  # in a segment or in a gap
        in_gaps = crossed - inside
        interior = g.n_segments - len(g.starts)
        misses = int(np.count_nonzero(kind_f == 1)) + crossed
        conflicts = int(np.count_nonzero(kind_f == 2)) + interior - in_gaps
        return misses, conflicts, kind_f[g.head_of_first], e_last

    def _boundary_positions(self, g: Geometry, est_first: np.ndarray, r: float
                            ) -> tuple[np.ndarray, np.ndarray] | None:
        """Channel and position P_k of every refresh boundary the request crosses (epochs
        E(0) + 1 .. E(n - 1) of each active channel); None if two of a channel's boundaries
        are closer than the request's longest gap."""
        grid = self.c.refresh_grid
        chans = g.chans
        at = est_first[chans]
        e_lo = np.floor_divide(at, grid)
        counts = (np.floor_divide(at + g.last_index * r, grid) - e_lo).astype(np.int64)
        total = int(counts.sum())
        ch_k = np.repeat(chans, counts)
        if not total:
            return ch_k, ch_k
        at_k = np.repeat(at, counts)
        offs = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)  # 0, 1, ..
        k = np.repeat(e_lo, counts) + 1 + offs
        p = np.ceil((k * grid - at_k) / r)
        for _ in range(4):   # exact: the smallest p with E(p) >= k, by the same arithmetic
            lower = np.floor_divide(at_k + (p - 1) * r, grid) >= k
            higher = np.floor_divide(at_k + p * r, grid) < k
            if not (lower.any() or higher.any()):
                break
            p = p - lower + higher
        else:
            return None
        pk = p.astype(np.int64)
        same = ch_k[1:] == ch_k[:-1]
        if same.any() and int(np.diff(pk)[same].min()) <= g.max_gap:
            return None
        return ch_k, pk

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
