"""Sampled decode: simulate decode tokens in detail at a stride, interpolate the ones between.

Every decode token reads the same weights at the same addresses; only the KV cache reads grow
by one row per token (and stop growing at a sliding window). A decode step's latency, energy
and row-buffer outcomes are therefore smooth, almost linear, functions of the token index, and
simulating every token pays the same cost again for a few bytes of difference. As in SMARTS
(Wunderlich et al., ISCA 2003) the simulator measures a sample of units in detail and
estimates the rest; here the units are decode tokens, the sample is systematic (every
`stride`-th token plus the first and the last), and the estimate of a skipped token is the
linear interpolation of its two simulated neighbours. The error against exhaustive
simulation is measured, not assumed (tests/test_sampling.py, BENCHMARKS.md).

What an interpolated step reports: bytes and request counts are counted exactly from its
trace; latency, energy (dynamic and static), busy and queueing time and row-buffer outcomes
are interpolated. Its records carry `simulated=False`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from qmcsim.config.schema import WorkloadConfig

AUTO_SAMPLES = 5  # simulated decode tokens per run with `decode_stride: auto`


def auto_stride(decode_tokens: int, samples: int = AUTO_SAMPLES) -> int:
    """The stride that simulates about `samples` tokens (first and last included)."""
    return max(1, math.ceil((decode_tokens - 1) / max(1, samples - 1)))


def decode_stride(workload: WorkloadConfig) -> int:
    """The workload's stride between simulated decode tokens (1: every token simulated)."""
    if workload.decode_sampling == "exhaustive":
        return 1
    if workload.decode_stride == "auto":
        return auto_stride(workload.generate_tokens)
    return workload.decode_stride


def sampled(index: int, decode_tokens: int, stride: int) -> bool:
    """Is decode token `index` (0-based among the decode steps) simulated in detail?"""
    return index % stride == 0 or index == decode_tokens - 1


def sampled_indices(decode_tokens: int, stride: int) -> list[int]:
    return [i for i in range(decode_tokens) if sampled(i, decode_tokens, stride)]


def lerp(a: float, b: float, frac: float) -> float:
    return a + (b - a) * frac


def lerp_int(a: int, b: int, frac: float) -> int:
    return round(a + (b - a) * frac)


def fractions(first: int, last: int) -> Iterable[tuple[int, float]]:
    """(index, fraction of the way from `first` to `last`) of the indices strictly between."""
    for j in range(first + 1, last):
        yield j, (j - first) / (last - first)


__all__ = ["AUTO_SAMPLES", "auto_stride", "decode_stride", "fractions", "lerp", "lerp_int",
           "sampled", "sampled_indices"]
