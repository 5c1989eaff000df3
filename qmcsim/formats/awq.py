"""AWQ (Lin et al., "AWQ: Activation-aware Weight Quantization for LLM Compression and
Acceleration", MLSys 2024, arXiv 2306.00978), written from the paper (Sec. 3.2).

Salient weights are those multiplying large activations. Scaling input channel j of W up by s_j
(and the input down by s_j, folded into the preceding operator) shrinks that channel's relative
rounding error; the paper searches s = mean|x|^alpha over alpha in [0, 1] on a grid, picking the
alpha with the smallest layer-output error on calibration data. Then W * s is quantized with
the group grid (here qmcsim's RTN g128 grid) and W_hat = Q(W * s) / s. Optionally (the paper's
weight clipping) the min-max range of each group is shrunk by the ratio, from a grid, that
minimises that group's output error (the group's partial product x_g W_g^T, as the paper's
search measures it: the block of H over the group's inputs).

The output error comes from H = X^T X / n exactly (`calibration.output_error`), no activations
are kept. Differences from the published method: the search is per linear layer; the paper
searches once for the layers reading the same input (q, k, v; gate, up) so that one s folds
into the preceding norm. Per-layer scales that cannot be folded cost one FP16 vector per layer
(< 0.001 bits/weight), not counted in the layout.
"""

from __future__ import annotations

import numpy as np

from qmcsim.errors import InternalError
from qmcsim.formats.calibration import LayerCalibration, row_output_error
from qmcsim.formats.quantize import Quantized, affine_codes, affine_params, group_view

ALPHA_GRID = tuple(i / 20 for i in range(21))
CLIP_GRID = tuple(1.0 - i / 20 for i in range(11))     # shrink ratios 1.0 .. 0.5


def _grouped_rtn(w: np.ndarray, bits: int, group_size: int, shrink: np.ndarray | float = 1.0
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """RTN on `rtn_grouped`'s grid, each group's range scaled by `shrink` ((rows, groups) or a
    float): codes (rows, groups, g), scale, zero (rows, groups), cols."""
    grouped, cols = group_view(w, group_size)
    lo = np.minimum(grouped.min(axis=2), 0.0) * shrink
    hi = np.maximum(grouped.max(axis=2), 0.0) * shrink
    scale, zero = affine_params(lo, hi, bits)
    return affine_codes(grouped, scale[..., None], zero[..., None], bits), scale, zero, cols


def _dequant(codes: np.ndarray, scale: np.ndarray, zero: np.ndarray, cols: int) -> np.ndarray:
    values = (codes.astype(np.float32) - zero[..., None]) * scale[..., None]
    return values.reshape(codes.shape[0], -1)[:, :cols]


def search_alpha(w: np.ndarray, cal: LayerCalibration, bits: int, group_size: int
                 ) -> tuple[float, np.ndarray, dict[float, float]]:
    """The alpha of the grid with the least output error: (alpha, s, error per alpha)."""
    base = np.maximum(cal.mean_abs, 1e-8)
    errors: dict[float, float] = {}
    best: tuple[float, float, np.ndarray] | None = None
    for alpha in ALPHA_GRID:
        s = base**alpha
        s = s / np.sqrt(s.max() * s.min())        # centred on 1: keeps the grid well scaled
        codes, scale, zero, cols = _grouped_rtn(w * s, bits, group_size)
        w_hat = _dequant(codes, scale, zero, cols) / s
        err = float(row_output_error(w - w_hat, cal.hessian).sum())
        errors[alpha] = err
        if best is None or err < best[1]:
            best = (alpha, err, s)
    if best is None:
        raise InternalError("AWQ's scale search tried no alpha")
    return best[0], best[2].astype(np.float32), errors


def search_clip(ws: np.ndarray, hessian_scaled: np.ndarray, bits: int, group_size: int
                ) -> np.ndarray:
    """Per (row, group): the shrink ratio of CLIP_GRID with the least group output error."""
    grouped, _ = group_view(ws, group_size)
    rows, n_groups, g = grouped.shape
    pad = n_groups * g - hessian_scaled.shape[0]
    h = np.pad(hessian_scaled, ((0, pad), (0, pad)))    # padding columns carry no input
    blocks = np.stack([h[k * g:(k + 1) * g, k * g:(k + 1) * g] for k in range(n_groups)])
    best_err = np.full((rows, n_groups), np.inf)
    best = np.ones((rows, n_groups))
    for r in CLIP_GRID:
        codes, scale, zero, _ = _grouped_rtn(ws, bits, group_size, r)
        d = grouped - (codes.astype(np.float64) - zero[..., None]) * scale[..., None]
        err = np.einsum("rkg,kgh,rkh->rk", d, blocks, d, optimize=True)
        better = err < best_err
        best_err = np.where(better, err, best_err)
        best = np.where(better, r, best)
    return best


def awq_quantize(w: np.ndarray, cal: LayerCalibration, *, bits: int, group_size: int,
                 clip: bool = True) -> Quantized:
    """AWQ of a (rows, cols) matrix: codes of Q(W * s) on the group grid; the stored form
    de-quantizes to Q(W * s) / s (scale per column = group scale / s_j)."""
    w = np.asarray(w, dtype=np.float32)
    _, s, _ = search_alpha(w, cal, bits, group_size)
    ws = w * s
    shrink: np.ndarray | float = 1.0
    if clip:
        # the scaled layer sees inputs x / s: H_s = diag(1/s) H diag(1/s)
        inv = 1.0 / s.astype(np.float64)
        shrink = search_clip(ws, cal.hessian * np.outer(inv, inv), bits, group_size)
    codes, scale, zero, cols = _grouped_rtn(ws, bits, group_size, shrink)
    rows = w.shape[0]
    codes = codes.reshape(rows, -1)[:, :cols]
    scale_col = np.repeat(scale, group_size, axis=1)[:, :cols] / s
    zero_col = np.repeat(zero, group_size, axis=1)[:, :cols]
    return Quantized(codes=codes, code_bits=bits, scale=scale_col.astype(np.float32),
                     zero=zero_col.astype(np.float32))
