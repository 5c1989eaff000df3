"""Bits per weight of the foundation formats, against hand-computed values."""

from __future__ import annotations

import pytest

from qmcsim.formats.base import bits_per_weight
from qmcsim.formats.fp16 import Fp16Format
from qmcsim.formats.qmc import QmcFormat
from qmcsim.models.shape import Tensor

T = Tensor(name="w", tensor_class="mlp", layer=0, rows=100, cols=1000)   # 100,000 weights
NORM = Tensor(name="n", tensor_class="norm", layer=0, rows=1000, cols=1)


def test_fp16_is_16_bits():
    assert bits_per_weight(Fp16Format(), [T, NORM], "full") == 16


def test_qmc_paper_accounting_is_3_6_bits_at_rho_0_3():
    # 0.7 * 3 + 0.3 * 5 = 3.6, no scales, no indices (the study's accounting)
    assert bits_per_weight(QmcFormat(rho=0.3, index="none"), [T], "paper") == pytest.approx(3.6)


def test_qmc_full_accounting_with_bitmap():
    # codes 70,000 x 3 + outliers 30,000 x 5 + scales 4 x 100 rows x 16 + bitmap 100,000 x 1
    expected = (70_000 * 3 + 30_000 * 5 + 4 * 100 * 16 + 100_000) / 100_000
    assert bits_per_weight(QmcFormat(rho=0.3), [T], "full") == pytest.approx(expected)


def test_qmc_csr_indices():
    # column index ceil(log2 1000) = 10 bits per outlier + 32-bit row pointers (101 of them)
    expected = (70_000 * 3 + 30_000 * 5 + 4 * 100 * 16 + 30_000 * 10 + 101 * 32) / 100_000
    assert bits_per_weight(QmcFormat(rho=0.3, index="csr"), [T], "full") == pytest.approx(expected)


def test_vectors_stay_fp16_in_full_accounting_but_not_in_paper():
    fmt = QmcFormat(rho=0.3, index="none")
    assert bits_per_weight(fmt, [NORM], "full") == 16
    assert bits_per_weight(fmt, [NORM], "paper") == pytest.approx(3.6)


def test_excluded_class_stays_fp16():
    fmt = QmcFormat(rho=0.3, exclude=("mlp",))
    assert bits_per_weight(fmt, [T], "full") == 16
