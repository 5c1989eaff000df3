"""Replays an issued command log against the constraint table and flags every violation.

Independent of the controller's compiled tables: for each command it walks the constraints of
the standard (spec.py, `Standard.resolved`) directly, against the last issue times recorded per
(level node, command), plus the bank-state rules (ACT needs a closed bank, RD/WR an open bank
on the same row, refresh needs the refreshed banks closed).
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from qmcsim.memories.dram.spec import (
    ACT,
    CMD,
    COMMANDS,
    PRE,
    PREA,
    RDA,
    REFAB,
    REFPB,
    WRA,
    Constraint,
    Organisation,
)

RANK_SCOPE = frozenset({PREA, REFAB})


@dataclass(frozen=True, slots=True)
class Violation:
    index: int
    cycle: int
    command: str
    bank: int
    rule: str
    earliest: int | None = None

    def __str__(self) -> str:
        when = f" (earliest legal cycle {self.earliest})" if self.earliest is not None else ""
        return (f"#{self.index} cycle {self.cycle} {self.command} bank {self.bank}: "
                f"{self.rule}{when}")


def check_log(log: Iterable[tuple[int, int, int, int]], constraints: Sequence[Constraint],
              values: dict[str, int], org: Organisation,
              refresh_groups: Sequence[Sequence[int]] = (),
              names: Sequence[str] = COMMANDS) -> list[Violation]:
    """All violations in a log of (cycle, command id, bank, row) of one channel.

    `constraints` in the controller's command roles (a standard's `resolved`); a partial
    refresh's row field indexes `refresh_groups` (default: LPDDR5's per-bank pairs); `names`
    are the standard's command names for the messages."""
    if not refresh_groups:
        half = org.bank_groups * org.banks_per_group // 2
        refresh_groups = [(p, p + half) for p in range(half)]
    per_rank = org.bank_groups * org.banks_per_group
    lat = [con.latency.cycles(values) for con in constraints]
    last: dict[tuple[str, int, int], int] = {}
    hist: dict[tuple[int, int], deque[int]] = defaultdict(deque)
    open_row: dict[int, int] = {}
    out: list[Violation] = []
    prev_cycle = None

    def node(level: str, bank: int) -> int:
        if level == "channel":
            return 0
        if level == "rank":
            return bank // per_rank
        if level == "bankgroup":
            return bank // org.banks_per_group
        return bank

    for i, (t, cmd, bank, row) in enumerate(log):
        name = COMMANDS[cmd]  # role name (the constraints'); messages use the standard's
        shown = names[cmd]
        if prev_cycle is not None and t < prev_cycle:
            out.append(Violation(i, t, shown, bank, f"issued before the previous command "
                                 f"(cycle {prev_cycle})"))
        prev_cycle = t
        banks = list(refresh_groups[row]) if cmd == REFPB else [bank]
        rank = bank // per_rank
        # timing constraints
        for k, con in enumerate(constraints):
            if name not in con.following:
                continue
            if cmd in RANK_SCOPE and con.level in ("bankgroup", "bank"):
                continue
            if con.window > 1:
                h = hist[(k, rank)]
                if len(h) >= con.window and t < h[-con.window] + lat[k]:
                    out.append(Violation(i, t, shown, bank, f"{con.level} {con.preceding} -> "
                               f"{name} within {lat[k]} over a window of {con.window}",
                               h[-con.window] + lat[k]))
                continue
            for b in banks:
                if con.sibling:
                    targets = [r for r in range(org.ranks) if r != rank]
                else:
                    targets = [node(con.level, b)]
                for tgt in targets:
                    for p in con.preceding:
                        tp = last.get((con.level, tgt, CMD[p]))
                        if tp is not None and t < tp + lat[k]:
                            out.append(Violation(i, t, shown, b, f"{con.level}: {p} at cycle {tp}"
                                                 f" -> {name} needs {lat[k]} cycles"
                                                 f" ({con.note or 'constraint'})", tp + lat[k]))
        # bank state
        if cmd == ACT:
            if bank in open_row:
                out.append(Violation(i, t, shown, bank, "ACT to an open bank"))
            open_row[bank] = row
        elif cmd in (PRE,):
            open_row.pop(bank, None)
        elif cmd == PREA:
            for b in range(rank * per_rank, (rank + 1) * per_rank):
                open_row.pop(b, None)
        elif cmd == REFAB:
            if any(b in open_row for b in range(rank * per_rank, (rank + 1) * per_rank)):
                out.append(Violation(i, t, shown, bank, "REFab with a bank open"))
        elif cmd == REFPB:
            if any(b in open_row for b in banks):
                out.append(Violation(i, t, shown, bank, "REFpb to an open bank"))
        else:
            if open_row.get(bank) != row:
                out.append(Violation(i, t, shown, bank, f"column command to row {row} but open "
                                     f"row is {open_row.get(bank)}"))
            if cmd in (RDA, WRA):
                open_row.pop(bank, None)
        # record this command's issue time at every node it belongs to
        for b in banks:
            for level in ("channel", "rank", "bankgroup", "bank"):
                if cmd in RANK_SCOPE and level in ("bankgroup", "bank"):
                    continue
                last[(level, node(level, b), cmd)] = t
        for k, con in enumerate(constraints):
            if con.window > 1 and name in con.preceding:
                h = hist[(k, rank)]
                h.append(t)
                if len(h) > con.window:
                    h.popleft()
    return out
