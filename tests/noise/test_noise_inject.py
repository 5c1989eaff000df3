"""Monte-Carlo injection: bit flips, level errors through packing, seeding, scale search."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qmcsim.config.devices import load_device
from qmcsim.formats.quantize import top_magnitude_mask
from qmcsim.noise.inject import (BitFlipNoise, LevelNoise, flip_bits, noise_of_device,
                                 perturb_codes, perturb_fp16)
from qmcsim.noise.levels import LevelModel
from qmcsim.noise.mapping import code_error_table
from qmcsim.noise.scale_search import search_multipliers


def _dev(name: str, **over: object):
    return load_device(name, dict(over) if over else None, file="test", field_path="dev")


def test_flip_bits_rate_and_identity() -> None:
    codes = np.zeros(200_000, dtype=np.int16)
    assert np.array_equal(flip_bits(codes, 5, 0.0, np.random.default_rng(0)), codes)
    out = flip_bits(codes, 5, 0.01, np.random.default_rng(0))
    assert out.max() < 32
    flipped = sum(np.mean((out >> b) & 1) for b in range(5)) / 5
    assert abs(flipped - 0.01) < 5 * math.sqrt(0.01 * 0.99 / (5 * codes.size))


def test_device_noise_kinds() -> None:
    assert isinstance(noise_of_device(_dev("qmc-reram-3b")), LevelNoise)
    assert noise_of_device(_dev("qmc-mram")) is None          # the study: noise-free MRAM
    assert noise_of_device(_dev("lpddr5-orin")) is None
    mram = noise_of_device(_dev("qmc-mram", read_bit_error_rate=1e-3,
                                retention_bit_error_rate=1e-3))
    assert isinstance(mram, BitFlipNoise)
    assert mram.bit_error_rate == pytest.approx(1 - (1 - 1e-3) ** 2)
    flash = noise_of_device(_dev("ufs4-nand", raw_bit_error_rate=1e-4))
    assert isinstance(flash, BitFlipNoise) and flash.bit_error_rate == 1e-4


def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    codes = np.random.default_rng(1).integers(0, 8, size=(64, 96)).astype(np.int16)
    noise = noise_of_device(_dev("qmc-reram-3b", read_noise_sigma=0.03))
    a = perturb_codes(codes, 3, noise, np.random.default_rng(42))
    b = perturb_codes(codes, 3, noise, np.random.default_rng(42))
    c = perturb_codes(codes, 3, noise, np.random.default_rng(43))
    assert a.tobytes() == b.tobytes()
    assert a.tobytes() != c.tobytes()
    assert a.dtype == codes.dtype and a.shape == codes.shape


def test_packed_level_errors_hit_the_codes_the_packing_dictates() -> None:
    # every cell of 2-bit cells stuck high: the stream becomes all ones -> every code reads 7
    noise = LevelNoise(model=LevelModel.from_params(_dev("qmc-reram-2b",
                                                         stuck_at_high_fraction=1.0)))
    codes = np.array([0, 5, 2, 3, 1], dtype=np.int16)
    assert perturb_codes(codes, 3, noise, np.random.default_rng(0)).tolist() == [7] * 5
    # 2-bit cells are far more reliable than 3-bit cells: fewer 3-bit codes change
    rng = np.random.default_rng(9)
    codes = rng.integers(0, 8, size=300_000).astype(np.int16)
    changed = {}
    for name in ("qmc-reram-2b", "qmc-reram-3b"):
        read = perturb_codes(codes, 3, noise_of_device(_dev(name)), np.random.default_rng(1))
        changed[name] = np.mean(read != codes)
    assert changed["qmc-reram-2b"] < 1e-4 < changed["qmc-reram-3b"]


def test_fp16_bit_flips() -> None:
    v = np.linspace(-1, 1, 10_000).astype(np.float16)
    same = perturb_fp16(v, None, np.random.default_rng(0))
    assert same.tobytes() == v.tobytes()
    out = perturb_fp16(v, BitFlipNoise(bit_error_rate=1e-3), np.random.default_rng(0))
    assert out.dtype == np.float16 and 0 < np.sum(out.view(np.uint16) != v.view(np.uint16)) < 500


def _weights() -> tuple[np.ndarray, np.ndarray]:
    w = np.random.default_rng(0).standard_t(4, size=(48, 256)).astype(np.float32)
    return w, top_magnitude_mask(w, 0.3)


def test_noise_free_search_equals_mse_search() -> None:
    w, inl = _weights()
    mse = search_multipliers(w, 3, inlier_mask=inl, error_table=None)
    zero = search_multipliers(w, 3, inlier_mask=inl, error_table=np.zeros(8))
    assert np.array_equal(mse.multipliers, zero.multipliers)
    assert mse.multipliers.min() >= 0.5 and mse.multipliers.max() <= 1.0


def test_noise_aware_scales_shrink_as_the_error_rate_grows() -> None:
    # a code-independent kappa: the penalty grows with Delta, so the optimum can only shrink
    w, inl = _weights()
    previous = search_multipliers(w, 3, inlier_mask=inl, error_table=None).multipliers
    for kappa in (0.01, 0.1, 1.0):
        m = search_multipliers(w, 3, inlier_mask=inl, error_table=np.full(8, kappa)).multipliers
        assert np.all(m <= previous)
        previous = m
    assert previous.mean() < search_multipliers(w, 3, inlier_mask=inl,
                                                error_table=None).multipliers.mean()


def test_noise_aware_scale_with_device_table_not_above_mse() -> None:
    w, inl = _weights()
    model = LevelModel.from_params(_dev("qmc-reram-3b", read_noise_sigma=0.03))
    table = code_error_table(model.confusion(), 3, 3, "binary")
    aware = search_multipliers(w, 3, inlier_mask=inl, error_table=table)
    mse = search_multipliers(w, 3, inlier_mask=inl, error_table=None)
    assert aware.kappa > 0
    assert aware.multipliers.mean() < mse.multipliers.mean()
