"""SpQR's calibrated quantizer (Dettmers et al., "SpQR: A Sparse-Quantized Representation for
Near-Lossless LLM Weight Compression", ICLR 2024, arXiv 2306.03078), written from the paper's
Sec. 4 and Algorithm 1: GPTQ with small groups, quantized group statistics and unstructured
outliers chosen by their sensitivity.

The GPTQ pass (`gptq.inverse_cholesky`: dampened H^-1 in Cholesky form, column-by-column error
compensation, lazy block updates) runs over the columns in their natural order. When it reaches
the first column of a group of `group_size` input channels:
- outliers: in each row, a weight whose exclusion lowers the group's sensitivity-weighted
  error sum_k (w_k - q_k)^2 / U_kk^2 (GPTQ's error of a column is (w - q) / U_kk) by more than
  `threshold` x the mean weighted error of the rows' groups is an outlier. Excluding a weight
  only moves the min-max grid if it is the row's minimum or maximum, so those two are the
  candidates (one leave-one-out step, as the paper's criterion);
- statistics: min-max `bits` grid over the inliers, each row's scale and zero point then
  quantized to `scale_bits` / `zero_bits` with a min-max grid per `stats_group_size` rows (the
  second level, as `SpqrFormat.quantize` does without calibration);
- outliers are kept exactly (FP16) and so add no error to compensate.
Differences from the paper: no act-order permutation (the layout stores none), outliers are
decided once per group (the paper also re-checks each column as it is quantized).
"""

from __future__ import annotations

import numpy as np

from qmcsim.formats.gptq import inverse_cholesky
from qmcsim.formats.quantize import Quantized, affine_codes, affine_params


def _weighted_error(g: np.ndarray, keep: np.ndarray, inv_d2: np.ndarray, bits: int) -> np.ndarray:
    """Per row: sum over kept entries of inv_d2 * (w - q)^2, grid = min-max of the kept ones."""
    lo = np.where(keep, g, np.inf).min(axis=1, keepdims=True)
    hi = np.where(keep, g, -np.inf).max(axis=1, keepdims=True)
    scale, zero = affine_params(lo, hi, bits)
    q = (affine_codes(g, scale, zero, bits) - zero) * scale
    return np.sum(np.where(keep, (g - q) ** 2, 0.0) * inv_d2, axis=1)


def outlier_candidates(g: np.ndarray, inv_d2: np.ndarray, bits: int,
                       threshold: float) -> np.ndarray:
    """Outlier mask of one column group g (rows, k): leave-one-out over each row's min / max."""
    rows = np.arange(g.shape[0])
    everything = np.ones(g.shape, dtype=bool)
    full = _weighted_error(g, everything, inv_d2, bits)
    cut = threshold * float(full.mean())
    out = np.zeros(g.shape, dtype=bool)
    for idx in (g.argmin(axis=1), g.argmax(axis=1)):
        keep = everything.copy()
        keep[rows, idx] = False
        gain = full - _weighted_error(g, keep, inv_d2, bits)
        out[rows, idx] |= gain > cut
    return out


def _requantize(stat: np.ndarray, bits: int, rows_per_group: int) -> np.ndarray:
    """Min-max RTN of a per-row statistic in blocks of `rows_per_group` rows."""
    rows = stat.shape[0]
    pad = -rows % rows_per_group
    s = np.concatenate([stat, np.repeat(stat[-1:], pad)]) if pad else stat
    blocks = s.reshape(-1, rows_per_group)
    lo, hi = blocks.min(axis=1, keepdims=True), blocks.max(axis=1, keepdims=True)
    sc, ze = affine_params(lo, hi, bits)
    return ((affine_codes(blocks, sc, ze, bits) - ze) * sc).reshape(-1)[:rows]


def spqr_quantize(w: np.ndarray, hessian: np.ndarray, *, bits: int, group_size: int,
                  scale_bits: int, zero_bits: int, stats_group_size: int, threshold: float,
                  damp: float = 0.01, block: int = 128) -> Quantized:
    w = np.asarray(w, dtype=np.float64)
    rows, cols = w.shape
    g = group_size
    block = max(g, (block // g) * g)
    u, dead = inverse_cholesky(hessian, damp)
    work = w.T.copy()                                # (cols, rows)
    work[dead] = 0.0
    inv_d2 = 1.0 / np.diag(u) ** 2
    n_groups = -(-cols // g)
    codes = np.zeros((cols, rows), dtype=np.int16)
    outlier = np.zeros((cols, rows), dtype=bool)
    outlier_values = np.zeros((cols, rows), dtype=np.float32)
    scales = np.zeros((rows, n_groups), dtype=np.float32)
    zeros = np.zeros((rows, n_groups), dtype=np.float32)
    scale = zero = np.zeros(rows, dtype=np.float32)
    for b0 in range(0, cols, block):
        b1 = min(b0 + block, cols)
        wb = work[b0:b1].copy()
        err = np.zeros((b1 - b0, rows))
        for i in range(b1 - b0):
            j = b0 + i
            if j % g == 0:
                k = min(g, b1 - j)
                grp = wb[i:i + k].T                  # (rows, k), updated weights
                out = outlier_candidates(grp, inv_d2[j:j + k], bits, threshold)
                outlier[j:j + k] = out.T
                lo = np.where(out, np.inf, grp).min(axis=1)
                hi = np.where(out, -np.inf, grp).max(axis=1)
                lo, hi = np.where(np.isfinite(lo), lo, 0.0), np.where(np.isfinite(hi), hi, 0.0)
                scale, zero = affine_params(lo, hi, bits)
                scale_q = _requantize(scale, scale_bits, stats_group_size)
                scale = np.where(scale_q > 0, scale_q, scale).astype(np.float32)
                zero = np.round(_requantize(zero, zero_bits, stats_group_size)).astype(np.float32)
                scales[:, j // g], zeros[:, j // g] = scale, zero
            col = wb[i]
            c = affine_codes(col, scale, zero, bits)
            q = (c.astype(np.float64) - zero) * scale
            exact = col.astype(np.float16).astype(np.float64)
            q = np.where(outlier[j], exact, q)
            codes[j] = c
            outlier_values[j] = np.where(outlier[j], exact, 0.0)
            e = (col - q) / u[j, j]
            wb[i:] -= np.outer(u[j, j:b1], e)
            err[i] = e
        work[b1:] -= u[b0:b1, b1:].T @ err
    return Quantized(codes=codes.T.copy(), code_bits=bits, scale=scales, zero=zeros,
                     group_size=g, inlier_mask=~outlier.T, outlier_values=outlier_values.T.copy())
