"""A command issued one cycle early is illegal, on time it is legal (checker and controller)."""

from __future__ import annotations

import pytest
from dram_helpers import PRESETS, check, controller, load

from qmcsim.memories.dram.params import DramParams, timing_cycles
from qmcsim.memories.dram.spec import (
    ACT,
    CMD,
    PRE,
    PREA,
    RD,
    REFAB,
    WR,
    standards,
)

# bank ids: bank group g, bank k -> 4 g + k
B0, B1_SAME_BG, B_OTHER_BG = 0, 1, 4

# name: (prefix commands as (offset, cmd, bank, row), final (cmd, bank, row), latency formula)
SCENARIOS = {
    "tRCD": ([(0, ACT, B0, 7)], (RD, B0, 7), "nRCD"),
    "tRAS": ([(0, ACT, B0, 7)], (PRE, B0, 7), "nRAS"),
    "tRP": ([(0, ACT, B0, 7), ("nRAS", PRE, B0, 7)], (ACT, B0, 8), "nRAS + nRPpb"),
    "tRC": ([(0, ACT, B0, 7), ("nRAS", PRE, B0, 7)], (ACT, B0, 8), "nRC"),
    "tRRD_L": ([(0, ACT, B0, 7)], (ACT, B1_SAME_BG, 7), "nRRD_L"),
    "tRRD_S": ([(0, ACT, B0, 7)], (ACT, B_OTHER_BG, 7), "nRRD_S"),
    "tCCD_L": ([(0, ACT, B0, 7), (0.5, ACT, B1_SAME_BG, 7), (1, RD, B0, 7)],
               (RD, B1_SAME_BG, 7), "nCCD_L"),
    "tCCD_S": ([(0, ACT, B0, 7), (0.5, ACT, B_OTHER_BG, 7), (1, RD, B0, 7)],
               (RD, B_OTHER_BG, 7), "nCCD_S"),
    "tRTP": ([(0, ACT, B0, 7), ("nRAS", RD, B0, 7)], (PRE, B0, 7), "nRTP"),
    "tWR": ([(0, ACT, B0, 7), ("nRAS", WR, B0, 7)], (PRE, B0, 7), "nCWL + nBL + nWR"),
    "tWTR_L": ([(0, ACT, B0, 7), (0.5, ACT, B1_SAME_BG, 7), (1, WR, B0, 7)],
               (RD, B1_SAME_BG, 7), "nCWL + nBL + nWTR_L"),
    "tWTR_S": ([(0, ACT, B0, 7), (0.5, ACT, B_OTHER_BG, 7), (1, WR, B0, 7)],
               (RD, B_OTHER_BG, 7), "nCWL + nBL + nWTR_S"),
    "RD->WR": ([(0, ACT, B0, 7), (1, RD, B0, 7)], (WR, B0, 7), "nCL + nBL + 2 - nCWL"),
    "tRFCab": ([(0, REFAB, 0, 0)], (ACT, B0, 7), "nRFCab"),
    "tRPab": ([(0, ACT, B0, 7), ("nRAS", PREA, 0, 0)], (REFAB, 0, 0), "nRPab"),
}


# where a standard's formula differs (DDR5 adds a 2-CK write preamble to read-to-write)
STANDARD_FORMULAS = {"ddr5": {"RD->WR": "nCL + nBL + 4 - nCWL"}}


def _scenario(name: str, params: DramParams) -> tuple:
    prefix, final, formula = SCENARIOS[name]
    return prefix, final, STANDARD_FORMULAS.get(params.standard, {}).get(name, formula)


def _cycles(offset: float | str, v: dict[str, int]) -> int:
    if isinstance(offset, str):
        return v[offset]
    return int(offset * 100)  # spaced far apart: only the constraint under test binds


def _build(prefix, final, v, formula):
    from qmcsim.memories.dram.spec import Latency
    log = [(_cycles(o, v), cmd, bank, row) for o, cmd, bank, row in prefix]
    anchor = log[-1][0]
    if "tRC" in formula or formula == "nRC":
        anchor = log[0][0]
    if formula.startswith("nRAS + "):
        anchor = log[0][0]
    due = anchor + Latency.parse(formula).cycles(v)
    return log, due


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_one_cycle_early_is_illegal(name: str, preset: DramParams) -> None:
    prefix, (cmd, bank, row), formula = _scenario(name, preset)
    v = timing_cycles(preset)
    log, due = _build(prefix, (cmd, bank, row), v, formula)
    on_time = check([*log, (due, cmd, bank, row)], preset)
    early = check([*log, (due - 1, cmd, bank, row)], preset)
    assert on_time == []
    assert len(early) >= 1 and all(x.index == len(log) for x in early)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_controller_earliest_matches_formula(name: str, preset: DramParams) -> None:
    prefix, (cmd, bank, _), formula = _scenario(name, preset)
    v = timing_cycles(preset)
    log, due = _build(prefix, (cmd, bank, 0), v, formula)
    c = controller(preset)
    for t, pcmd, pbank, _ in log:
        c._apply(pcmd, pbank, t)
    c.cmd_free = 0
    if name == "tRC":  # tRAS + tRP = tRC in the presets: both bind
        assert v["nRAS"] + v["nRPpb"] <= v["nRC"]
    assert c._earliest(cmd, bank) == due


def test_four_activate_window() -> None:
    params = load("lpddr5-6400-x16", timing={"n_faw": 40})  # make the window bind alone
    v = timing_cycles(params)
    acts = [(i * v["nRRD_S"], ACT, 4 * (i % 4) + i // 4, 1) for i in range(4)]
    due = acts[0][0] + v["nFAW"]
    assert due > acts[-1][0] + v["nRRD_S"]
    assert check([*acts, (due, ACT, 1, 1)], params) == []
    early = check([*acts, (due - 1, ACT, 1, 1)], params)
    assert [x.index for x in early] == [4] and "window" in early[0].rule
    log: list = []
    c = controller(params, log=log)
    for k, bank in enumerate((0, 4, 8, 12, 1)):
        c.push(k, 0, [(bank, 1, 0)], False)
    c.run()
    act_times = [t for t, cmd, _, _ in log if cmd == ACT]
    assert act_times == [0, v["nRRD_S"], 2 * v["nRRD_S"], 3 * v["nRRD_S"], due]


@pytest.mark.parametrize("name", sorted(standards()))
def test_every_command_is_constrained(name: str) -> None:
    followed = {f for con in standards()[name].resolved for f in con.following}
    assert followed == set(CMD)


def test_every_standard_has_a_validated_preset() -> None:
    assert {load(p).standard for p in PRESETS} == set(standards())
