"""DRAM standards as data: levels, commands, timing constraints over named parameters, refresh.

A standard (LPDDR5, DDR5, HBM3, ...) is one module in `qmcsim/memories/dram/standards/` that
builds a `Standard` and registers it; a preset names it with `standard:` (default `lpddr5`).
Nothing else names a standard: the controller, the checker, fast mode, replay and the energy
model look the standard up from the parameters (`get_standard(params.standard)`).

Every standard speaks the controller's nine command roles (ACT, PRE, PREA, RD, WR, RDA, WRA,
all-bank refresh, partial refresh) under its own names (DDR5 calls its partial refresh REFsb)
and its own level names (HBM3's second level is the pseudo channel); `Standard.resolved` maps its
constraints onto the roles and the four structural levels the controller compiles.

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
import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field

from qmcsim.errors import InternalError

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
                    raise InternalError(f"latency {text!r}: operator {tok!r} without an operand")
                sign, expect_operand = (1 if tok == "+" else -1), True
            elif tok.isdigit() or re.fullmatch(r"[A-Za-z_]\w*", tok):
                if not expect_operand:
                    raise InternalError(f"latency {text!r}: missing operator before {tok!r}")
                if tok.isdigit():
                    constant += sign * int(tok)
                else:
                    terms.append((sign, tok))
                expect_operand = False
            else:
                raise InternalError(f"latency {text!r}: unexpected {tok!r}")
        if expect_operand:
            raise InternalError(f"latency {text!r}: ends with an operator")
        return cls(tuple(terms), constant)

    def names(self) -> set[str]:
        return {name for _, name in self.terms}

    def cycles(self, values: Mapping[str, int]) -> int:
        missing = self.names() - set(values)
        if missing:
            raise InternalError(f"timing parameter(s) {sorted(missing)} not defined")
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

    # level and command names are checked against the standard that lists the constraint
    return Constraint(level, as_tuple(preceding), as_tuple(following), Latency.parse(latency),
                      window, sibling, note)


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


# ---------------------------------------------------------------------------- standards

class TimingBase(BaseModel):
    """A standard's `timing:` record: its fields are the preset's named timing parameters.

    Here the core JEDEC parameters every standard shares (cycle counts `n_*` in CK); a
    standard's subclass adds its own (row-to-column and precharge variants, refresh times,
    clock ratios) and `transfers_per_ck`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    data_rate_mt_per_s: float = Field(gt=0, description="DQ transfers per second per pin / 1e6")
    n_cl: int = Field(ge=1, description="read latency (CL / RL) in CK")
    n_cwl: int = Field(ge=1, description="write latency (CWL / WL) in CK")
    n_ras: int = Field(ge=1, description="ACT to PRE, same bank")
    n_rc: int = Field(ge=1, description="ACT to ACT, same bank")
    n_wr: int = Field(ge=1, description="write recovery: end of write data to PRE")
    n_rtp: int = Field(ge=1, description="RD to PRE")
    n_ccd_s: int = Field(ge=1, description="column to column, different bank groups")
    n_ccd_l: int = Field(ge=1, description="column to column, same bank group")
    n_rrd_s: int = Field(ge=1, description="ACT to ACT, different bank groups")
    n_rrd_l: int = Field(ge=1, description="ACT to ACT, same bank group")
    n_faw: int = Field(ge=1, description="four-activate window")
    n_wtr_s: int = Field(ge=1, description="end of write data to RD, different bank groups")
    n_wtr_l: int = Field(ge=1, description="end of write data to RD, same bank group")
    t_refi_ns: float = Field(gt=0, description="all-bank refresh interval")

    @property
    def transfers_per_ck(self) -> int:
        """Data beats per command-clock cycle (DDR5: 2; LPDDR5: 2 x WCK:CK; HBM3: 4)."""
        raise NotImplementedError

    @property
    def t_ck_ns(self) -> float:
        """Command clock period."""
        return self.transfers_per_ck * 1000.0 / self.data_rate_mt_per_s


T = TypeVar("T", bound=TimingBase)


def timing_as(timing: TimingBase, timing_class: type[T]) -> T:
    """A standard's `cycles()` gets its own timing record (DramParams validates it so)."""
    if not isinstance(timing, timing_class):
        raise InternalError(f"a {timing_class.__name__} record expected, got "
                            f"{type(timing).__name__}")
    return timing


# named cycle values every standard provides: fast mode's closed forms and the refresh model
REQUIRED_VALUES = frozenset({"nBL", "nCL", "nCWL", "nRCD", "nRPpb", "nRPab", "nRFCab", "nREFI"})


def pair_halves(org: Organisation) -> tuple[tuple[int, ...], ...]:
    """LPDDR5 per-bank refresh: banks p and p + n/2 of rank 0 together."""
    half = org.bank_groups * org.banks_per_group // 2
    return tuple((p, p + half) for p in range(half))


def same_bank_in_every_group(org: Organisation) -> tuple[tuple[int, ...], ...]:
    """DDR5 same-bank refresh: bank k of every bank group of rank 0 together."""
    return tuple(tuple(g * org.banks_per_group + k for g in range(org.bank_groups))
                 for k in range(org.banks_per_group))


def single_banks(org: Organisation) -> tuple[tuple[int, ...], ...]:
    """HBM3 per-bank refresh: one bank of rank 0 per command."""
    return tuple((b,) for b in range(org.bank_groups * org.banks_per_group))


@dataclass(frozen=True)
class RefreshScheme:
    """One refresh mode of a standard: which command, how often, which banks each time."""

    command: str  # the standard's name of the all-bank or the partial refresh command
    interval: str  # named cycle value between two commands (nREFI, nREFIpb, ...)
    # partial refresh: the bank groups refreshed by successive commands, in rotation
    banks: Callable[[Organisation], tuple[tuple[int, ...], ...]] | None = None


@dataclass(frozen=True)
class Standard:
    """A DRAM standard: the data a new standard supplies, and nothing else."""

    name: str  # what a preset's `standard:` says
    title: str  # with its JEDEC document
    levels: tuple[str, ...]  # six names, structural order channel .. column
    commands: tuple[str, ...]  # nine names, in the controller's role order (COMMANDS)
    constraints: tuple[Constraint, ...]
    timing_class: type[TimingBase]
    # named cycle values (the constraint latencies' names and REQUIRED_VALUES) of a timing
    # record and organisation
    cycles: Callable[[TimingBase, Organisation], dict[str, int]]
    refresh: Mapping[str, RefreshScheme]
    burst_lengths: tuple[int, ...]  # legal BL (prefetch) of the standard
    resolved: tuple[Constraint, ...] = field(init=False)

    def __post_init__(self) -> None:
        if len(self.levels) != len(LEVELS) or len(self.commands) != len(COMMANDS):
            raise InternalError(f"standard {self.name!r}: {len(LEVELS)} levels and "
                                f"{len(COMMANDS)} commands (the controller's roles) expected")
        role = dict(zip(self.commands, COMMANDS, strict=True))
        level = dict(zip(self.levels[:4], LEVELS[:4], strict=True))
        out = []
        for con in self.constraints:
            if con.level not in level:
                raise InternalError(f"standard {self.name!r}: constraint level {con.level!r} must "
                                    f"be one of {self.levels[:4]}")
            for name in con.preceding + con.following:
                if name not in role:
                    raise InternalError(f"standard {self.name!r}: unknown command {name!r}")
            out.append(Constraint(level[con.level], tuple(role[p] for p in con.preceding),
                                  tuple(role[f] for f in con.following), con.latency,
                                  con.window, con.sibling, con.note))
        for mode, scheme in self.refresh.items():
            if scheme.command not in (self.commands[REFAB], self.commands[REFPB]):
                raise InternalError(f"standard {self.name!r}: refresh {mode!r} uses "
                                    f"{scheme.command!r}, not a refresh command")
            if (scheme.command == self.commands[REFPB]) != (scheme.banks is not None):
                raise InternalError(f"standard {self.name!r}: refresh {mode!r}: a partial refresh "
                                    "names its banks, an all-bank refresh does not")
        object.__setattr__(self, "resolved", tuple(out))

    def command_name(self, cmd: int) -> str:
        return self.commands[cmd]

    def values(self, timing: TimingBase, org: Organisation) -> dict[str, int]:
        """Named cycle values; checks that every name the constraints use is defined."""
        v = self.cycles(timing, org)
        used = set(REQUIRED_VALUES).union(*(con.latency.names() for con in self.constraints))
        used |= {s.interval for s in self.refresh.values()}
        missing = used - set(v)
        if missing:
            raise InternalError(f"standard {self.name!r}: timing value(s) {sorted(missing)} "
                                "not defined by its cycles()")
        return v

    def refresh_groups(self, mode: str, org: Organisation) -> tuple[tuple[int, ...], ...]:
        """Banks of each partial refresh command in rotation; () for all-bank refresh."""
        scheme = self.refresh[mode]
        return scheme.banks(org) if scheme.banks is not None else ()

    def is_partial(self, mode: str) -> bool:
        return self.refresh[mode].banks is not None


_STANDARDS: dict[str, Standard] = {}


def register_standard(standard: Standard) -> Standard:
    """Called by each module of qmcsim/memories/dram/standards/ for the standard it defines."""
    if standard.name in _STANDARDS and _STANDARDS[standard.name] is not standard:
        raise InternalError(f"DRAM standard {standard.name!r} registered twice")
    _STANDARDS[standard.name] = standard
    return standard


def standards() -> dict[str, Standard]:
    """Every standard: the modules of qmcsim/memories/dram/standards/ register themselves."""
    from qmcsim.memories.dram import standards as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        importlib.import_module(f"{pkg.__name__}.{mod.name}")
    return dict(_STANDARDS)


def get_standard(name: str) -> Standard:
    found = _STANDARDS.get(name) or standards().get(name)
    if found is None:
        raise InternalError(f"DRAM standard {name!r} is not registered")
    return found
