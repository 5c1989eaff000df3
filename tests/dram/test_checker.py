"""No command in any controller run violates a constraint; injected violations are caught."""

from __future__ import annotations

import random

import pytest
from dram_helpers import controller, load

from qmcsim.memories.dram.checker import check_log
from qmcsim.memories.dram.params import DramParams, timing_cycles
from qmcsim.memories.dram.spec import ACT, LPDDR5_CONSTRAINTS, RD


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
    {}, {"controller": {"page_policy": "closed"}}, {"controller": {"refresh": "per_bank"}},
])
def test_controller_logs_have_no_violations(overrides: dict, preset: DramParams) -> None:
    params = load(preset.name, **overrides)
    log = _mixed_run(params, 4000, seed=7)
    kinds = {cmd for _, cmd, _, _ in log}
    assert len(kinds) >= 5  # ACT, PRE or PREA, RD, WR (or RDA, WRA), a refresh
    assert check_log(log, LPDDR5_CONSTRAINTS, timing_cycles(params),
                     params.org.organisation()) == []


def test_checker_flags_shifted_command_and_bad_state(lp5: DramParams) -> None:
    v, org = timing_cycles(lp5), lp5.org.organisation()
    log = _mixed_run(lp5, 500, seed=3)
    i = next(k for k, x in enumerate(log) if x[1] == RD and log[k - 1][1] == ACT
             and log[k - 1][2] == x[2])
    bad = list(log)
    _t, cmd, bank, row = bad[i]
    bad[i] = (bad[i - 1][0] + v["nRCD"] - 1, cmd, bank, row)
    found = check_log(bad, LPDDR5_CONSTRAINTS, v, org)
    assert found and found[0].index == i and "nRCD" not in found[0].rule
    wrong_row = [(0, ACT, 0, 1), (v["nRCD"], RD, 0, 2)]
    assert "open row is 1" in check_log(wrong_row, LPDDR5_CONSTRAINTS, v, org)[0].rule
