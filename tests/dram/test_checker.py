"""No command in any controller run violates a constraint; injected violations are caught."""

from __future__ import annotations

import random

import pytest
from dram_helpers import PARTIAL_REFRESH, check, controller, load

from qmcsim.memories.dram.params import DramParams, timing_cycles
from qmcsim.memories.dram.spec import ACT, RD


def _mixed_run(params: DramParams, n: int, seed: int) -> list:
    rng = random.Random(seed)
    log: list = []
    c = controller(params, log=log)
    t = 0
    for i in range(n):
        t += rng.choice((0, 0, 1, 3, 20))
        bank, row = rng.randrange(16), rng.randrange(4)  # few rows: hits and conflicts
        c.push(i, t, [(bank, row, rng.randrange(64))], rng.random() < 0.3)
        if i % 256 == 255:
            c.run(final=False)
    c.run(until=t + 20_000)
    return log


@pytest.mark.parametrize("overrides", [
    {}, {"controller": {"page_policy": "closed"}}, "partial-refresh",
])
def test_controller_logs_have_no_violations(overrides: dict | str, preset: DramParams) -> None:
    if overrides == "partial-refresh":
        overrides = {"controller": {"refresh": PARTIAL_REFRESH[preset.standard]}}
    assert isinstance(overrides, dict)
    params = load(preset.name, **overrides)
    log = _mixed_run(params, 4000, seed=7)
    kinds = {cmd for _, cmd, _, _ in log}
    assert len(kinds) >= 5  # ACT, PRE or PREA, RD, WR (or RDA, WRA), a refresh
    assert check(log, params) == []


def test_checker_flags_shifted_command_and_bad_state(preset: DramParams) -> None:
    v = timing_cycles(preset)
    log = _mixed_run(preset, 500, seed=3)
    last_on_bank: dict[int, int] = {}
    for k, x in enumerate(log):  # a RD right after its bank's ACT
        j = last_on_bank.get(x[2])
        if x[1] == RD and j is not None and log[j][1] == ACT:
            i, act_t = k, log[j][0]
            break
        last_on_bank[x[2]] = k
    bad = list(log)
    _t, cmd, bank, row = bad[i]
    bad[i] = (act_t + v["nRCD"] - 1, cmd, bank, row)
    found = check(bad, preset)
    assert found and found[0].index == i and "nRCD" not in found[0].rule
    wrong_row = [(0, ACT, 0, 1), (v["nRCD"], RD, 0, 2)]
    assert "open row is 1" in check(wrong_row, preset)[0].rule
