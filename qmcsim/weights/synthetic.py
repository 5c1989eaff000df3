"""Synthetic heavy-tailed weights, seeded per tensor (independent of the order of the calls).

Per tensor: Student-t with `df` drawn uniformly from 6..10, normalised to unit variance and
scaled to std 1/sqrt(cols); plus rare spikes of 30-50 sigma (random sign) at an expected rate
`spike_rate` per weight (Poisson count, positions uniform), so only the larger tensors get
spikes. Measured on 2048 x 2048 tensors: 0.7-1.0 % of weights beyond 3 sigma, 0.01-0.03 %
beyond 6 sigma, kurtosis 4-6: a little heavier-tailed than SmolLM2-135M as
shared/reference/quant-formats.md gives it (0.59 %, 0.011 %, 3.5-4.8), which a df of ~12-20
would match; `df_range` changes it.
"""

from __future__ import annotations

import zlib

import numpy as np

from qmcsim.models.shape import Tensor

DF_RANGE = (6, 10)
SPIKE_SIGMA = (30.0, 50.0)
SPIKE_RATE = 2e-7


def tensor_rng(seed: int, name: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def synthetic_weights(tensor: Tensor, seed: int, *, spike_rate: float = SPIKE_RATE,
                      df_range: tuple[int, int] = DF_RANGE) -> np.ndarray:
    rng = tensor_rng(seed, tensor.name)
    df = int(rng.integers(df_range[0], df_range[1] + 1))
    sigma = 1.0 / np.sqrt(tensor.cols)
    w = rng.standard_t(df, size=(tensor.rows, tensor.cols)).astype(np.float32)
    w *= np.float32(sigma / np.sqrt(df / (df - 2)))
    n_spikes = int(rng.poisson(spike_rate * tensor.numel))
    if n_spikes:
        pos = rng.choice(tensor.numel, size=n_spikes, replace=False)
        mag = rng.uniform(*SPIKE_SIGMA, size=n_spikes) * sigma
        w.reshape(-1)[pos] = (mag * rng.choice([-1.0, 1.0], size=n_spikes)).astype(np.float32)
    return w
