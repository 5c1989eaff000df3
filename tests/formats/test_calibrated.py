"""The calibrated quantizers (GPTQ, AWQ, SqueezeLLM, SpQR) on small matrices with synthetic
calibration inputs whose effect is known: each lowers the layer-output error ||X W^T - X W_hat^T||
below round-to-nearest on the same grid."""

from __future__ import annotations

import numpy as np
import pytest

from qmcsim.formats.awq import search_alpha
from qmcsim.formats.base import format_registry
from qmcsim.formats.calibration import LayerCalibration, output_error
from qmcsim.formats.gptq import gptq_quantize, inverse_cholesky
from qmcsim.formats.quantize import rtn_grouped, rtn_per_channel
from qmcsim.formats.squeezellm import kmeans_rows
from qmcsim.models.shape import Tensor

ROWS, COLS = 48, 256


def fmt(kind: str, **kw):
    return format_registry()[kind].model_validate({"kind": kind, **kw})


def weights(seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_t(5, size=(ROWS, COLS)) * 0.02).astype(
        np.float32)


def correlated_inputs(seed: int = 1, n: int = 1024) -> np.ndarray:
    """Correlated channels of unequal scale: what makes error compensation pay."""
    rng = np.random.default_rng(seed)
    mix = np.eye(COLS) + 0.5 * rng.normal(size=(COLS, COLS)) / np.sqrt(COLS)
    scale = np.exp(0.7 * rng.normal(size=COLS))
    return (rng.normal(size=(n, COLS)) @ mix) * scale


def salient_inputs(seed: int = 2, n: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Independent channels, 1 % of them with 30x larger activations (AWQ's salient ones)."""
    rng = np.random.default_rng(seed)
    salient = rng.choice(COLS, COLS // 100 + 1, replace=False)
    scale = np.ones(COLS)
    scale[salient] = 30.0
    return rng.normal(size=(n, COLS)) * scale, salient


def test_output_error_is_the_error_of_the_outputs() -> None:
    x = correlated_inputs(n=300)
    cal = LayerCalibration.from_inputs(x)
    w, w_hat = weights(), rtn_grouped(weights(), 4, 128).dequantize()
    direct = np.sum((x @ w.T.astype(np.float64) - x @ w_hat.T.astype(np.float64)) ** 2) / 300
    assert output_error(w, w_hat, cal.hessian) == pytest.approx(direct, rel=1e-9)


def test_inverse_cholesky_factors_the_dampened_inverse() -> None:
    h = LayerCalibration.from_inputs(correlated_inputs(n=400)).hessian
    u, dead = inverse_cholesky(h, 0.01)
    damped = h + 0.01 * np.mean(np.diag(h)) * np.eye(COLS)
    assert not dead.any()
    assert np.allclose(u, np.triu(u))
    assert np.allclose(u.T @ u, np.linalg.inv(damped), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("act_order", [False, True])
def test_gptq_compensation_beats_rtn_on_the_same_grid(act_order: bool) -> None:
    w, cal = weights(), LayerCalibration.from_inputs(correlated_inputs())
    rtn = output_error(w, rtn_grouped(w, 4, 128).dequantize(), cal.hessian)
    q = fmt("awq_gptq", act_order=act_order).quantize(w, calibration=cal)
    gptq = output_error(w, q.dequantize(), cal.hessian)
    assert gptq < 0.8 * rtn
    assert q.codes.min() >= 0 and q.codes.max() <= 15
    if act_order:        # a scale per column (g_idx), still 128 columns per distinct scale
        assert q.scale.shape == w.shape
        assert all(len(np.unique(row)) <= COLS // 128 for row in q.scale)
    else:
        assert q.scale.shape == (ROWS, COLS // 128) and q.group_size == 128


def test_gptq_with_identity_hessian_is_rtn() -> None:
    w = weights()
    q = gptq_quantize(w, np.eye(COLS), bits=4, group_size=128, damp=1e-9)
    assert np.allclose(q.dequantize(), rtn_grouped(w, 4, 128).dequantize(), atol=1e-7)


def test_gptq_on_held_out_inputs_of_the_same_distribution() -> None:
    w = weights()
    x = correlated_inputs(seed=1, n=4096)
    cal, held_out = LayerCalibration.from_inputs(x[:2048]), LayerCalibration.from_inputs(x[2048:])
    q = fmt("awq_gptq").quantize(w, calibration=cal)
    assert output_error(w, q.dequantize(), held_out.hessian) < output_error(
        w, rtn_grouped(w, 4, 128).dequantize(), held_out.hessian)


def test_awq_protects_salient_channels() -> None:
    w = weights()
    x, salient = salient_inputs()
    cal = LayerCalibration.from_inputs(x)
    alpha, s, errors = search_alpha(w, cal, 4, 128)
    assert alpha > 0 and errors[alpha] < errors[0.0]         # alpha 0 is RTN
    others = np.setdiff1d(np.arange(COLS), salient)
    assert s[salient].min() > s[others].max()                # salient channels scaled up
    q = fmt("awq_gptq", algorithm="awq").quantize(w, calibration=cal)
    rtn_hat = rtn_grouped(w, 4, 128).dequantize()
    assert output_error(w, q.dequantize(), cal.hessian) < 0.7 * output_error(
        w, rtn_hat, cal.hessian)
    # the salient columns themselves are more exact than RTN makes them
    awq_err = np.abs(q.dequantize() - w)[:, salient].mean()
    assert awq_err < np.abs(rtn_hat - w)[:, salient].mean()
    no_clip = fmt("awq_gptq", algorithm="awq", awq_clip=False).quantize(w, calibration=cal)
    assert output_error(w, q.dequantize(), cal.hessian) <= output_error(
        w, no_clip.dequantize(), cal.hessian) * 1.0001


def test_awq_rejects_act_order() -> None:
    with pytest.raises(ValueError, match="act_order"):
        fmt("awq_gptq", algorithm="awq", act_order=True)


def test_weighted_kmeans_lowers_the_weighted_error() -> None:
    w = weights()
    sens = np.exp(2.0 * np.random.default_rng(3).normal(size=COLS))[None, :]
    plain_lut, plain_codes = kmeans_rows(w, 8)
    lut, codes = kmeans_rows(w, 8, sample_weight=sens)

    def weighted(lut_: np.ndarray, codes_: np.ndarray) -> float:
        return float(np.sum(sens * (w - np.take_along_axis(lut_, codes_.astype(int), 1)) ** 2))
    assert weighted(lut, codes) < 0.9 * weighted(plain_lut, plain_codes)
    assert np.all(np.diff(lut, axis=1) >= 0)


def test_squeezellm_beats_rtn_and_plain_kmeans_in_output_error() -> None:
    w = weights()
    x, _ = salient_inputs()
    x = x * np.exp(0.7 * np.random.default_rng(4).normal(size=COLS))
    cal = LayerCalibration.from_inputs(x)
    f = fmt("squeezellm", bits=3)
    q = f.quantize(w, calibration=cal)
    err = output_error(w, q.dequantize(), cal.hessian)
    assert err < 0.8 * output_error(w, f.quantize(w).dequantize(), cal.hessian)
    assert err < 0.5 * output_error(w, rtn_per_channel(w, 3).dequantize(), cal.hessian)
    assert q.inlier_mask is not None and np.array_equal(q.inlier_mask, f.inlier_mask(w))


def test_spqr_beats_its_uncalibrated_form_and_keeps_outliers_exact() -> None:
    w = weights()
    w[5, 37] = 0.9                                   # a planted spike
    cal = LayerCalibration.from_inputs(correlated_inputs())
    f = fmt("spqr")
    q = f.quantize(w, calibration=cal)
    assert q.inlier_mask is not None and not q.inlier_mask[5, 37]
    err = output_error(w, q.dequantize(), cal.hessian)
    assert err < 0.8 * output_error(w, f.quantize(w).dequantize(), cal.hessian)
    assert err < 0.8 * output_error(w, rtn_grouped(w, 3, 16).dequantize(), cal.hessian)
    share = float((~q.inlier_mask).mean())
    assert 0.001 < share < 0.05
    # statistics on the 3-bit second-level grid: <= 8 distinct values per 16 rows and group
    assert all(len(np.unique(q.scale[r:r + 16, k])) <= 8
               for r in range(0, ROWS, 16) for k in range(q.scale.shape[1]))
    # the layout counts the outliers this pass kept: 32 bits each (value + 16-bit index)
    t = Tensor(name="t", tensor_class="mlp", layer=0, rows=ROWS, cols=COLS)
    extra = sum(c.bits for c in f.layout_of(t, q)) - sum(
        c.bits for c in f._layout(t, 0))
    assert extra == 32 * int((~q.inlier_mask).sum())


def test_uncalibrated_awq_gptq_is_still_rtn() -> None:
    w = weights()
    for algorithm in ("gptq", "awq"):
        q = fmt("awq_gptq", algorithm=algorithm).quantize(w)
        assert np.array_equal(q.dequantize(), rtn_grouped(w, 4, 128).dequantize())
