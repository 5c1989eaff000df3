"""Calibration statistics of one linear layer, and the layer-output error they measure.

A linear layer y = x W^T reads inputs x (rows of X, one per calibration token). Everything the
calibrated quantizers need from X is its second moment H = X^T X / n (the GPTQ / OBS Hessian of
the layer-output error, up to a factor 2) and the mean |x| per input channel (AWQ's activation
statistic). With them the output error of a weight change D = W - W_hat is exact:

    ||X W^T - X W_hat^T||_F^2 / n = tr(D H D^T)

so no activations need to be kept. numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, kw_only=True, eq=False)
class LayerCalibration:
    hessian: np.ndarray    # (cols, cols) float32 or float64: X^T X / samples
    mean_abs: np.ndarray   # (cols,): mean |x| per input channel
    samples: int           # calibration tokens (rows of X)

    @classmethod
    def from_inputs(cls, x: np.ndarray) -> LayerCalibration:
        """From the input rows X (samples, cols) directly (tests, small layers)."""
        x64 = np.asarray(x, dtype=np.float64).reshape(-1, np.shape(x)[-1])
        n = x64.shape[0]
        return cls(hessian=x64.T @ x64 / n, mean_abs=np.abs(x64).mean(axis=0), samples=n)

    @property
    def cols(self) -> int:
        return int(self.mean_abs.shape[0])


def output_error(w: np.ndarray, w_hat: np.ndarray, hessian: np.ndarray) -> float:
    """Mean squared layer-output error per token, summed over outputs: tr(D H D^T)."""
    d = np.asarray(w, np.float64) - np.asarray(w_hat, np.float64)
    return float(np.sum((d @ hessian) * d))


def row_output_error(d: np.ndarray, hessian: np.ndarray) -> np.ndarray:
    """Per output row: d_i H d_i^T for a weight change `d` (rows, cols)."""
    d = np.asarray(d, np.float64)
    return np.sum((d @ hessian) * d, axis=1)
