"""Quantize / de-quantize: error bounds, grids and outlier selection, checked independently."""

from __future__ import annotations

import numpy as np
import pytest

from qmcsim.formats.base import format_registry
from qmcsim.formats.mx import FP4_E2M1
from qmcsim.formats.qmc import escapes_measured, run_lengths

RNG = np.random.default_rng(7)
W = (RNG.standard_t(6, size=(48, 300)) * 0.02).astype(np.float32)


def fmt(kind: str, **kw):
    return format_registry()[kind].model_validate({"kind": kind, **kw})


@pytest.mark.parametrize("kw", [{"bits": 4}, {"bits": 4, "group_size": 128},
                                {"bits": 3, "group_size": 32, "symmetric": True}])
def test_rtn_error_at_most_half_a_step(kw):
    q = fmt("rtn", **kw).quantize(W)
    err = np.abs(q.dequantize() - W)
    assert np.all(err <= q.full_scale / 2 * (1 + 1e-5))
    assert q.codes.min() >= 0 and q.codes.max() <= 2 ** kw["bits"] - 1
    assert np.all(q.zero == np.round(q.zero))       # integer zero point that fits in `bits`
    assert q.zero.min() >= 0 and q.zero.max() <= 2 ** kw["bits"] - 1


def test_int8_symmetric_absmax():
    q = fmt("int8").quantize(W)
    assert np.allclose(q.scale[:, 0], np.abs(W).max(axis=1) / 127)
    assert np.all(np.abs(q.dequantize() - W) <= q.full_scale / 2 * (1 + 1e-5))


def test_dequantize_uses_given_codes():
    q = fmt("rtn", bits=4, group_size=64).quantize(W)
    shifted = np.clip(q.codes + 1, 0, 15)
    assert not np.allclose(q.dequantize(shifted), q.dequantize())


@pytest.mark.parametrize("element", ["int4", "int8", "fp4"])
def test_mx_scales_are_powers_of_two(element):
    q = fmt("mx", element=element).quantize(W)
    e = np.log2(q.scale)
    assert np.all(e == np.round(e))
    assert q.scale.shape == (48, 10)                # ceil(300 / 32) blocks per row


def test_mxint4_error_bound():
    q = fmt("mx", element="int4").quantize(W)
    s = q.full_scale
    err = np.abs(q.dequantize() - W)
    assert np.all(err <= s * (1 + 1e-6))            # saturation at +-7 steps costs < 1 step
    inside = np.abs(W) <= 7 * s
    assert np.all(err[inside] <= s[inside] / 2 * (1 + 1e-6))


def test_mxfp4_values_on_the_e2m1_grid():
    q = fmt("mx", element="fp4").quantize(W)
    mags = np.abs(q.dequantize()) / q.full_scale
    assert np.all(np.isin(mags, FP4_E2M1))
    # block max lands on 4..6 x scale (shared exponent = floor(log2 amax) - 2)
    blocks = np.abs(np.pad(W, ((0, 0), (0, 20)))).reshape(48, 10, 32).max(axis=2)
    assert np.all((blocks / q.scale >= 4) & (blocks / q.scale < 8))


def test_qmc_outliers_are_exactly_top_rho_by_magnitude():
    q = fmt("qmc", rho=0.3).quantize(W)
    out = ~q.inlier_mask
    k = round(0.3 * W.size)
    assert out.sum() == k
    order = np.argsort(np.abs(W), axis=None)
    expected = np.zeros(W.size, dtype=bool)
    expected[order[-k:]] = True
    assert np.array_equal(out.ravel(), expected)


def test_squeezellm_iqr_rule_and_lut():
    f = fmt("squeezellm", bits=3, iqr_range=1.5)
    q = f.quantize(W)
    q1, q3 = np.percentile(W, [25, 75])
    assert np.array_equal(~q.inlier_mask, np.abs(W) > q3 + 1.5 * (q3 - q1))
    deq = q.dequantize()
    assert np.array_equal(deq[~q.inlier_mask], W[~q.inlier_mask].astype(np.float16)
                          .astype(np.float32))
    # every inlier goes to its row's nearest centroid
    nearest = np.abs(W[:, :, None] - q.lut[:, None, :]).min(axis=2)
    assert np.allclose(np.abs(deq - W)[q.inlier_mask], nearest[q.inlier_mask], atol=1e-7)
    n = f.measured_layout(_t(W), W)[2].elements
    assert n == (~q.inlier_mask).sum()


def test_spqr_flags_a_planted_spike():
    w = (RNG.normal(size=(32, 64)) * 0.02).astype(np.float32)
    w[5, 17] = 0.5
    q = fmt("spqr").quantize(w)
    assert not q.inlier_mask[5, 17]
    assert (~q.inlier_mask).mean() < 0.05
    inl = q.inlier_mask
    assert np.abs(q.dequantize() - w)[inl].max() < 0.02     # 3-bit over ~0.1-wide groups
    assert q.dequantize()[5, 17] == pytest.approx(0.5, rel=1e-3)


def _t(w):
    from qmcsim.models.shape import Tensor
    return Tensor(name="t", tensor_class="mlp", layer=0, rows=w.shape[0], cols=w.shape[1])


def _encode_relative(mask: np.ndarray, b: int) -> list[list[int]]:
    """Reference encoder written from the docstring: per row, entries of b bits."""
    esc = 2**b - 1
    rows = []
    for row in mask:
        entries, run = [], 0
        for is_out in row:
            if not is_out:
                run += 1
                if run == esc:
                    entries.append(esc)
                    run = 0
            else:
                entries.append(run)
                run = 0
        while entries and entries[-1] == esc:    # nothing stored after the last outlier
            entries.pop()
        rows.append(entries)
    return rows


def _decode_relative(rows: list[list[int]], b: int, cols: int) -> np.ndarray:
    esc = 2**b - 1
    out = np.zeros((len(rows), cols), dtype=bool)
    for r, entries in enumerate(rows):
        pos = 0
        for e in entries:
            if e == esc:
                pos += esc
            else:
                pos += e
                out[r, pos] = True
                pos += 1
    return out


@pytest.mark.parametrize("b", [1, 2, 3, 5])
def test_relative_index_count_matches_a_reference_encoder(b):
    mask = RNG.random((20, 90)) < 0.15
    mask[3] = False
    mask[4, -1] = True
    encoded = _encode_relative(mask, b)
    assert np.array_equal(_decode_relative(encoded, b, 90), mask)
    n_entries = sum(len(e) for e in encoded)
    assert n_entries == mask.sum() + escapes_measured(run_lengths(mask), b)


def test_relative_measured_matches_expectation_for_scattered_outliers():
    from qmcsim.formats.qmc import escapes_expected
    w = RNG.normal(size=(512, 512)).astype(np.float32)   # top-k positions ~ uniform
    f = fmt("qmc", rho=0.1, index="relative", relative_bits=4)
    measured = f.measured_layout(_t(w), w)[3].elements
    n = round(0.1 * w.size)
    assert measured == pytest.approx(n + escapes_expected(n, 0.1, 4), rel=0.02)
