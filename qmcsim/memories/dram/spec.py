"""The LPDDR5 standard as data: levels, commands, and timing constraints over named parameters.

A constraint reads "at `level`, after any of `preceding`, none of `following` may issue until
`latency` cycles have passed" (for `window` > 1: counted from the `window`-th most recent
preceding command, as tFAW). `sibling` constraints apply between different nodes of the level
(rank-to-rank switching). Latencies are sums and differences of named cycle counts (`nCL`),
parsed here without eval. The layout follows Ramulator 2's constraint tables
(CMU-SAFARI/ramulator2, src/dram/impl/LPDDR5.cpp); values come from the presets.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

LEVELS = ("channel", "rank", "bankgroup", "bank", "row", "column")

# Commands. RDA/WRA are read/write with auto-precharge. PREA precharges all banks of a rank.
COMMANDS = ("ACT", "PRE", "PREA", "RD", "WR", "RDA", "WRA", "REFab", "REFpb")
CMD = {name: i for i, name in enumerate(COMMANDS)}
ACT, PRE, PREA, RD, WR, RDA, WRA, REFAB, REFPB = range(len(COMMANDS))
COLUMN_COMMANDS = frozenset({RD, WR, RDA, WRA})
READS = frozenset({RD, RDA})
WRITES = frozenset({WR, WRA})
# Scope: the level a command addresses (rank-wide commands carry no bank).
SCOPE = {"ACT": "bank", "PRE": "bank", "PREA": "rank", "RD": "bank", "WR": "bank",
         "RDA": "bank", "WRA": "bank", "REFab": "rank", "REFpb": "bank"}

ALL = tuple(COMMANDS)
RDS = ("RD", "RDA")
WRS = ("WR", "WRA")
CAS = RDS + WRS


@dataclass(frozen=True, slots=True)
class Latency:
    """A signed sum of named cycle counts and an integer constant."""

    terms: tuple[tuple[int, str], ...]
    constant: int = 0

    @classmethod
    def parse(cls, text: str) -> Latency:
        tokens = re.findall(r"[+-]|[A-Za-z_][A-Za-z0-9_]*|\d+|\S", text)
        terms: list[tuple[int, str]] = []
        constant, sign, expect_operand = 0, 1, True
        for tok in tokens:
            if tok in "+-" and len(tok) == 1:
                if expect_operand and terms == [] and constant == 0 and tok == "-":
                    sign = -1
                    continue
                if expect_operand:
                    raise ValueError(f"latency {text!r}: operator {tok!r} without an operand")
                sign, expect_operand = (1 if tok == "+" else -1), True
            elif tok.isdigit() or re.fullmatch(r"[A-Za-z_]\w*", tok):
                if not expect_operand:
                    raise ValueError(f"latency {text!r}: missing operator before {tok!r}")
                if tok.isdigit():
                    constant += sign * int(tok)
                else:
                    terms.append((sign, tok))
                expect_operand = False
            else:
                raise ValueError(f"latency {text!r}: unexpected {tok!r}")
        if expect_operand:
            raise ValueError(f"latency {text!r}: ends with an operator")
        return cls(tuple(terms), constant)

    def names(self) -> set[str]:
        return {name for _, name in self.terms}

    def cycles(self, values: Mapping[str, int]) -> int:
        missing = self.names() - set(values)
        if missing:
            raise KeyError(f"timing parameter(s) {sorted(missing)} not defined")
        return self.constant + sum(sign * values[name] for sign, name in self.terms)


@dataclass(frozen=True, slots=True)
class Constraint:
    level: str
    preceding: tuple[str, ...]
    following: tuple[str, ...]
    latency: Latency
    window: int = 1
    sibling: bool = False
    note: str = ""


def c(level: str, preceding: tuple[str, ...] | str, following: tuple[str, ...] | str,
      latency: str, *, window: int = 1, sibling: bool = False, note: str = "") -> Constraint:
    def as_tuple(x: tuple[str, ...] | str) -> tuple[str, ...]:
        return (x,) if isinstance(x, str) else tuple(x)

    con = Constraint(level, as_tuple(preceding), as_tuple(following), Latency.parse(latency),
                     window, sibling, note)
    if level not in LEVELS[:4]:
        raise ValueError(f"constraint level {level!r} must be one of {LEVELS[:4]}")
    for name in con.preceding + con.following:
        if name not in CMD:
            raise ValueError(f"unknown command {name!r} in a constraint")
    return con


# JESD209-5 (LPDDR5) timing constraints, bank-group mode, one command per CK on the CA bus.
LPDDR5_CONSTRAINTS: tuple[Constraint, ...] = (
    # --- channel: command bus and data bus
    c("channel", ALL, ALL, "1", note="command bus: one command per CK"),
    c("channel", RDS, RDS, "nBL", note="data bus occupancy"),
    c("channel", WRS, WRS, "nBL", note="data bus occupancy"),
    # --- rank (different bank groups)
    c("rank", RDS, RDS, "nCCD_S"),
    c("rank", WRS, WRS, "nCCD_S"),
    c("rank", RDS, WRS, "nCL + nBL + 2 - nCWL", note="read to write turnaround"),
    c("rank", WRS, RDS, "nCWL + nBL + nWTR_S", note="tWTR_S"),
    c("rank", RDS, CAS, "nBL + nCS", sibling=True, note="rank switch"),
    c("rank", WRS, RDS, "nCL + nBL + nCS - nCWL", sibling=True, note="rank switch"),
    c("rank", "RD", "PREA", "nRTP"),
    c("rank", "WR", "PREA", "nCWL + nBL + nWR"),
    c("rank", "ACT", "ACT", "nRRD_S"),
    c("rank", "ACT", "ACT", "nFAW", window=4, note="four-activate window"),
    c("rank", "ACT", "PREA", "nRAS"),
    c("rank", "PREA", "ACT", "nRPab"),
    c("rank", "ACT", "REFab", "nRC"),
    c("rank", "PRE", "REFab", "nRPpb"),
    c("rank", "PREA", "REFab", "nRPab"),
    c("rank", "RDA", "REFab", "nRTP + nRPpb"),
    c("rank", "WRA", "REFab", "nCWL + nBL + nWR + nRPpb"),
    c("rank", "REFab", ("ACT", "REFab", "REFpb"), "nRFCab"),
    c("rank", "ACT", "REFpb", "nRRD_S"),
    c("rank", "REFpb", "ACT", "nPBR2ACT"),
    c("rank", "REFpb", "REFpb", "nPBR2PBR"),
    # --- bank group
    c("bankgroup", RDS, RDS, "nCCD_L"),
    c("bankgroup", WRS, WRS, "nCCD_L"),
    c("bankgroup", WRS, RDS, "nCWL + nBL + nWTR_L", note="tWTR_L"),
    c("bankgroup", "ACT", "ACT", "nRRD_L"),
    # --- bank
    c("bank", "ACT", "ACT", "nRC"),
    c("bank", "ACT", CAS, "nRCD"),
    c("bank", "ACT", "PRE", "nRAS"),
    c("bank", "PRE", "ACT", "nRPpb"),
    c("bank", "RD", "PRE", "nRTP"),
    c("bank", "WR", "PRE", "nCWL + nBL + nWR"),
    c("bank", "RDA", "ACT", "nRTP + nRPpb"),
    c("bank", "WRA", "ACT", "nCWL + nBL + nWR + nRPpb"),
    c("bank", "ACT", "REFpb", "nRC"),
    c("bank", "PRE", "REFpb", "nRPpb"),
    c("bank", "RDA", "REFpb", "nRTP + nRPpb"),
    c("bank", "WRA", "REFpb", "nCWL + nBL + nWR + nRPpb"),
    c("bank", "REFpb", "ACT", "nRFCpb"),
)


def jedec_cycles(t_ns: float, t_ck_ns: float) -> int:
    """Nanoseconds -> whole clock cycles, rounding up with JEDEC's 2.5 % guard band."""
    return max(0, math.ceil(t_ns / t_ck_ns - 0.025))


@dataclass(frozen=True, slots=True)
class Organisation:
    """One channel's hierarchy; the channel count belongs to the memory (`count`)."""

    ranks: int
    bank_groups: int
    banks_per_group: int
    rows: int
    columns: int
    channel_width_bits: int
    burst_length: int

    @property
    def banks(self) -> int:
        return self.ranks * self.bank_groups * self.banks_per_group

    @property
    def burst_bytes(self) -> int:
        return self.channel_width_bits * self.burst_length // 8

    @property
    def bursts_per_row(self) -> int:
        return self.columns // self.burst_length

    @property
    def row_bytes(self) -> int:
        return self.columns * self.channel_width_bits // 8

    @property
    def capacity_bytes(self) -> int:
        return self.banks * self.rows * self.row_bytes
