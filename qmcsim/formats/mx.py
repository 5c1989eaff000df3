"""OCP Microscaling (MX) formats: blocks of 32 consecutive input elements share one 8-bit E8M0
scale (a power of two, 2**(e - 127)); each element is INT4, INT8 or FP4 (E2M1).

bits/weight = element_bits + 8 / 32: MXINT4 and MXFP4 4.25, MXINT8 8.25.
Quantization follows microsoft/microxcaling: shared exponent = floor(log2(max |x|)) - emax of
the element type, clamped to the E8M0 range; elements round to nearest and saturate.
INT elements are fixed point with (bits - 2) fraction bits (MXINT8: 1.6); FP4 is E2M1 with
values {0, 0.5, 1, 1.5, 2, 3, 4, 6} and a sign bit.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from qmcsim.formats.base import Component, FormatConfig, n_groups, register_format
from qmcsim.formats.quantize import Quantized, group_view
from qmcsim.models.shape import Tensor

E8M0_BITS = 8
E8M0_MIN, E8M0_MAX = -127, 127
# FP4 E2M1 magnitudes; code = sign * 8 + magnitude index
FP4_E2M1 = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0], dtype=np.float32)
FP4_LUT = np.concatenate([FP4_E2M1, -FP4_E2M1]).astype(np.float32)
FP4_EMAX = 2
ELEMENT_BITS = {"int4": 4, "int8": 8, "fp4": 4}


def shared_exponent(block_amax: np.ndarray, emax: int) -> np.ndarray:
    """E8M0 exponent per block: floor(log2(amax)) - emax, clamped; 0 for all-zero blocks."""
    with np.errstate(divide="ignore"):
        e = np.floor(np.log2(block_amax)) - emax
    e = np.where(block_amax > 0, e, 0.0)
    return np.clip(e, E8M0_MIN, E8M0_MAX).astype(np.int32)


def fp4_codes(x: np.ndarray) -> np.ndarray:
    """Nearest E2M1 value (saturating at 6), as a 4-bit sign-magnitude code."""
    mag = np.abs(x)
    mids = (FP4_E2M1[1:] + FP4_E2M1[:-1]) / 2
    idx = np.searchsorted(mids, mag, side="left")   # ties go to the smaller magnitude
    return (idx + 8 * (x < 0) * (idx > 0)).astype(np.int16)


@register_format
class MxFormat(FormatConfig):
    kind: Literal["mx"] = "mx"
    element: Literal["int4", "fp4", "int8"] = "int4"
    block_size: int = Field(32, ge=1, description="elements sharing one scale (OCP: 32)")

    @property
    def element_bits(self) -> int:
        return ELEMENT_BITS[self.element]

    def quantized_layout(self, tensor: Tensor) -> tuple[Component, ...]:
        return (Component(name="codes", elements=tensor.numel, element_bits=self.element_bits),
                Component(name="scales", elements=n_groups(tensor, self.block_size),
                          element_bits=E8M0_BITS, metadata=True))

    def quantize(self, weights: np.ndarray) -> Quantized:
        blocks, cols = group_view(weights, self.block_size)
        amax = np.abs(blocks).max(axis=2)
        rows = blocks.shape[0]
        if self.element == "fp4":
            exp = shared_exponent(amax, FP4_EMAX)
            scale = np.exp2(exp).astype(np.float32)
            codes = fp4_codes(blocks / scale[..., None]).reshape(rows, -1)[:, :cols]
            return Quantized(codes=codes, code_bits=4, scale=scale, lut=FP4_LUT,
                             group_size=self.block_size)
        bits = self.element_bits
        exp = shared_exponent(amax, 0)
        # element step 2**-(bits-2) folded into the (still power-of-two) scale
        scale = np.exp2(exp - (bits - 2)).astype(np.float32)
        qmax = 2 ** (bits - 1) - 1
        q = np.clip(np.round(blocks / scale[..., None]), -qmax, qmax)
        codes = (q + 2 ** (bits - 1)).astype(np.int16).reshape(rows, -1)[:, :cols]
        return Quantized(codes=codes, code_bits=bits, scale=scale,
                         zero=np.full_like(scale, 2 ** (bits - 1)), group_size=self.block_size)
