"""QMC: the top-rho weights by magnitude are outliers at `outlier_bits`; the rest are inliers
at `inlier_bits`, uniform per output channel (scale + zero point each, FP16).

Outlier positions must be stored somewhere for the weights to be merged again; the study does
not count them. `index` chooses their encoding: none (as the study), a position bitmap (one bit
per weight), or CSR (a column index per outlier plus a 32-bit pointer per row).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import Field

from qmcsim.formats.base import FP16_BITS, Component, FormatConfig, register_format
from qmcsim.formats.quantize import Quantized, qmc_quantize
from qmcsim.models.shape import Tensor


def outlier_count(numel: int, rho: float) -> int:
    return round(rho * numel)


@register_format
class QmcFormat(FormatConfig):
    kind: Literal["qmc"] = "qmc"
    rho: float = Field(0.3, gt=0, lt=1, description="outlier fraction (top-|w|)")
    inlier_bits: int = Field(3, ge=1, le=8)
    outlier_bits: int = Field(5, ge=1, le=16)
    index: Literal["none", "bitmap", "csr"] = "bitmap"

    def quantized_layout(self, tensor: Tensor) -> tuple[Component, ...]:
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
                                element_bits=32, metadata=True)]
        return tuple(parts)

    def quantize(self, weights: np.ndarray) -> Quantized:
        return qmc_quantize(weights, self.rho, self.inlier_bits, self.outlier_bits)
