"""MRAM (STT or SOT): non-volatile, asymmetric read/write latency and energy."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from qmcsim.memories.base import DeviceParams, register
from qmcsim.memories.queued import QueuedMemory


class MramParams(DeviceParams):
    volatile: bool = False
    cell_type: Literal["stt", "sot"] = "stt"
    read_bit_error_rate: float = Field(0.0, ge=0, le=1,
                                       description="per stored bit per read (incl. read disturb)")
    retention_bit_error_rate: float = Field(0.0, ge=0, le=1,
                                            description="per stored bit over the retention time")


@register
class MramMemory(QueuedMemory):
    kind = "mram"
    params_class: ClassVar[type[DeviceParams]] = MramParams
