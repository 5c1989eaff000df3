"""Mean and 95 % confidence interval over seeds (Student t)."""

from __future__ import annotations

import math

import numpy as np

from qmcsim.errors import InternalError

# two-sided 95 %: t_{0.975, df} for df = 1 .. 30; beyond, the normal 1.96 is within 2 %
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
         2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
         2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def t975(df: int) -> float:
    if df < 1:
        raise InternalError(f"df must be >= 1, got {df}")
    return _T975[df - 1] if df <= len(_T975) else 1.96


def mean_ci95(values: list[float] | np.ndarray) -> tuple[float, float]:
    """(mean, half-width of the 95 % CI); half-width NaN for a single value."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        raise InternalError("a mean of no values")
    if x.size == 1:
        return float(x[0]), math.nan
    return float(x.mean()), t975(x.size - 1) * float(x.std(ddof=1)) / math.sqrt(x.size)
