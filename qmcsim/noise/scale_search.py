"""The QMC study's inlier scale search (Algorithm 1), per output row, over a grid of multipliers.

The scale of a row's inlier grid is its min-max scale times a multiplier m <= 1 (m < 1 clips
the extremes and shrinks the step Delta). Cost of a multiplier for one row:
    ||W_in - Q(W_in; s)||^2 + |W_in| * kappa * Delta(s)^2
where kappa = E[(c_read - c)^2] per code in code steps, computed analytically from the device's
level confusion, the code-to-level mapping and the packing (qmcsim.noise.mapping) for the code
histogram at that multiplier. With one code per cell and one-level errors kappa = p- + p+, the
study's formula. kappa = 0 gives the plain MSE scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qmcsim.formats.quantize import rtn_per_channel
from qmcsim.noise.mapping import expected_sq_code_error

DEFAULT_GRID: tuple[float, ...] = tuple(np.round(np.arange(0.5, 1.0001, 0.05), 4).tolist())


@dataclass(frozen=True, kw_only=True)
class ScaleSearch:
    multipliers: np.ndarray      # (rows,) multiplier per row minimising the noise-aware cost
    mse_multipliers: np.ndarray  # (rows,) multiplier per row minimising the plain MSE
    kappa: float                 # kappa at the chosen multipliers' most common grid point


def search_multipliers(w: np.ndarray, bits: int, *, inlier_mask: np.ndarray | None,
                       error_table: np.ndarray | None,
                       grid: tuple[float, ...] = DEFAULT_GRID) -> ScaleSearch:
    """Per row, the grid multiplier minimising quantization error plus the expected device
    error (`error_table` from mapping.code_error_table; None = plain MSE search)."""
    w = np.asarray(w, dtype=np.float32)
    mask = np.ones(w.shape, dtype=bool) if inlier_mask is None else inlier_mask
    n_row = mask.sum(axis=1)
    sse = np.empty((len(grid), w.shape[0]))
    costs = np.empty((len(grid), w.shape[0]))
    kappas = np.zeros(len(grid))
    for i, m in enumerate(grid):
        q = rtn_per_channel(w, bits, mask=inlier_mask, scale_multiplier=m)
        err = np.where(mask, w - q.dequantize(), 0.0)
        sse[i] = np.sum(err.astype(np.float64) ** 2, axis=1)
        costs[i] = sse[i]
        if error_table is not None:
            hist = np.bincount(q.codes[mask].astype(np.int64), minlength=2**bits)
            kappas[i] = expected_sq_code_error(error_table, hist) if hist.sum() else 0.0
            costs[i] += n_row * kappas[i] * np.asarray(q.scale, np.float64).reshape(-1) ** 2
    best = np.argmin(costs, axis=0)
    g = np.asarray(grid, dtype=np.float32)
    return ScaleSearch(multipliers=g[best], mse_multipliers=g[np.argmin(sse, axis=0)],
                       kappa=float(kappas[np.bincount(best).argmax()]))
