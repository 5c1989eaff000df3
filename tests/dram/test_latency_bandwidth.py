"""Measured unloaded latency and bandwidth against their formulas (Ramulator's questions)."""

from __future__ import annotations

import random

import pytest
from dram_helpers import controller

from qmcsim.memories.dram.params import DramParams, timing_cycles


def _latency(ctrl, tag: int, arrival: int, bank: int, row: int, col: int) -> int:
    ctrl.push(tag, arrival, [(bank, row, col)], False)
    ctrl.run()
    (_t, _, done, *_), = [f for f in ctrl.finished if f[0] == tag]
    return done - arrival


def test_unloaded_read_latency_formulas(preset: DramParams) -> None:
    v = timing_cycles(preset)
    c = controller(preset)
    assert _latency(c, 1, 0, 3, 10, 0) == v["nRCD"] + v["nCL"] + v["nBL"]  # idle bank
    assert _latency(c, 2, 500, 3, 10, 1) == v["nCL"] + v["nBL"]  # row hit
    assert _latency(c, 3, 1000, 3, 11, 0) == v["nRP" "pb"] + v["nRCD"] + v["nCL"] + v["nBL"]
    ns = (v["nRPpb"] + v["nRCD"] + v["nCL"]) * preset.timing.t_ck_ns
    if preset.name == "lpddr5-6400-x16":
        assert ns == pytest.approx(58.75)  # reference/device-parameters.md formula check


def _stream(preset: DramParams, n: int, sequential: bool, seed: int = 1) -> float:
    """Fraction of the peak data-bus bandwidth achieved by n back-to-back reads."""
    org = preset.org.organisation()
    c = controller(preset)
    rng = random.Random(seed)
    nbg, nba, cols = org.bank_groups, org.banks_per_group, org.bursts_per_row
    for i in range(n):
        if sequential:  # RoBaRaCoBgCh: bank groups fastest, then columns, then banks, rows
            bg, col, ba, row = i % nbg, (i // nbg) % cols, (i // (nbg * cols)) % nba, \
                i // (nbg * cols * nba)
        else:
            bg, col, ba, row = (rng.randrange(nbg), rng.randrange(cols), rng.randrange(nba),
                                rng.randrange(org.rows))
        c.push(i, 0, [(bg * nba + ba, row, col)], False)
        if i % 512 == 511:
            c.run(final=False)
    c.run()
    last_done = c.clk + timing_cycles(preset)["nCL"] + timing_cycles(preset)["nBL"]
    return n * timing_cycles(preset)["nBL"] / last_done


def test_peak_sequential_bandwidth_is_refresh_limited(preset: DramParams) -> None:
    v = timing_cycles(preset)
    measured = _stream(preset, 60_000, sequential=True)
    expected = 1 - v["nRFCab"] / v["nREFI"]
    assert measured == pytest.approx(expected, rel=0.02)
    assert measured < expected  # refresh costs more than tRFC alone (PREA, re-activation)


def activation_limited_fraction(v: dict[str, int], banks: int) -> float:
    """Upper bound of the data-bus fraction when every burst opens a row: one ACT per burst,
    ACTs no closer than tRRD_S, tFAW / 4, and tRC over the banks."""
    per_act = max(v["nRRD_S"], v["nFAW"] / 4, v["nRC"] / banks)
    return min(1.0, v["nBL"] / per_act)


def test_random_reads_are_activation_limited(preset: DramParams) -> None:
    v = timing_cycles(preset)
    bound = activation_limited_fraction(v, preset.org.organisation().banks)
    seq = _stream(preset, 20_000, sequential=True)
    rnd = _stream(preset, 20_000, sequential=False)
    # measured when written: 0.88 (DDR5) to 0.92 (LPDDR5X) of the bound
    assert 0.8 * bound < rnd <= bound
    assert rnd < seq


def test_random_reads_get_clearly_less_bandwidth(lp5: DramParams) -> None:
    """README: random reads get 0.45 +- 0.02 of peak (bank conflicts, tRRD/tFAW)."""
    seq = _stream(lp5, 20_000, sequential=True)
    rnd = _stream(lp5, 20_000, sequential=False)
    assert rnd == pytest.approx(0.45, abs=0.02)
    assert rnd < 0.6 * seq
