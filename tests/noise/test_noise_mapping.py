"""Code <-> level mapping and bit packing."""

from __future__ import annotations

import numpy as np
import pytest

from qmcsim.noise.mapping import (code_error_table, codes_to_levels, expected_sq_code_error,
                                  gray_decode, gray_encode, levels_to_codes)


def test_gray_round_trip_and_one_bit_neighbours() -> None:
    x = np.arange(256)
    assert np.array_equal(gray_decode(gray_encode(x)), x)
    assert np.all(np.bitwise_count(gray_encode(x[1:]) ^ gray_encode(x[:-1])) == 1)


@pytest.mark.parametrize("code_bits, cell_bits", [(3, 3), (3, 2), (4, 2), (5, 3), (16, 2)])
@pytest.mark.parametrize("mapping", ["binary", "gray"])
def test_pack_unpack_round_trip(code_bits: int, cell_bits: int, mapping: str) -> None:
    codes = np.random.default_rng(0).integers(0, 2**code_bits, size=101)
    levels = codes_to_levels(codes, code_bits, cell_bits, mapping)
    assert levels.size == -(-101 * code_bits // cell_bits)
    assert levels.max() < 2**cell_bits
    assert np.array_equal(levels_to_codes(levels, 101, code_bits, cell_bits, mapping), codes)


def test_three_bit_codes_in_two_bit_cells_hand_built() -> None:
    # codes 5 = 0b101 and 3 = 0b011, LSB first: stream 1 0 1 | 1 1 0 -> cells (1,0) (1,1) (1,0)
    codes = np.array([5, 3])
    levels = codes_to_levels(codes, 3, 2, "binary")
    assert levels.tolist() == [1, 3, 1]
    # the middle cell holds code 0's MSB (stream bit 2) and code 1's LSB (stream bit 3)
    def read(cells: list[int]) -> list[int]:
        return levels_to_codes(np.array(cells), 2, 3, 2, "binary").tolist()
    assert read([1, 2, 1]) == [1, 3]   # level 3 -> 2: pattern 10, code 0 loses its MSB (-4)
    assert read([1, 1, 1]) == [5, 2]   # level 3 -> 1: pattern 01, code 1 loses its LSB (-1)
    assert read([1, 0, 1]) == [1, 2]   # two levels down: both codes hit
    assert read([2, 3, 1]) == [6, 3]   # first cell 01 -> 10: bits 0 and 1 of code 0 (+1)
    assert read([1, 3, 2]) == [5, 5]   # last cell 01 -> 10: only code 1's upper bits (+2)


def _one_level_confusion(levels: int, p: float) -> np.ndarray:
    c = np.eye(levels) * (1 - 2 * p)
    for i in range(levels):
        for j in (i - 1, i + 1):
            c[i, min(max(j, 0), levels - 1)] += p
    return c


def test_binary_one_level_errors_are_one_code_step_gray_ones_are_powers_of_two() -> None:
    # 3-bit codes, one per 3-bit cell, every level misread one level up or down
    codes = np.arange(8)
    for mapping, expect in (("binary", {1}), ("gray", {1, 2, 4})):
        levels = codes_to_levels(codes, 3, 3, mapping)
        steps = set()
        for d in (-1, 1):
            moved = np.clip(levels + d, 0, 7)
            back = levels_to_codes(moved, 8, 3, 3, mapping)
            steps |= set(np.abs(back - codes)[moved != levels].tolist())
        assert steps == expect
    conf = _one_level_confusion(8, 0.01)
    binary = expected_sq_code_error(code_error_table(conf, 3, 3, "binary"))
    gray = expected_sq_code_error(code_error_table(conf, 3, 3, "gray"))
    # mean over levels of p- + p+ (edge levels err one way only): Algorithm 1's kappa
    assert binary == pytest.approx((6 * 2 * 0.01 + 2 * 0.01) / 8)
    assert gray > 3 * binary


def test_gray_makes_one_level_errors_single_bit_flips_in_packed_cells() -> None:
    codes = np.random.default_rng(3).integers(0, 8, size=600)
    for mapping, max_flips in (("gray", 1), ("binary", 2)):
        levels = codes_to_levels(codes, 3, 2, mapping)
        up = np.minimum(levels + 1, 3)
        flips = []
        for j in range(0, levels.size, 7):
            erred = levels.copy()
            erred[j] = up[j]
            back = levels_to_codes(erred, codes.size, 3, 2, mapping)
            flips.append(int(np.bitwise_count((back ^ codes).astype(np.uint64)).sum()))
        assert max(flips) == max_flips


def test_expected_sq_code_error_matches_monte_carlo_for_packed_cells() -> None:
    conf = _one_level_confusion(4, 0.02)
    table = code_error_table(conf, 3, 2, "binary")
    probs = np.array([1, 2, 4, 8, 8, 4, 2, 1], float)
    analytic = expected_sq_code_error(table, probs)
    rng = np.random.default_rng(5)
    n = 300_000
    codes = rng.choice(8, size=n, p=probs / probs.sum())
    levels = codes_to_levels(codes, 3, 2, "binary")
    u = rng.random(levels.size)
    cum = np.cumsum(conf, axis=1)[levels]
    read = (u[:, None] >= cum).sum(axis=1)
    sq = (levels_to_codes(read, n, 3, 2, "binary") - codes) ** 2
    # analytic leaves out two-error cross terms (order p^2); allow those plus 5 standard errors
    assert abs(sq.mean() - analytic) < 5 * sq.std() / np.sqrt(n) + 0.02 * analytic
