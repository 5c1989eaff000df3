"""W4 g128 storage as AWQ (llm-awq) and GPTQ (AutoGPTQ) checkpoints hold it.

Per weight a 4-bit code; per 128 input elements of a row an FP16 scale and a zero point.
Checkpoints pack the zero points as 4-bit integers (`qzeros`), so by default
bits/weight = 4 + (16 + 4) / 128 = 4.156; the often-quoted ~4.25 counts an FP16 zero point
(`zero_bits: 16`): 4 + 32 / 128. GPTQ with act-order (`desc_act`) also stores `g_idx`, one
int32 group index per input column: + 32 / out_features (`act_order: true`).

Numerically this module is storage only: AWQ's activation-aware scaling and GPTQ's Hessian
updates need calibration data, so `quantize` rounds to nearest on the same grid (the accuracy
work replaces it when calibration is available).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from qmcsim.formats.base import Component, register_format
from qmcsim.formats.rtn import UniformGroupFormat
from qmcsim.models.shape import Tensor

G_IDX_BITS = 32


@register_format
class AwqGptqFormat(UniformGroupFormat):
    kind: Literal["awq_gptq"] = "awq_gptq"
    bits: int = Field(4, ge=2, le=8)
    group_size: int | None = Field(128, ge=1)
    act_order: bool = Field(False, description="GPTQ desc_act: store g_idx (int32 per column)")

    def quantized_layout(self, tensor: Tensor) -> tuple[Component, ...]:
        parts = super().quantized_layout(tensor)
        if self.act_order:
            parts += (Component(name="scales", elements=tensor.cols, element_bits=G_IDX_BITS,
                                metadata=True),)
        return parts
