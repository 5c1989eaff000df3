"""Outlier selection rules, computed on the weights. Each returns the inlier mask (True = inlier).

- `top_magnitude_mask` (quantize.py): the round(rho * numel) largest |w| (QMC).
- `iqr_mask`: |w| > Q3 + r * (Q3 - Q1) over the tensor (SqueezeLLM's range rule, r ~ 1.8).
- `magnitude_share_mask`: the largest |w| by a fixed share (SqueezeLLM / SpQR nominal share).
"""

from __future__ import annotations

import numpy as np

from qmcsim.formats.quantize import top_magnitude_mask


def iqr_mask(w: np.ndarray, r: float) -> np.ndarray:
    """Inliers under the IQR rule on the whole tensor: outlier iff |w| > Q3 + r * (Q3 - Q1)."""
    w = np.asarray(w, dtype=np.float32)
    q1, q3 = np.quantile(w, [0.25, 0.75])
    return np.abs(w) <= q3 + r * (q3 - q1)


def magnitude_share_mask(w: np.ndarray, share: float) -> np.ndarray:
    return top_magnitude_mask(w, share)
