"""One channel's memory controller as a tight event loop (no simpy inside).

Time is in CK cycles. The loop is equivalent to a cycle-by-cycle FR-FCFS controller that issues
at most one command per cycle: at each step it finds, over all queued requests, the command that
becomes legal earliest (ties: row hits first, then the oldest request) and issues it. "Legal"
is the max of per-node ready times (channel, rank, bank group, bank) that every issued command
raises according to the constraint table of spec.py, compiled here into flat index lists.

Choosing that command does not scan the banks. Each bank with queued requests has one
candidate per queue (its first row hit as RD/WR, else its oldest request as PRE or ACT), kept
up to date when the bank's queue or open row changes (`_recand`). A candidate's earliest cycle
is max(G, L): G = channel and rank ready times of its command slot and the command bus, shared
by a whole class (queue, rank, column/PRE/ACT); L = its bank-group and bank ready times and
arrival. Per class, `pend` is a heap of candidates keyed by (a lower bound of L, age) and `rdy`
a heap keyed by age of those with L <= G. Ready times only grow, so stored L values stay lower
bounds and G never falls: the class's best is the oldest valid `rdy` entry at G, else the
`pend` top once its L is recomputed and unchanged. Entries of superseded candidates (version
numbers) are dropped when they surface. The result is the same command, at the same cycle, as
the scan over every bank it replaces (tests/dram/test_burst_equivalence.py compares the logs
with a frozen copy of that scan). ACT, PRE and column commands are issued inline in `_run`;
refresh commands go through `_issue`.

This file is also compiled (setup.py runs Cython on it: the `cython.*` declarations type the
hot locals and make FrFcfsController an extension type; interpreted, they do nothing). Module
end: `ChannelController` is that build when it was made from these exact bytes, else the
interpreted class; both give identical command logs (docs/dram.md, "Compiled build").

Queues: a read and a write queue; writes drain when the write queue reaches the high watermark
(or no reads wait) until it falls to the low watermark. Page policies: `open` keeps rows open;
`closed` uses auto-precharge (RDA/WRA) when no other queued request hits the same row.
Refresh: all-bank (PREA + REFab every tREFI) or partial: each command refreshes the next bank
group of `refresh_groups` in rotation (LPDDR5 per-bank pairs, DDR5 same-bank, HBM3 per-bank;
the standard says which, spec.py), every `refresh_interval` cycles; issued as soon as due, ahead
of any other command. The log's row field of a partial refresh is the index of its bank group.
"""

from __future__ import annotations

import gc
import hashlib
import math
import os
from array import array
from collections import deque
from heapq import heappop, heappush, heapreplace
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from pathlib import Path

import cython

from qmcsim.errors import InternalError
from qmcsim.memories.dram.spec import (
    ACT,
    ALL,
    CAS,
    CMD,
    COMMANDS,
    PRE,
    PREA,
    RD,
    RDA,
    REFAB,
    REFPB,
    WR,
    WRA,
    Constraint,
    Organisation,
)

INF = float("inf")
# Integer constants used in the loop are declared so that the compiled build makes them C
# values (a plain module global would be looked up and converted at every use); interpreted,
# cython.declare(type, value) is just the value.
NEVER = cython.declare(cython.longlong, 1 << 62)  # a cycle after any simulated one
NO_ROW = cython.declare(cython.longlong, -1)  # open_row value of a closed bank
# slot of each command in a node's ready-time vector (RDA shares RD's, WRA shares WR's)
SLOT = (0, 1, 2, 3, 4, 3, 4, 5, 6)
N_SLOTS = 7
HIT = cython.declare(cython.longlong, 0)
MISS = cython.declare(cython.longlong, 1)
CONFLICT = cython.declare(cython.longlong, 2)
# entry fields: arrival, bank, row, column, tag, seq, kind, first command cycle, is_write
E_ARR = cython.declare(cython.Py_ssize_t, 0)
E_BANK = cython.declare(cython.Py_ssize_t, 1)
E_ROW = cython.declare(cython.Py_ssize_t, 2)
E_COL = cython.declare(cython.Py_ssize_t, 3)
E_TAG = cython.declare(cython.Py_ssize_t, 4)
E_SEQ = cython.declare(cython.Py_ssize_t, 5)
E_KIND = cython.declare(cython.Py_ssize_t, 6)
E_FIRST = cython.declare(cython.Py_ssize_t, 7)
E_WRITE = cython.declare(cython.Py_ssize_t, 8)
# `tags` value of a one-burst request not yet merged with another push of its tag: the record
# it would have ([1, -1, 0, 0, 0, 0], still fresh at completion) without a list per request;
# shared, compared by identity, never mutated
FRESH_SINGLE: list[int] = [1, -1, 0, 0, 0, 0]
# a bank's FR-FCFS candidate: command, entry, bank-group and bank ready-time indices, arrival
Cand = tuple[int, list[int], int, int, int]


@dataclass(frozen=True)
class CompiledTiming:
    """Constraint table flattened for one channel of an organisation."""

    org: Organisation
    values: dict[str, int]
    updates: tuple[tuple[tuple[tuple[int, int], ...], ...], ...]  # [cmd][bank] -> ((idx, lat),)
    query: tuple[tuple[tuple[int, int, int, int], ...], ...]  # [slot][bank] -> 4 node indices
    windows: tuple[tuple[frozenset[int], int, int, int], ...]  # (preceding, slot, lat, window)
    command_bus: int
    n_nodes: int

    @classmethod
    def build(cls, constraints: Sequence[Constraint], values: dict[str, int],
              org: Organisation) -> CompiledTiming:
        n_r, n_g, n_b = org.ranks, org.bank_groups, org.banks_per_group
        n_banks = org.banks
        rank_base, bg_base, bank_base = 1, 1 + n_r, 1 + n_r + n_r * n_g
        n_nodes = bank_base + n_banks

        def nodes(level: str, bank: int, sibling: bool) -> list[int]:
            r, g = bank // (n_g * n_b), bank // n_b
            if level == "channel":
                return [0]
            if level == "rank":
                return [rank_base + o for o in range(n_r) if (o != r) == sibling]
            if level == "bankgroup":
                return [] if sibling else [bg_base + g]
            return [] if sibling else [bank_base + bank]

        command_bus = 0
        windows = []
        upd: list[list[dict[int, int]]] = [[{} for _ in range(n_banks)] for _ in COMMANDS]
        for con in constraints:
            lat = con.latency.cycles(values)
            if con.level == "channel" and set(con.preceding) == set(ALL) == set(con.following):
                command_bus = max(command_bus, lat)
                continue
            if con.window > 1:
                if con.level != "rank" or con.sibling:
                    raise InternalError("window constraints are supported at rank level only")
                for f in con.following:
                    windows.append((frozenset(CMD[p] for p in con.preceding), SLOT[CMD[f]],
                                    lat, con.window))
                continue
            for p in con.preceding:
                for b in range(n_banks):
                    table = upd[CMD[p]][b]
                    for node in nodes(con.level, b, con.sibling):
                        for f in con.following:
                            idx = node * N_SLOTS + SLOT[CMD[f]]
                            table[idx] = max(table.get(idx, -10**9), lat)
        updates = tuple(tuple(tuple(sorted(d.items())) for d in per_bank) for per_bank in upd)
        query = tuple(
            tuple((s, (rank_base + b // (n_g * n_b)) * N_SLOTS + s,
                   (bg_base + b // n_b) * N_SLOTS + s, (bank_base + b) * N_SLOTS + s)
                  for b in range(n_banks))
            for s in range(N_SLOTS))
        return cls(org, dict(values), updates, query, tuple(windows), command_bus, n_nodes)


_UNROLLED: dict[tuple[tuple[int, int], ...], Callable[[list[int], int], None]] = {}


def _unrolled_update(pairs: tuple[tuple[int, int], ...]) -> Callable[[list[int], int], None]:
    """A function doing `for idx, lat in pairs: R[idx] = max(R[idx], t + lat)`, unrolled.

    Generated from integer pairs only (no user text reaches the source)."""
    fn = _UNROLLED.get(pairs)
    if fn is None:
        lines = ["def apply(R, t):"]
        for idx, lat in pairs:
            idx, lat = int(idx), int(lat)
            lines += [f"    v = t + {lat}", f"    if v > R[{idx}]:", f"        R[{idx}] = v"]
        if not pairs:
            lines.append("    return None")
        ns: dict[str, Callable[[list[int], int], None]] = {}
        exec("\n".join(lines), ns)  # noqa: S102
        fn = _UNROLLED[pairs] = ns["apply"]
    return fn


@cython.cfunc
@cython.inline
@cython.locals(R=cython.longlong[:], pairs=tuple, t=cython.longlong, k=cython.Py_ssize_t,
               n=cython.Py_ssize_t, idx=cython.Py_ssize_t, v=cython.longlong)
def _raise_ready(R, pairs, t):  # type: ignore[no-untyped-def]  # (types: cython.locals)
    """R[idx] = max(R[idx], t + lat) over flat (idx, lat) pairs: the compiled build's
    `_unrolled_update` (a C loop beats calling back into generated Python)."""
    n = len(pairs)
    k = 0
    while k < n:
        idx = pairs[k]
        v = t + pairs[k + 1]
        if v > R[idx]:
            R[idx] = v
        k += 2


@dataclass
class ChannelCounters:
    acts: int = 0
    reads: int = 0
    writes: int = 0
    refresh_ab: int = 0
    refresh_pb: int = 0
    open_cycles: int = 0  # cycles with at least one bank open (active standby)


@cython.cclass
class FrFcfsController:
    """FR-FCFS controller of one channel. Feed bursts with `push`, advance with `run`."""

    # attribute types of the compiled build (an extension type: C fields, no instance dict);
    # in pure Python these are class-level defaults that __init__ shadows
    t = cython.declare(object, visibility="public")
    n_banks = cython.declare(cython.longlong, visibility="public")
    banks_per_rank = cython.declare(cython.longlong, visibility="public")
    ready = cython.declare(object, visibility="public")  # ready cycle per node x slot
    open_row = cython.declare(list, visibility="public")
    n_open = cython.declare(cython.longlong, visibility="public")
    open_since = cython.declare(cython.longlong, visibility="public")
    cmd_free = cython.declare(cython.longlong, visibility="public")
    clk = cython.declare(cython.longlong, visibility="public")
    act_hist = cython.declare(list, visibility="public")  # list[deque[int]]
    fifo = cython.declare(object, visibility="public")  # deque[list[int]]
    rq = cython.declare(dict, visibility="public")  # dict[int, list[list[int]]]
    wq = cython.declare(dict, visibility="public")  # dict[int, list[list[int]]]
    queues = cython.declare(tuple, visibility="public")
    cand = cython.declare(tuple, visibility="public")  # tuple[list[Cand | None], list[Cand | None]]
    ver = cython.declare(tuple, visibility="public")
    pend = cython.declare(list, visibility="public")  # list[list[tuple[int, int, int, int]]]
    rdy = cython.declare(list, visibility="public")  # list[list[tuple[int, int, int]]]
    class_meta = cython.declare(tuple, visibility="public")
    cand_tabs = cython.declare(tuple, visibility="public")
    apply_fns = cython.declare(tuple, visibility="public")
    flat_updates = cython.declare(tuple, visibility="public")
    rank_of = cython.declare(list, visibility="public")
    act_windows = cython.declare(list, visibility="public")
    n_rq = cython.declare(cython.longlong, visibility="public")
    n_wq = cython.declare(cython.longlong, visibility="public")
    rq_cap = cython.declare(cython.longlong, visibility="public")
    wq_cap = cython.declare(cython.longlong, visibility="public")
    wq_hi = cython.declare(cython.longlong, visibility="public")
    wq_lo = cython.declare(cython.longlong, visibility="public")
    rq_free_t = cython.declare(cython.longlong, visibility="public")
    wq_free_t = cython.declare(cython.longlong, visibility="public")
    writing = cython.declare(cython.bint, visibility="public")
    closed_page = cython.declare(cython.bint, visibility="public")
    refresh = cython.declare(str, visibility="public")
    n_cl = cython.declare(cython.longlong, visibility="public")
    n_cwl = cython.declare(cython.longlong, visibility="public")
    n_bl = cython.declare(cython.longlong, visibility="public")
    n_refi = cython.declare(cython.longlong, visibility="public")
    ref_due = cython.declare(cython.longlong, visibility="public")
    ref_pair = cython.declare(cython.longlong, visibility="public")
    ref_groups = cython.declare(tuple, visibility="public")
    seq = cython.declare(cython.longlong, visibility="public")
    log = cython.declare(object, visibility="public")
    counters = cython.declare(object, visibility="public")
    # tag -> [bursts left, first command cycle, done cycle, hits, misses, conflicts]
    tags = cython.declare(dict, visibility="public")
    finished = cython.declare(list, visibility="public")
    # list[tuple[int, int, int, int, int, int]]

    def __init__(self, timing: CompiledTiming, *, read_queue_size: int = 32,
                 write_queue_size: int = 32, write_high_watermark: float = 0.8,
                 write_low_watermark: float = 0.2, page_policy: str = "open",
                 refresh: str = "all_bank", log: list[tuple[int, int, int, int]] | None = None,
                 refresh_groups: Sequence[Sequence[int]] = (),
                 refresh_interval: int | None = None) -> None:
        if page_policy not in ("open", "closed"):
            raise InternalError(f'"page_policy" must be "open" or "closed", got {page_policy!r}')
        if refresh == "per_bank" and not refresh_groups:  # LPDDR5's pairs, the default
            half = timing.org.bank_groups * timing.org.banks_per_group // 2
            refresh_groups = tuple((p, p + half) for p in range(half))
        if refresh not in ("all_bank", "off") and not refresh_groups:
            raise InternalError(f'refresh {refresh!r}: a partial refresh needs "refresh_groups"')
        self.t = timing
        org = timing.org
        self.n_banks = org.banks
        self.banks_per_rank = org.bank_groups * org.banks_per_group
        # compiled: an array read as C integers; interpreted: a list (no boxing on reads)
        n_ready = timing.n_nodes * N_SLOTS
        self.ready = array("q", [0]) * n_ready if cython.compiled else [0] * n_ready
        self.open_row = [NO_ROW] * self.n_banks
        self.n_open = 0
        self.open_since = 0
        self.cmd_free = 0
        self.clk = 0
        self.act_hist = [deque(maxlen=w) for (_, _, _, w) in timing.windows]
        self.fifo = deque()
        self.rq = {}
        self.wq = {}
        self.queues = (self.rq, self.wq)
        # per queue and bank: the FR-FCFS candidate (command, entry, bank-group ready index,
        # bank ready index, arrival) or None, and its version (bumped on every change)
        self.cand = (
            [None] * self.n_banks, [None] * self.n_banks)
        self.ver = ([0] * self.n_banks, [0] * self.n_banks)
        # candidate classes (queue, rank, kind): kind 0 column, 1 PRE, 2 ACT
        n_cls = 2 * org.ranks * 3
        self.pend = [[] for _ in range(n_cls)]
        self.rdy = [[] for _ in range(n_cls)]
        qt = timing.query
        self.class_meta = tuple(
            tuple(((q * org.ranks + r) * 3 + kind, qt[s][r * self.banks_per_rank][0],
                   qt[s][r * self.banks_per_rank][1], 0 if kind == 0 else 1)
                  for r in range(org.ranks)
                  for kind, s in enumerate((SLOT[WR if q else RD], SLOT[PRE], SLOT[ACT])))
            for q in (0, 1))
        # [queue][kind][bank] -> (command, bank-group ready index, bank ready index, heap)
        self.cand_tabs = tuple(
            tuple(tuple((cmd, qt[SLOT[cmd]][b][2], qt[SLOT[cmd]][b][3],
                         self.pend[(q * org.ranks + b // self.banks_per_rank) * 3 + kind])
                        for b in range(self.n_banks))
                  for kind, cmd in enumerate((WR if q else RD, PRE, ACT)))
            for q in (0, 1))
        # [cmd][bank] -> f(R, t): raise R[idx] to t + lat for every (idx, lat) of
        # timing.updates[cmd][bank], unrolled (the loop over the pairs was the largest single
        # cost per issued command)
        # (interpreted only); the compiled build loops in C over the same pairs flattened
        # (idx, lat, idx, lat, ...)
        if cython.compiled:
            self.apply_fns = ()
            self.flat_updates = tuple(tuple(tuple(x for pair in pairs for x in pair)
                                            for pairs in per_bank)
                                      for per_bank in timing.updates)
        else:
            self.apply_fns = tuple(tuple(_unrolled_update(pairs) for pairs in per_bank)
                                   for per_bank in timing.updates)
            self.flat_updates = ()
        self.rank_of = [b // self.banks_per_rank for b in range(self.n_banks)]
        # four-activate windows: (history, rank ready index offset of the ACT slot, latency)
        self.act_windows = [(h, 1 * N_SLOTS + slot, lat)
                            for h, (prec, slot, lat, _) in zip(self.act_hist, timing.windows,
                                                               strict=True) if ACT in prec]
        self.n_rq = self.n_wq = 0
        self.rq_cap, self.wq_cap = read_queue_size, write_queue_size
        self.wq_hi = max(1, round(write_high_watermark * write_queue_size))
        self.wq_lo = round(write_low_watermark * write_queue_size)
        self.rq_free_t = self.wq_free_t = 0
        self.writing = False
        self.closed_page = page_policy == "closed"
        self.refresh = refresh
        v = timing.values
        self.n_cl, self.n_cwl, self.n_bl = v["nCL"], v["nCWL"], v["nBL"]
        self.ref_groups = tuple(tuple(g) for g in refresh_groups) if refresh != "all_bank" \
            else ()
        if refresh_interval is not None:
            self.n_refi = refresh_interval
        else:
            self.n_refi = v["nREFIpb"] if refresh == "per_bank" else v["nREFI"]
        self.ref_due = self.n_refi if refresh != "off" else NEVER
        self.ref_pair = 0
        self.seq = 0
        self.log = log
        self.counters = ChannelCounters()
        self.tags = {}
        # finished requests: (tag, first command cycle, done cycle, hits, misses, conflicts)
        self.finished = []

    # ---- input
    def push(self, tag: int, arrival: int, bursts: Sequence[tuple[int, int, int]],
             is_write: bool) -> None:
        """Queue one request's bursts (bank, row, column) arriving at cycle `arrival`."""
        n = len(bursts)
        if not n:
            raise InternalError("a request needs at least one burst")
        self._count_tag(self.tags, tag, n)
        if n == 1:  # the common case, with fewer steps
            bank, row, col = bursts[0]
            self.seq = seq = self.seq + 1
            self.fifo.append([arrival, bank, row, col, tag, seq, -1, -1, 1 if is_write else 0])
            return
        w = 1 if is_write else 0
        fifo = self.fifo
        seq = self.seq
        for bank, row, col in bursts:
            seq += 1
            fifo.append([arrival, bank, row, col, tag, seq, -1, -1, w])
        self.seq = seq

    @cython.locals(i=cython.Py_ssize_t, n=cython.Py_ssize_t, seq=cython.longlong,
                   fifo=object, recs=dict)
    def push_each(self, tags: Sequence[int], arrivals: Sequence[int], banks: Sequence[int],
                  rows: Sequence[int], cols: Sequence[int], writes: Sequence[bool]) -> None:
        """Queue one one-burst request per position: `push(tags[i], arrivals[i],
        ((banks[i], rows[i], cols[i]),), writes[i])` for every i, without a call per request
        (trace replay and the benchmark feed bursts this way)."""
        n = len(tags)
        if not len(arrivals) == len(banks) == len(rows) == len(cols) == len(writes) == n:
            raise InternalError("push_each: tags, arrivals, banks, rows, cols and writes must "
                                "have the same length")
        fifo = self.fifo
        recs = self.tags
        seq = self.seq
        gc_on = gc.isenabled()
        if gc_on:  # as in `run`: no cycles made, only the walks over queued requests saved
            gc.disable()
        try:
            for i in range(n):
                tag = tags[i]
                self._count_tag(recs, tag, 1)
                seq += 1
                fifo.append([arrivals[i], banks[i], rows[i], cols[i], tag, seq, -1, -1,
                             1 if writes[i] else 0])
        finally:
            self.seq = seq
            if gc_on:
                gc.enable()

    @cython.cfunc
    @cython.locals(recs=dict, n=cython.longlong, rec=list)
    def _count_tag(self, recs, tag, n):  # type: ignore[no-untyped-def]  # (types: cython.locals)
        """`n` more bursts for `tag` in `recs` (self.tags): a lone one-burst request gets the
        shared FRESH_SINGLE marker, anything more a record of its own."""
        rec = recs.get(tag)
        if rec is None:
            recs[tag] = FRESH_SINGLE if n == 1 else [n, -1, 0, 0, 0, 0]
        elif rec is FRESH_SINGLE:
            recs[tag] = [1 + n, -1, 0, 0, 0, 0]
        else:
            rec[0] += n

    def busy(self) -> bool:
        return bool(self.fifo or self.n_rq or self.n_wq)

    # ---- the loop
    def run(self, until: float = INF, final: bool = True) -> None:
        """Issue every command due before cycle `until`. Without `final`, stop when the input
        FIFO runs dry (more bursts may follow with later arrivals)."""
        # The loop allocates many small containers but makes no reference cycles, so the
        # cyclic GC would only re-walk the queued requests (~15 % of the loop's time).
        gc_on = gc.isenabled()
        if gc_on:
            gc.disable()
        try:
            self._run(until, final)
        finally:
            if gc_on:
                gc.enable()

    @cython.locals(
        n_rq=cython.longlong, n_wq=cython.longlong, clk=cython.longlong,
        cmd_free=cython.longlong, rq_free_t=cython.longlong, wq_free_t=cython.longlong,
        t=cython.longlong, g=cython.longlong, lt=cython.longlong, rt=cython.longlong,
        x=cython.longlong, v=cython.longlong, b=cython.longlong, q=cython.longlong,
        seq=cython.longlong, best_t=cython.longlong, best_seq=cython.longlong,
        best_hit=cython.longlong, best_b=cython.longlong, hit=cython.longlong,
        ci=cython.longlong, gch=cython.longlong, gr=cython.longlong, cmd=cython.longlong,
        until_c=cython.longlong, ref_due=cython.longlong, rq_cap=cython.longlong,
        wq_cap=cython.longlong, rq_cap_1=cython.longlong, wq_cap_1=cython.longlong,
        wq_lo=cython.longlong, wq_hi=cython.longlong, command_bus=cython.longlong,
        n_rd_done=cython.longlong, n_wr_done=cython.longlong, done=cython.longlong,
        first=cython.longlong, kind=cython.longlong, arr=cython.longlong,
        ibg=cython.longlong, ibk=cython.longlong, row=cython.longlong, writing=cython.bint,
        closed_page=cython.bint, auto=cython.bint, R=cython.longlong[:], idx=cython.Py_ssize_t,
        head=list, lst=list, cand_q=list,
        ver_q=list, vq=list, pend=list, rdy=list, heap=list, ent=tuple, rent=tuple, c=tuple,
        e=list, e2=list, rec=list, open_row=list, finished=list, pends=list, rdys=list)
    @cython.boundscheck(False)
    @cython.wraparound(False)
    def _run(self, until: float, final: bool) -> None:
        R = self.ready
        fifo = self.fifo
        queues = self.queues
        rq, wq = queues
        cands = self.cand
        vers = self.ver
        pends, rdys = self.pend, self.rdy
        class_meta = self.class_meta
        apply_fns = self.apply_fns
        flat_updates = self.flat_updates
        command_bus = self.t.command_bus
        log = self.log
        closed_page = self.closed_page
        n_rd_done, n_wr_done = self.n_cl + self.n_bl, self.n_cwl + self.n_bl
        rq_cap, wq_cap = self.rq_cap, self.wq_cap
        rq_cap_1, wq_cap_1 = rq_cap - 1, wq_cap - 1
        wq_lo, wq_hi = self.wq_lo, self.wq_hi
        tags = self.tags
        finished = self.finished
        act_windows = self.act_windows
        rank_of = self.rank_of
        open_row = self.open_row
        counters = self.counters
        cand_tabs = self.cand_tabs
        # hot state as locals, written back before returning or calling another method
        n_rq, n_wq, clk, cmd_free = self.n_rq, self.n_wq, self.clk, self.cmd_free
        rq_free_t, wq_free_t, writing = self.rq_free_t, self.wq_free_t, self.writing
        ref_due = self.ref_due  # changed only by _refresh_step
        until_c = NEVER if until >= NEVER else math.ceil(until)  # t < until <=> t < until_c
        while True:
            # admit arrived bursts into the read / write queues
            while fifo:
                head = fifo[0]
                if head[E_WRITE]:
                    if n_wq >= wq_cap or head[E_ARR] > clk:
                        break
                    if wq_free_t > head[E_ARR]:
                        head[E_ARR] = wq_free_t
                    q = 1
                    n_wq += 1
                else:
                    if n_rq >= rq_cap or head[E_ARR] > clk:
                        break
                    if rq_free_t > head[E_ARR]:
                        head[E_ARR] = rq_free_t
                    q = 0
                    n_rq += 1
                fifo.popleft()
                b = head[E_BANK]
                lst = queues[q].get(b)
                if lst is None:
                    queues[q][b] = [head]
                    self._recand(R, q, b)
                else:
                    lst.append(head)
                    if cands[q][b][0] == PRE and head[E_ROW] == open_row[b]:  # type: ignore[index]
                        self._recand(R, q, b)
            if not final and not fifo:
                break
            # read/write mode (write draining by watermarks)
            if writing:
                if n_wq == 0 or (n_wq <= wq_lo and n_rq > 0):
                    writing = False
            elif n_wq >= wq_hi or (n_rq == 0 and n_wq > 0):
                writing = True
            q = 1 if writing else 0
            # FR-FCFS: the command legal earliest; ties -> row hit, then oldest. Per class
            # (queue, rank, column/PRE/ACT) the shared part of the ready time is G (channel and
            # rank nodes, command bus); the bank part L (bank group, bank, arrival) sits in
            # `pend` keyed by a lower bound of L (ready times only grow), or, once L <= G, in
            # `rdy` keyed by age. Stale entries (older candidate versions) are dropped lazily.
            best_t = NEVER
            best_seq = best_hit = 0
            best_b = -1
            cand_q = cands[q]
            ver_q = vers[q]
            for ci, gch, gr, hit in class_meta[q]:
                pend = pends[ci]
                rdy = rdys[ci]
                if not pend and not rdy:
                    continue
                g = R[gch]
                rt = R[gr]
                if rt > g:
                    g = rt
                if cmd_free > g:
                    g = cmd_free
                if g > best_t or (not rdy and pend[0][0] > best_t):
                    continue  # every candidate of the class is later than the best so far
                checked = None  # the rdy entry just validated below (no need to redo it)
                while pend and pend[0][0] <= g:
                    ent = heappop(pend)
                    b = ent[2]
                    if ver_q[b] != ent[3]:
                        continue
                    c = cand_q[b]
                    lt = R[c[2]]  # type: ignore[index]
                    rt = R[c[3]]  # type: ignore[index]
                    if rt > lt:
                        lt = rt
                    if c[4] > lt:  # type: ignore[index]
                        lt = c[4]  # type: ignore[index]
                    if lt <= g:
                        checked = (ent[1], b, ent[3])
                        heappush(rdy, checked)
                    else:
                        heappush(pend, (lt, ent[1], b, ent[3]))
                t = -1
                seq = 0
                while rdy:
                    rent = rdy[0]
                    if rent is checked:
                        t, seq, b = g, rent[0], rent[1]  # type: ignore[index]
                        break
                    b = rent[1]
                    if ver_q[b] != rent[2]:
                        heappop(rdy)
                        continue
                    c = cand_q[b]
                    lt = R[c[2]]  # type: ignore[index]
                    rt = R[c[3]]  # type: ignore[index]
                    if rt > lt:
                        lt = rt
                    if c[4] > lt:  # type: ignore[index]
                        lt = c[4]  # type: ignore[index]
                    if lt > g:
                        heappop(rdy)
                        heappush(pend, (lt, rent[0], b, rent[2]))
                        continue
                    t, seq = g, rent[0]
                    break
                if t < 0:
                    while pend:
                        ent = pend[0]
                        b = ent[2]
                        if ver_q[b] != ent[3]:
                            heappop(pend)
                            continue
                        c = cand_q[b]
                        lt = R[c[2]]  # type: ignore[index]
                        rt = R[c[3]]  # type: ignore[index]
                        if rt > lt:
                            lt = rt
                        if c[4] > lt:  # type: ignore[index]
                            lt = c[4]  # type: ignore[index]
                        if lt != ent[0]:
                            heapreplace(pend, (lt, ent[1], b, ent[3]))
                            continue
                        t, seq = lt, ent[1]
                        break
                    if t < 0:
                        continue
                if t < best_t or (t == best_t and (hit < best_hit or (
                        hit == best_hit and seq < best_seq))):
                    best_t, best_seq, best_hit, best_b = t, seq, hit, b
            # a burst arriving before that decision joins the queues first
            if fifo:
                head = fifo[0]
                room = n_wq < wq_cap if head[E_WRITE] else n_rq < rq_cap
                if room and head[E_ARR] <= best_t:
                    if head[E_ARR] > clk:
                        clk = head[E_ARR]
                    continue
            if (best_b >= 0 and ref_due <= best_t) or (
                    best_b < 0 and until_c < NEVER and ref_due < until_c):
                if ref_due >= until_c:
                    break
                self.cmd_free, self.clk, self.writing = cmd_free, clk, writing
                stepped = self._refresh_step(until_c)
                cmd_free, clk, ref_due = self.cmd_free, self.clk, self.ref_due
                if not stepped:
                    break
                continue
            if best_b < 0 or best_t >= until_c:
                break
            b = best_b
            c = cand_q[b]
            cmd = c[0]  # type: ignore[index]
            e = c[1]  # type: ignore[index]
            t = best_t
            cmd_free = t + command_bus
            clk = t
            if cmd == ACT or cmd == PRE:  # as _issue does
                if cython.compiled:
                    _raise_ready(R, flat_updates[cmd][b], t)
                else:
                    apply_fns[cmd][b](R, t)
                if log is not None:
                    log.append((t, cmd, b, e[E_ROW]))
                if e[E_FIRST] < 0:
                    e[E_FIRST] = t
                if cmd == ACT:
                    for h, off, lat in act_windows:
                        h.append(t)
                        if len(h) == h.maxlen:
                            idx = rank_of[b] * N_SLOTS + off
                            v = h[0] + lat
                            if v > R[idx]:
                                R[idx] = v
                    open_row[b] = e[E_ROW]
                    if self.n_open == 0:
                        self.open_since = t
                    self.n_open += 1
                    counters.acts += 1
                    if e[E_KIND] < 0:
                        e[E_KIND] = MISS
                else:
                    open_row[b] = NO_ROW
                    self.n_open -= 1
                    if self.n_open == 0:
                        counters.open_cycles += t - self.open_since
                    e[E_KIND] = CONFLICT
                # the bank's candidate in this queue: its oldest request `e` again, now as a
                # column command after ACT, as ACT after PRE (what _recand would find)
                vq = vers[q]
                v = vq[b] = vq[b] + 1
                cmd, ibg, ibk, heap = cand_tabs[q][0 if cmd == ACT else 2][b]
                arr = e[E_ARR]
                cand_q[b] = (cmd, e, ibg, ibk, arr)
                lt = R[ibg]
                x = R[ibk]
                if x > lt:
                    lt = x
                if arr > lt:
                    lt = arr
                heappush(heap, (lt, e[E_SEQ], b, v))
                if q:
                    if b in rq or cands[0][b] is not None:
                        self._recand(R, 0, b)
                elif b in wq or cands[1][b] is not None:
                    self._recand(R, 1, b)
                continue
            # column command; with the closed-page policy, auto-precharge when no other queued
            # request hits the row
            lst = queues[q][b]
            if lst[0] is e:
                del lst[0]
            else:
                lst.remove(e)
            if not lst:
                del queues[q][b]
            row = e[E_ROW]
            auto = closed_page
            if auto:  # a loop, not any(<genexpr>): a generator reading a C-typed local
                # (`row`) sees it unset when compiled (cython/cython#5732; tests caught it)
                for y in lst:
                    if y[E_ROW] == row:
                        auto = False
                        break
            if auto:
                cmd = RDA if cmd == RD else WRA
            if cython.compiled:
                _raise_ready(R, flat_updates[cmd][b], t)
            else:
                apply_fns[cmd][b](R, t)
            if log is not None:
                log.append((t, cmd, b, row))
            first = e[E_FIRST]
            if first < 0:
                first = e[E_FIRST] = t
            if q:
                counters.writes += 1
                done = t + n_wr_done
                n_wq -= 1
                if n_wq == wq_cap_1:
                    wq_free_t = t
            else:
                counters.reads += 1
                done = t + n_rd_done
                n_rq -= 1
                if n_rq == rq_cap_1:
                    rq_free_t = t
            if auto:
                open_row[b] = NO_ROW
                self.n_open -= 1
                if self.n_open == 0:
                    counters.open_cycles += t - self.open_since
                if b in rq or cands[0][b] is not None:
                    self._recand(R, 0, b)
                if b in wq or cands[1][b] is not None:
                    self._recand(R, 1, b)
            elif lst and lst[0][E_ROW] == row:  # the next request hits too: _recand inline
                vq = vers[q]
                v = vq[b] = vq[b] + 1
                e2 = lst[0]
                cmd, ibg, ibk, heap = cand_tabs[q][0][b]
                arr = e2[E_ARR]
                cand_q[b] = (cmd, e2, ibg, ibk, arr)
                lt = R[ibg]
                x = R[ibk]
                if x > lt:
                    lt = x
                if arr > lt:
                    lt = arr
                heappush(heap, (lt, e2[E_SEQ], b, v))
            else:
                self._recand(R, q, b)
            kind = e[E_KIND]
            tag = e[E_TAG]
            rec = tags[tag]
            if rec is FRESH_SINGLE:  # the request's only burst
                del tags[tag]
                if kind <= HIT:  # -1: never activated or precharged for, a hit
                    finished.append((tag, first, done, 1, 0, 0))
                elif kind == MISS:
                    finished.append((tag, first, done, 0, 1, 0))
                else:
                    finished.append((tag, first, done, 0, 0, 1))
                continue
            rec[0] -= 1
            if rec[1] < 0 or first < rec[1]:
                rec[1] = first
            if done > rec[2]:
                rec[2] = done
            rec[3 + (HIT if kind < 0 else kind)] += 1
            if rec[0] == 0:
                del tags[tag]
                finished.append((tag, rec[1], rec[2], rec[3], rec[4], rec[5]))
        self.n_rq, self.n_wq, self.clk, self.cmd_free = n_rq, n_wq, clk, cmd_free
        self.rq_free_t, self.wq_free_t, self.writing = rq_free_t, wq_free_t, writing

    @cython.cfunc
    @cython.locals(R=cython.longlong[:], q=cython.longlong, b=cython.longlong,
                   v=cython.longlong, lt=cython.longlong, x=cython.longlong,
                   arr=cython.longlong, ibg=cython.longlong, ibk=cython.longlong, ver=list,
                   lst=list, e=list, heap=list)
    def _recand(self, R, q, b):  # type: ignore[no-untyped-def]  # (types: cython.locals)
        """Recompute the FR-FCFS candidate of bank `b` in queue `q` (0 read, 1 write)."""
        ver = self.ver[q]
        v = ver[b] = ver[b] + 1
        lst = self.queues[q].get(b)
        if not lst:
            self.cand[q][b] = None
            return
        orow = self.open_row[b]
        if orow != NO_ROW:
            for e in lst:
                if e[E_ROW] == orow:
                    tab = self.cand_tabs[q][0][b]
                    break
            else:
                e = lst[0]
                tab = self.cand_tabs[q][1][b]
        else:
            e = lst[0]
            tab = self.cand_tabs[q][2][b]
        cmd, ibg, ibk, heap = tab
        arr = e[E_ARR]
        self.cand[q][b] = (cmd, e, ibg, ibk, arr)
        lt = R[ibg]
        x = R[ibk]
        if x > lt:
            lt = x
        if arr > lt:
            lt = arr
        heappush(heap, (lt, e[E_SEQ], b, v))

    def _earliest(self, cmd: int, bank: int) -> int:
        R = self.ready
        qi = self.t.query[SLOT[cmd]][bank]
        return max(R[qi[0]], R[qi[1]], R[qi[2]], R[qi[3]], self.cmd_free)

    def _refresh_step(self, until: int) -> bool:
        """Issue the next refresh command if it falls before `until`; False if it does not."""
        due = self.ref_due
        if self.refresh == "all_bank":
            # one rank per channel in the presets; with more ranks all are refreshed together
            for r in range(self.t.org.ranks):
                first = r * self.banks_per_rank
                if any(self.open_row[b] != NO_ROW
                       for b in range(first, first + self.banks_per_rank)):
                    t = max(self._earliest(PREA, first), due)
                    if t >= until:
                        return False
                    self._issue(PREA, first, t, None)
                    return True
            starts = [max(self._earliest(REFAB, r * self.banks_per_rank), due)
                      for r in range(self.t.org.ranks)]
            if max(starts) >= until:
                return False
            for r in range(self.t.org.ranks):
                self._issue(REFAB, r * self.banks_per_rank,
                            max(self._earliest(REFAB, r * self.banks_per_rank), due), None)
            self.ref_due = due + self.n_refi
            return True
        # partial: the next bank group in rotation (one command per refresh interval)
        k = self.ref_pair % len(self.ref_groups)
        group = self.ref_groups[k]
        for b in group:
            if self.open_row[b] != NO_ROW:
                t = max(self._earliest(PRE, b), due)
                if t >= until:
                    return False
                self._issue(PRE, b, t, None)
                return True
        t = max(max(self._earliest(REFPB, b) for b in group), due)
        if t >= until:
            return False
        self._issue(REFPB, group[0], t, None, group[1:], k)
        self.ref_pair += 1
        self.ref_due = due + self.n_refi
        return True

    def _apply(self, cmd: int, bank: int, t: int) -> None:
        R = self.ready
        for idx, lat in self.t.updates[cmd][bank]:
            v = t + lat
            if v > R[idx]:
                R[idx] = v

    def _issue(self, cmd: int, bank: int, t: int, e: list[int] | None,
               others: tuple[int, ...] = (), group: int = -1) -> None:
        """Issue an ACT, PRE, PREA or refresh (column commands are issued inline in `_run`)."""
        open_row = self.open_row
        self._apply(cmd, bank, t)
        for b in others:  # the other banks of a partial refresh
            self._apply(cmd, b, t)
        self.cmd_free = t + self.t.command_bus
        self.clk = t
        if self.log is not None:  # (cycle, command, bank, row; for REFpb its bank group)
            self.log.append((t, cmd, bank, group if cmd == REFPB else
                             (open_row[bank] if e is None else e[E_ROW])))
        if e is not None and e[E_FIRST] < 0:
            e[E_FIRST] = t
        c = self.counters
        if cmd == ACT:
            for k, (prec, slot, lat, _) in enumerate(self.t.windows):
                if ACT in prec:
                    h = self.act_hist[k]
                    h.append(t)
                    if len(h) == h.maxlen:
                        r = bank // self.banks_per_rank
                        idx = (1 + r) * N_SLOTS + slot
                        self.ready[idx] = max(self.ready[idx], h[0] + lat)
            open_row[bank] = e[E_ROW]  # type: ignore[index]
            self._recand_both(bank)
            if self.n_open == 0:
                self.open_since = t
            self.n_open += 1
            c.acts += 1
            if e[E_KIND] < 0:  # type: ignore[index]
                e[E_KIND] = MISS  # type: ignore[index]
        elif cmd == PRE:
            self._close(bank, t)
            if e is not None:
                e[E_KIND] = CONFLICT
        elif cmd == PREA:
            first = bank - bank % self.banks_per_rank
            for b in range(first, first + self.banks_per_rank):
                if open_row[b] != NO_ROW:
                    self._close(b, t)
        elif cmd == REFAB:
            c.refresh_ab += 1
        elif cmd == REFPB:
            c.refresh_pb += 1
        else:
            raise InternalError(f"_issue: column command {COMMANDS[cmd]}")

    def _recand_both(self, b: int) -> None:
        if b in self.rq or self.cand[0][b] is not None:
            self._recand(self.ready, 0, b)
        if b in self.wq or self.cand[1][b] is not None:
            self._recand(self.ready, 1, b)

    def _close(self, bank: int, t: int) -> None:
        self.open_row[bank] = NO_ROW
        self._recand_both(bank)
        self.n_open -= 1
        if self.n_open == 0:
            self.counters.open_cycles += t - self.open_since

    def open_cycles(self, now: int) -> int:
        """Cycles so far with at least one bank open (active standby)."""
        extra = now - self.open_since if self.n_open else 0
        return self.counters.open_cycles + extra


def _compiled_module() -> tuple[object | None, str]:
    """The Cython build of this file (setup.py), if present and built from these exact bytes."""
    if cython.compiled:  # this is that build: nothing to select
        return None, "compiled"
    if os.environ.get("QMCSIM_PURE_PYTHON"):
        return None, "python (QMCSIM_PURE_PYTHON is set)"
    try:
        from qmcsim.memories.dram import _ccontroller  # type: ignore[attr-defined]
    except ImportError:
        return None, "python (no compiled controller: install with a C compiler to build it)"
    digest = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
    if getattr(_ccontroller, "SOURCE_SHA256", None) != digest:
        return None, "python (compiled controller is stale: rerun `pip install -e .`)"
    return _ccontroller, "compiled"


# `ChannelController` is the compiled build of FrFcfsController when there is a fresh one,
# else this module's (same source, same command logs: tests/dram/test_burst_equivalence.py
# runs both); `PythonChannelController` is always the interpreted one
PythonChannelController = FrFcfsController
_compiled, IMPLEMENTATION = _compiled_module()
if TYPE_CHECKING:
    ChannelController = FrFcfsController
else:
    ChannelController = FrFcfsController if _compiled is None else _compiled.FrFcfsController

__all__ = ["CAS", "CONFLICT", "HIT", "IMPLEMENTATION", "MISS", "ChannelController",
           "CompiledTiming", "PythonChannelController"]
