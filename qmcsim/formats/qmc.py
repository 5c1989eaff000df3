"""QMC: the top-rho weights by magnitude are outliers at `outlier_bits`; the rest are inliers
at `inlier_bits`, uniform per output channel (scale + zero point each, FP16).

Outlier positions must be stored somewhere for the weights to be merged again; the study does
not count them. `index` chooses their encoding:
- `none`: as the study (positions free).
- `bitmap`: one bit per weight (inlier / outlier).
- `csr`: a column index of ceil(log2 cols) bits per outlier plus a 32-bit pointer per row + 1.
- `relative`: per row, each outlier stores the number of inliers since the previous outlier
  (or the row start) in `relative_bits` = b bits. With E = 2**b - 1, codes 0..E-1 mean "skip
  that many inliers, then an outlier" and code E is an escape, "skip E inliers, no outlier";
  a run of g inliers costs floor(g / E) escapes and one entry g mod E. Nothing is stored after
  a row's last outlier; a 32-bit pointer per row + 1 into the entry stream marks where each
  row starts (as CSR). Entries = outliers + escapes. With weights given, the escapes are
  counted on the actual outlier positions; without, their expectation for uniformly scattered
  outliers (gaps geometric, q = 1 - rho): outliers * q**E / (1 - q**E).
  `relative_bits: null` picks the b in 1..16 that minimises the entry bits.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import Field

from qmcsim.formats.base import FP16_BITS, Component, FormatConfig, register_format
from qmcsim.formats.quantize import Quantized, qmc_quantize, top_magnitude_mask
from qmcsim.models.shape import Tensor

ROW_POINTER_BITS = 32
RELATIVE_BITS_RANGE = range(1, 17)


def outlier_count(numel: int, rho: float) -> int:
    return round(rho * numel)


def run_lengths(outlier_mask: np.ndarray) -> np.ndarray:
    """Inliers before each outlier since the previous outlier of its row (or the row start),
    in row-major order of the outliers."""
    rows, cols = np.nonzero(outlier_mask)
    prev = np.empty_like(cols)
    prev[0:1] = -1
    prev[1:] = np.where(rows[1:] == rows[:-1], cols[:-1], -1)
    return cols - prev - 1


def escapes_measured(runs: np.ndarray, b: int) -> int:
    return int((runs // (2**b - 1)).sum())


def escapes_expected(n_out: int, rho: float, b: int) -> int:
    tail = (1.0 - rho) ** (2**b - 1)
    return round(n_out * tail / (1.0 - tail))


@register_format
class QmcFormat(FormatConfig):
    kind: Literal["qmc"] = "qmc"
    rho: float = Field(0.3, gt=0, lt=1, description="outlier fraction (top-|w|)")
    inlier_bits: int = Field(3, ge=1, le=8)
    outlier_bits: int = Field(5, ge=1, le=16)
    index: Literal["none", "bitmap", "csr", "relative"] = "bitmap"
    relative_bits: int | None = Field(None, ge=1, le=16, description="bits per relative-index "
                                      "entry; null = the cheapest")

    def _layout(self, tensor: Tensor, escapes_for: dict[int, int]) -> tuple[Component, ...]:
        n_out = outlier_count(tensor.numel, self.rho)
        parts = [
            Component(name="codes", elements=tensor.numel - n_out, element_bits=self.inlier_bits),
            Component(name="outlier_values", elements=n_out, element_bits=self.outlier_bits),
            # scale and zero point per row, for inliers and for outliers
            Component(name="scales", elements=4 * tensor.rows, element_bits=FP16_BITS,
                      metadata=True),
        ]
        if self.index == "bitmap":
            parts.append(Component(name="outlier_indices", elements=tensor.numel,
                                   element_bits=1, metadata=True))
        elif self.index == "csr":
            col_bits = max(1, math.ceil(math.log2(tensor.cols)))
            parts += [Component(name="outlier_indices", elements=n_out, element_bits=col_bits,
                                metadata=True),
                      Component(name="outlier_indices", elements=tensor.rows + 1,
                                element_bits=ROW_POINTER_BITS, metadata=True)]
        elif self.index == "relative":
            b = min(escapes_for, key=lambda k: ((n_out + escapes_for[k]) * k, k))
            parts += [Component(name="outlier_indices", elements=n_out + escapes_for[b],
                                element_bits=b, metadata=True),
                      Component(name="outlier_indices", elements=tensor.rows + 1,
                                element_bits=ROW_POINTER_BITS, metadata=True)]
        return tuple(parts)

    def _widths(self) -> range | tuple[int]:
        return RELATIVE_BITS_RANGE if self.relative_bits is None else (self.relative_bits,)

    def quantized_layout(self, tensor: Tensor) -> tuple[Component, ...]:
        if self.index != "relative":   # only a relative index has escapes (half a sweep's
            return self._layout(tensor, {})   # point resolving went into counting them)
        n_out = outlier_count(tensor.numel, self.rho)
        return self._layout(tensor, {b: escapes_expected(n_out, self.rho, b)
                                     for b in self._widths()})

    def measured_layout(self, tensor: Tensor, weights: np.ndarray) -> tuple[Component, ...]:
        if self.index != "relative":
            return self.quantized_layout(tensor)   # top-k: the count is exact either way
        runs = run_lengths(~top_magnitude_mask(weights, self.rho))
        return self._layout(tensor, {b: escapes_measured(runs, b) for b in self._widths()})

    @property
    def data_dependent(self) -> bool:
        return self.index == "relative"

    def quantize(self, weights: np.ndarray) -> Quantized:
        return qmc_quantize(weights, self.rho, self.inlier_bits, self.outlier_bits)
