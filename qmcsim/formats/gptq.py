"""GPTQ (Frantar et al., "GPTQ: Accurate Post-Training Quantization for Generative Pre-trained
Transformers", ICLR 2023, arXiv 2210.17323), written from the paper's Algorithm 1.

Quantize the columns (input channels) of W one at a time; after each column, spread its
quantization error over the columns not yet quantized so that the layer output X W^T changes
least (the Optimal Brain Surgeon update with the inverse Hessian H^-1, H = X^T X). The paper's
three practical steps are all here:
- dampening: H + lambda I with lambda = `damp` x mean(diag H) (paper: 1 %); dead inputs
  (H_jj = 0) get H_jj = 1 and weight 0;
- the Cholesky form: the rows of the upper Cholesky factor U of H^-1 (H^-1 = U^T U) give every
  update, err_j = (w_j - q_j) / U_jj, W[:, k>j] -= err_j U_jk;
- lazy batch updates: inside a block of `block` columns the updates are applied at once to the
  block, the rest of W gets one matrix product per block.
Optional act-order (the paper's "descending activation order", AutoGPTQ `desc_act`): columns in
order of decreasing H_jj; with groups, a column's group is its position in that order // g
(stored per column as g_idx; the layout counts it).

Group statistics (scale, zero point) are taken when the quantization reaches a group's first
column, from the weights as updated so far (the paper's grouping). The grid is qmcsim's RTN grid
(`rtn_grouped`): asymmetric min-max over [min(lo, 0), max(hi, 0)], so GPTQ and RTN differ only
in the error compensation.
"""

from __future__ import annotations

import numpy as np

from qmcsim.formats.quantize import Quantized, affine_codes, affine_params


def inverse_cholesky(hessian: np.ndarray, damp: float,
                     perm: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(U, dead): the upper Cholesky factor of (H + damp * mean(diag H) I)^-1, columns in
    `perm` order, and the mask of dead input channels (H_jj == 0), in that order too."""
    h = np.array(hessian, dtype=np.float64)
    if perm is not None:
        h = h[np.ix_(perm, perm)]
    dead = np.diag(h) <= 0
    h[dead, dead] = 1.0
    idx = np.arange(h.shape[0])
    h[idx, idx] += damp * float(np.mean(np.diag(h)))
    from scipy.linalg import solve_triangular   # here: scipy costs ~0.5 s of every start-up

    lower = np.linalg.cholesky(h)                  # H = L L^T
    inv = solve_triangular(lower, np.eye(h.shape[0]), lower=True)   # H^-1 = L^-T L^-1
    h_inv = inv.T @ inv
    upper = np.linalg.cholesky(h_inv).T            # H^-1 = U^T U
    return upper, dead


def minmax_grid(cols: np.ndarray, bits: int, symmetric: bool) -> tuple[np.ndarray, np.ndarray]:
    """Scale and zero point per row over `cols` (rows, k): `rtn_grouped`'s grid."""
    if symmetric:
        half = 2 ** (bits - 1)
        amax = np.abs(cols).max(axis=1)
        scale = np.where(amax > 0, amax / (half - 1), 1.0).astype(np.float32)
        return scale, np.full_like(scale, half)
    lo = np.minimum(cols.min(axis=1), 0.0)
    hi = np.maximum(cols.max(axis=1), 0.0)
    return affine_params(lo, hi, bits)


def gptq_quantize(w: np.ndarray, hessian: np.ndarray, *, bits: int, group_size: int | None,
                  act_order: bool = False, symmetric: bool = False, damp: float = 0.01,
                  block: int = 128) -> Quantized:
    """GPTQ of a (rows, cols) matrix. Without act-order and with groups, the result has
    rtn_grouped's form (scale, zero per group); with act-order, scale and zero per column."""
    w = np.asarray(w, dtype=np.float64)
    rows, cols = w.shape
    perm = np.argsort(-np.diag(hessian), kind="stable") if act_order else np.arange(cols)
    u, dead = inverse_cholesky(hessian, damp, perm)
    work = w[:, perm].T.copy()                     # (cols, rows): a column is contiguous
    work[dead] = 0.0
    g = cols if group_size is None else group_size
    if group_size is not None:
        block = max(g, (block // g) * g)           # groups never straddle a block
    codes = np.zeros((cols, rows), dtype=np.int16)
    scale_col = np.zeros((cols, rows), dtype=np.float32)
    zero_col = np.zeros((cols, rows), dtype=np.float32)
    scale = zero = np.zeros(rows, dtype=np.float32)
    for b0 in range(0, cols, block):
        b1 = min(b0 + block, cols)
        wb = work[b0:b1].copy()
        err = np.zeros((b1 - b0, rows))
        for i in range(b1 - b0):
            j = b0 + i
            if j % g == 0:
                # statistics of the group starting here, from the updated weights
                end = min(j + g, cols)
                group = np.concatenate([wb[i:], work[b1:end]])[:end - j]
                scale, zero = minmax_grid(group.T, bits, symmetric)
            col = wb[i]
            c = affine_codes(col, scale, zero, bits)
            q = (c.astype(np.float64) - zero) * scale
            codes[j], scale_col[j], zero_col[j] = c, scale, zero
            e = (col - q) / u[j, j]
            wb[i:] -= np.outer(u[j, j:b1], e)
            err[i] = e
        work[b1:] -= u[b0:b1, b1:].T @ err
    codes, scale_col, zero_col = codes.T, scale_col.T, zero_col.T
    inverse = np.argsort(perm)
    codes, scale_col, zero_col = codes[:, inverse], scale_col[:, inverse], zero_col[:, inverse]
    if act_order or group_size is None:
        return Quantized(codes=codes, code_bits=bits, scale=scale_col, zero=zero_col)
    starts = np.arange(0, cols, g)
    return Quantized(codes=codes, code_bits=bits, scale=scale_col[:, starts],
                     zero=zero_col[:, starts], group_size=g)
