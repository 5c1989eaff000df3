"""The FP16 baseline: every weight as an IEEE half."""

from __future__ import annotations

from typing import Literal

import numpy as np

from qmcsim.formats.base import Component, FormatConfig, fp16_layout, register_format
from qmcsim.formats.quantize import Quantized
from qmcsim.models.shape import Tensor


@register_format
class Fp16Format(FormatConfig):
    kind: Literal["fp16"] = "fp16"

    def quantized_layout(self, tensor: Tensor) -> tuple[Component, ...]:
        return fp16_layout(tensor)

    def quantize(self, weights: np.ndarray) -> Quantized:
        return Quantized(codes=np.asarray(weights, dtype=np.float16), code_bits=16,
                         scale=np.ones(1, dtype=np.float32))
