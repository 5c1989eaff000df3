"""Round-to-nearest uniform quantization, per output channel or per group of input elements.

Stored per tensor: `bits`-bit codes for every weight; per group (a row, or `group_size`
consecutive input elements of a row) an FP16 scale and, if asymmetric, an integer zero point of
`zero_bits` bits (default `bits`, as GPTQ / AWQ checkpoints pack `qzeros`; 16 = an FP16 zero).

bits/weight = bits + (scale_bits + zero_bits) / group_size (group_size = in_features per
channel; the last group of a row may be partial and still carries a full scale).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from qmcsim.formats.base import FP16_BITS, Component, FormatConfig, n_groups, register_format
from qmcsim.formats.quantize import Quantized, rtn_grouped
from qmcsim.models.shape import Tensor


class UniformGroupFormat(FormatConfig):
    """Shared layout and quantizer of the uniform grouped formats (rtn, int8, awq_gptq)."""

    bits: int = Field(4, ge=2, le=8, description="code bits per weight")
    group_size: int | None = Field(None, ge=1, description="input elements per scale; "
                                   "None = one scale per output row (per channel)")
    symmetric: bool = Field(False, description="no zero point (codes centred on 2**(bits-1))")
    scale_bits: int = Field(FP16_BITS, ge=1, le=32, description="bits per stored scale")
    zero_bits: int | None = Field(None, ge=1, le=32,
                                  description="bits per stored zero point; default: `bits`")

    @model_validator(mode="after")
    def _zero_bits(self) -> UniformGroupFormat:
        if self.symmetric and self.zero_bits is not None:
            raise ValueError("a symmetric format stores no zero point: leave zero_bits unset")
        return self

    @property
    def stored_zero_bits(self) -> int:
        if self.symmetric:
            return 0
        return self.bits if self.zero_bits is None else self.zero_bits

    def quantized_layout(self, tensor: Tensor) -> tuple[Component, ...]:
        groups = n_groups(tensor, self.group_size)
        parts = [Component(name="codes", elements=tensor.numel, element_bits=self.bits),
                 Component(name="scales", elements=groups, element_bits=self.scale_bits,
                           metadata=True)]
        if not self.symmetric:
            parts.append(Component(name="scales", elements=groups,
                                   element_bits=self.stored_zero_bits, metadata=True))
        return tuple(parts)

    def quantize(self, weights: np.ndarray) -> Quantized:
        return rtn_grouped(weights, self.bits, self.group_size, symmetric=self.symmetric)


@register_format
class RtnFormat(UniformGroupFormat):
    """RTN INT-b: `group_size: null` per channel, `group_size: 128` the usual group-128."""

    kind: Literal["rtn"] = "rtn"
