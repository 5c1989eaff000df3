"""INT8 per output channel, symmetric absmax (LLM.int8's weight format, arXiv 2208.07339).

bits/weight = 8 + 16 / in_features (an FP16 scale per row; no zero point).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from qmcsim.formats.base import register_format
from qmcsim.formats.rtn import UniformGroupFormat


@register_format
class Int8Format(UniformGroupFormat):
    kind: Literal["int8"] = "int8"
    bits: int = Field(8, ge=8, le=8)
    symmetric: bool = True
