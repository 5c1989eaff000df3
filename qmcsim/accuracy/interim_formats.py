"""INTERIM numerical quantizers for RTN INT4 and MXINT4, used only by the accuracy path.

TO BE REPLACED by the formats' own `quantize` (qmcsim/formats/, being added in parallel) once
merged: `resolve_format` in qmcsim.accuracy.config prefers a registered format of the same kind
whose `quantize` is implemented, and falls back to these only while none is.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from qmcsim.formats.quantize import Quantized, rtn_per_channel


class InterimRtnInt4(BaseModel):
    """Round-to-nearest, asymmetric, per output channel, 4-bit codes."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["rtn-int4"] = "rtn-int4"
    bits: int = Field(4, ge=2, le=8)

    def quantize(self, weights: np.ndarray) -> Quantized:
        return rtn_per_channel(weights, self.bits)


class InterimMxInt4(BaseModel):
    """MX-style INT4: blocks of `block` weights along a row share a power-of-two scale (E8M0);
    elements are two's-complement INT4 read as fixed point s1.2 (OCP MX convention for MXINT:
    shared exponent = floor(log2(max |w|)), element = clip(round(w / 2^(e-2)), -8, 7)).
    Codes are stored offset by 8 (unsigned 0..15) so the noise models can pack them."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["mxint4"] = "mxint4"
    block: int = Field(32, ge=1)

    def quantize(self, weights: np.ndarray) -> Quantized:
        w = np.asarray(weights, dtype=np.float32)
        rows, cols = w.shape
        pad = (-cols) % self.block
        wp = np.pad(w, ((0, 0), (0, pad)))
        blocks = wp.reshape(rows, -1, self.block)
        amax = np.abs(blocks).max(axis=2, keepdims=True)
        exp = np.floor(np.log2(np.where(amax > 0, amax, 1.0)))
        scale = np.exp2(exp - 2).astype(np.float32)
        codes = np.clip(np.round(blocks / scale), -8, 7) + 8
        full_scale = np.broadcast_to(scale, blocks.shape).reshape(rows, -1)[:, :cols]
        return Quantized(codes=codes.reshape(rows, -1)[:, :cols].astype(np.int16), code_bits=4,
                         scale=np.ascontiguousarray(full_scale), zero=np.float32(8.0))


INTERIM_FORMATS: dict[str, type[BaseModel]] = {"rtn-int4": InterimRtnInt4,
                                               "mxint4": InterimMxInt4}
