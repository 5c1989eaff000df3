"""W4 g128 storage as AWQ (llm-awq) and GPTQ (AutoGPTQ) checkpoints hold it.

Per weight a 4-bit code; per 128 input elements of a row an FP16 scale and a zero point.
Checkpoints pack the zero points as 4-bit integers (`qzeros`), so by default
bits/weight = 4 + (16 + 4) / 128 = 4.156; the often-quoted ~4.25 counts an FP16 zero point
(`zero_bits: 16`): 4 + 32 / 128. GPTQ with act-order (`desc_act`) also stores `g_idx`, one
int32 group index per input column: + 32 / out_features (`act_order: true`).

Numerics: `algorithm` picks the quantizer that produced the checkpoint. With calibration
statistics (`quantize(w, calibration)`, see `formats.calibration`): GPTQ's Hessian error
compensation (`formats.gptq`, with act-order when `act_order`) or AWQ's activation-aware
scaling and clipping search (`formats.awq`). Without calibration both round to nearest on the
same grid (`rtn_grouped`). AWQ with `act_order` is rejected (AWQ stores no g_idx).
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator

from qmcsim.formats.awq import awq_quantize
from qmcsim.formats.base import Component, register_format
from qmcsim.formats.calibration import LayerCalibration
from qmcsim.formats.gptq import gptq_quantize
from qmcsim.formats.quantize import Quantized
from qmcsim.formats.rtn import UniformGroupFormat
from qmcsim.models.shape import Tensor

G_IDX_BITS = 32


@register_format
class AwqGptqFormat(UniformGroupFormat):
    kind: Literal["awq_gptq"] = "awq_gptq"
    bits: int = Field(4, ge=2, le=8)
    group_size: int | None = Field(128, ge=1)
    act_order: bool = Field(False, description="GPTQ desc_act: store g_idx (int32 per column)")
    algorithm: Literal["gptq", "awq"] = Field("gptq", description="quantizer used with "
                                              "calibration data (storage is the same)")
    awq_clip: bool = Field(True, description="AWQ: search a clipping ratio per group")
    damp: float = Field(0.01, gt=0, description="GPTQ: dampening, fraction of mean(diag H)")

    uses_calibration: ClassVar[bool] = True

    @model_validator(mode="after")
    def _awq_order(self) -> AwqGptqFormat:
        if self.algorithm == "awq" and self.act_order:
            raise ValueError("act_order is GPTQ's; AWQ stores no g_idx")
        if self.algorithm == "awq" and self.symmetric:
            raise ValueError("AWQ here uses the asymmetric grid: symmetric: false")
        return self

    def quantize(self, weights: np.ndarray,
                 calibration: LayerCalibration | None = None) -> Quantized:
        if calibration is None:
            return super().quantize(weights)
        w = np.asarray(weights, dtype=np.float32)
        w = w.reshape(-1, 1) if w.ndim == 1 else w
        if self.algorithm == "awq":
            return awq_quantize(w, calibration, bits=self.bits,
                                group_size=self.group_size or w.shape[1], clip=self.awq_clip)
        return gptq_quantize(w, calibration.hessian, bits=self.bits, group_size=self.group_size,
                             act_order=self.act_order, symmetric=self.symmetric, damp=self.damp)

    def quantized_layout(self, tensor: Tensor) -> tuple[Component, ...]:
        parts = super().quantized_layout(tensor)
        if self.act_order:
            parts += (Component(name="scales", elements=tensor.cols, element_bits=G_IDX_BITS,
                                metadata=True),)
        return parts
