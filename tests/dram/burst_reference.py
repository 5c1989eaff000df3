"""FROZEN reference: the burst-mode ChannelController as it was before the speed work.

Kept only for tests/dram/test_burst_equivalence.py, which asserts the optimised controller
issues exactly the same command log. Do not edit (except to keep linters quiet).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

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
NO_ROW = -1  # open_row value of a closed bank
# slot of each command in a node's ready-time vector (RDA shares RD's, WRA shares WR's)
SLOT = (0, 1, 2, 3, 4, 3, 4, 5, 6)
N_SLOTS = 7
HIT, MISS, CONFLICT = 0, 1, 2
# entry fields: arrival, bank, row, column, tag, seq, kind, first command cycle, is_write
E_ARR, E_BANK, E_ROW, E_COL, E_TAG, E_SEQ, E_KIND, E_FIRST, E_WRITE = range(9)


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
                    raise ValueError("window constraints are supported at rank level only")
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


@dataclass
class ChannelCounters:
    acts: int = 0
    reads: int = 0
    writes: int = 0
    refresh_ab: int = 0
    refresh_pb: int = 0
    open_cycles: int = 0  # cycles with at least one bank open (active standby)


class ChannelController:
    """FR-FCFS controller of one channel. Feed bursts with `push`, advance with `run`."""

    def __init__(self, timing: CompiledTiming, *, read_queue_size: int = 32,
                 write_queue_size: int = 32, write_high_watermark: float = 0.8,
                 write_low_watermark: float = 0.2, page_policy: str = "open",
                 refresh: str = "all_bank", log: list[tuple[int, int, int, int]] | None = None,
                 refresh_groups: Sequence[Sequence[int]] = (),
                 refresh_interval: int | None = None) -> None:
        if page_policy not in ("open", "closed"):
            raise ValueError(f'"page_policy" must be "open" or "closed", got {page_policy!r}')
        if refresh == "per_bank" and not refresh_groups:  # LPDDR5's pairs
            half = timing.org.bank_groups * timing.org.banks_per_group // 2
            refresh_groups = tuple((p, p + half) for p in range(half))
        if refresh not in ("all_bank", "off") and not refresh_groups:
            raise ValueError(f"refresh {refresh!r} needs refresh_groups")
        self.ref_groups = tuple(tuple(g) for g in refresh_groups)
        self.t = timing
        org = timing.org
        self.n_banks = org.banks
        self.banks_per_rank = org.bank_groups * org.banks_per_group
        self.ready = [0] * (timing.n_nodes * N_SLOTS)
        self.open_row = [NO_ROW] * self.n_banks
        self.n_open = 0
        self.open_since = 0
        self.cmd_free = 0
        self.clk = 0
        self.act_hist: list[deque[int]] = [deque(maxlen=w) for (_, _, _, w) in timing.windows]
        self.fifo: deque[list[int]] = deque()
        self.rq: dict[int, list[list[int]]] = {}
        self.wq: dict[int, list[list[int]]] = {}
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
        self.n_refi = refresh_interval if refresh_interval is not None else \
            (v["nREFIpb"] if refresh == "per_bank" else v["nREFI"])
        self.ref_due = self.n_refi if refresh != "off" else INF
        self.ref_pair = 0
        self.seq = 0
        self.log = log
        self.counters = ChannelCounters()
        self.tags: dict[int, list[int]] = {}
        # finished requests: (tag, first command cycle, done cycle, hits, misses, conflicts)
        self.finished: list[tuple[int, int, int, int, int, int]] = []

    # ---- input
    def push(self, tag: int, arrival: int, bursts: Sequence[tuple[int, int, int]],
             is_write: bool) -> None:
        """Queue one request's bursts (bank, row, column) arriving at cycle `arrival`."""
        if not bursts:
            raise ValueError("a request needs at least one burst")
        rec = self.tags.get(tag)
        if rec is None:
            self.tags[tag] = [len(bursts), -1, 0, 0, 0, 0]
        else:
            rec[0] += len(bursts)
        w = 1 if is_write else 0
        fifo = self.fifo
        seq = self.seq
        for bank, row, col in bursts:
            seq += 1
            fifo.append([arrival, bank, row, col, tag, seq, -1, -1, w])
        self.seq = seq

    def busy(self) -> bool:
        return bool(self.fifo or self.n_rq or self.n_wq)

    # ---- the loop
    def run(self, until: float = INF, final: bool = True) -> None:
        """Issue every command due before cycle `until`. Without `final`, stop when the input
        FIFO runs dry (more bursts may follow with later arrivals)."""
        R = self.ready
        q_col_rd, q_col_wr = self.t.query[SLOT[RD]], self.t.query[SLOT[WR]]
        q_pre, q_act = self.t.query[SLOT[PRE]], self.t.query[SLOT[ACT]]
        open_row = self.open_row
        fifo = self.fifo
        while True:
            # admit arrived bursts into the read / write queues
            while fifo:
                head = fifo[0]
                if head[E_WRITE]:
                    if self.n_wq >= self.wq_cap or head[E_ARR] > self.clk:
                        break
                    head[E_ARR] = max(head[E_ARR], self.wq_free_t)
                    self._enqueue(self.wq, head)
                    self.n_wq += 1
                else:
                    if self.n_rq >= self.rq_cap or head[E_ARR] > self.clk:
                        break
                    head[E_ARR] = max(head[E_ARR], self.rq_free_t)
                    self._enqueue(self.rq, head)
                    self.n_rq += 1
                fifo.popleft()
            if not final and not fifo:
                return
            # read/write mode (write draining by watermarks)
            n_rq, n_wq = self.n_rq, self.n_wq
            if self.writing:
                if n_wq == 0 or (n_wq <= self.wq_lo and n_rq > 0):
                    self.writing = False
            elif n_wq >= self.wq_hi or (n_rq == 0 and n_wq > 0):
                self.writing = True
            if self.writing:
                queue, q_col, col_cmd = self.wq, q_col_wr, WR
            else:
                queue, q_col, col_cmd = self.rq, q_col_rd, RD
            # FR-FCFS: the command legal earliest; ties -> row hit, then oldest
            best_t = INF
            best_e = None
            best_cmd = 0
            best_hit = 1
            cmd_free = self.cmd_free
            for b, lst in queue.items():
                orow = open_row[b]
                e = None
                if orow != NO_ROW:
                    for x in lst:
                        if x[E_ROW] == orow:
                            e = x
                            break
                    if e is not None:
                        cmd, qi, hit = col_cmd, q_col[b], 0
                    else:
                        e, cmd, qi, hit = lst[0], PRE, q_pre[b], 1
                else:
                    e, cmd, qi, hit = lst[0], ACT, q_act[b], 1
                # max of the four node ready times, the command bus and the arrival, inline
                # (builtin max() calls dominate the loop's cost)
                t = R[qi[0]]
                rt = R[qi[1]]
                if rt > t:
                    t = rt
                rt = R[qi[2]]
                if rt > t:
                    t = rt
                rt = R[qi[3]]
                if rt > t:
                    t = rt
                if cmd_free > t:
                    t = cmd_free
                rt = e[E_ARR]
                if rt > t:
                    t = rt
                if t < best_t or (t == best_t and (hit < best_hit or (
                        hit == best_hit and e[E_SEQ] < best_e[E_SEQ]))):  # type: ignore[index]
                    best_t, best_e, best_cmd, best_hit = t, e, cmd, hit
            # a burst arriving before that decision joins the queues first
            if fifo:
                head = fifo[0]
                room = self.n_wq < self.wq_cap if head[E_WRITE] else self.n_rq < self.rq_cap
                if room and head[E_ARR] <= best_t:
                    self.clk = max(self.clk, head[E_ARR])
                    continue
            if (best_e is not None and self.ref_due <= best_t) or (
                    best_e is None and until < INF and self.ref_due < until):
                if self.ref_due >= until or not self._refresh_step(until):
                    return
                continue
            if best_e is None or best_t >= until:
                return
            self._issue(best_cmd, best_e[E_BANK], int(best_t), best_e, queue)

    @staticmethod
    def _enqueue(queue: dict[int, list[list[int]]], e: list[int]) -> None:
        lst = queue.get(e[E_BANK])
        if lst is None:
            queue[e[E_BANK]] = [e]
        else:
            lst.append(e)

    def _earliest(self, cmd: int, bank: int) -> int:
        R = self.ready
        qi = self.t.query[SLOT[cmd]][bank]
        return max(R[qi[0]], R[qi[1]], R[qi[2]], R[qi[3]], self.cmd_free)

    def _refresh_step(self, until: float) -> bool:
        """Issue the next refresh command if it falls before `until`; False if it does not."""
        due = int(self.ref_due)
        if self.refresh == "all_bank":
            # one rank per channel in the presets; with more ranks all are refreshed together
            for r in range(self.t.org.ranks):
                first = r * self.banks_per_rank
                if any(self.open_row[b] != NO_ROW
                       for b in range(first, first + self.banks_per_rank)):
                    t = max(self._earliest(PREA, first), due)
                    if t >= until:
                        return False
                    self._issue(PREA, first, t, None, None)
                    return True
            starts = [max(self._earliest(REFAB, r * self.banks_per_rank), due)
                      for r in range(self.t.org.ranks)]
            if max(starts) >= until:
                return False
            for r in range(self.t.org.ranks):
                self._issue(REFAB, r * self.banks_per_rank,
                            max(self._earliest(REFAB, r * self.banks_per_rank), due), None, None)
            self.ref_due = due + self.n_refi
            return True
        # partial refresh: the next bank group in rotation
        k = self.ref_pair % len(self.ref_groups)
        pair = self.ref_groups[k]
        for b in pair:
            if self.open_row[b] != NO_ROW:
                t = max(self._earliest(PRE, b), due)
                if t >= until:
                    return False
                self._issue(PRE, b, t, None, None)
                return True
        t = max(max(self._earliest(REFPB, b) for b in pair), due)
        if t >= until:
            return False
        self._issue(REFPB, pair[0], t, None, None, pair[1:], k)
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
               queue: dict[int, list[list[int]]] | None, others: tuple[int, ...] = (),
               group: int = -1) -> None:
        open_row = self.open_row
        if cmd == RD or cmd == WR:
            row = open_row[bank]
            lst = queue[bank]  # type: ignore[index]
            lst.remove(e)  # type: ignore[arg-type]
            if not lst:
                del queue[bank]  # type: ignore[union-attr]
            if self.closed_page and not any(x[E_ROW] == row for x in lst):
                cmd = RDA if cmd == RD else WRA
        self._apply(cmd, bank, t)
        for b in others:
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
        else:  # column command
            is_write = cmd == WR or cmd == WRA
            if is_write:
                c.writes += 1
                done = t + self.n_cwl + self.n_bl
                self.n_wq -= 1
                if self.n_wq == self.wq_cap - 1:
                    self.wq_free_t = t
            else:
                c.reads += 1
                done = t + self.n_cl + self.n_bl
                self.n_rq -= 1
                if self.n_rq == self.rq_cap - 1:
                    self.rq_free_t = t
            if cmd == RDA or cmd == WRA:
                self._close(bank, t)
            kind = e[E_KIND]  # type: ignore[index]
            rec = self.tags[e[E_TAG]]  # type: ignore[index]
            rec[0] -= 1
            if rec[1] < 0 or e[E_FIRST] < rec[1]:  # type: ignore[index]
                rec[1] = e[E_FIRST]  # type: ignore[index]
            rec[2] = max(rec[2], done)
            rec[3 + (HIT if kind < 0 else kind)] += 1
            if rec[0] == 0:
                tag = e[E_TAG]  # type: ignore[index]
                del self.tags[tag]
                self.finished.append((tag, rec[1], rec[2], rec[3], rec[4], rec[5]))

    def _close(self, bank: int, t: int) -> None:
        self.open_row[bank] = NO_ROW
        self.n_open -= 1
        if self.n_open == 0:
            self.counters.open_cycles += t - self.open_since

    def open_cycles(self, now: int) -> int:
        """Cycles so far with at least one bank open (active standby)."""
        extra = now - self.open_since if self.n_open else 0
        return self.counters.open_cycles + extra


__all__ = ["CAS", "CONFLICT", "HIT", "MISS", "ChannelController", "CompiledTiming"]
