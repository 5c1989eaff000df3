"""NAND Flash behind a UFS interface: holds the persistent weight copy in the FP16 baseline."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from qmcsim.memories.base import DeviceParams, register
from qmcsim.memories.queued import QueuedMemory


class FlashParams(DeviceParams):
    raw_bit_error_rate: float = Field(
        0.0, ge=0, le=1, description="per stored bit, after the controller's ECC if any")


@register
class FlashMemory(QueuedMemory):
    kind = "flash"
    params_class: ClassVar[type[DeviceParams]] = FlashParams
