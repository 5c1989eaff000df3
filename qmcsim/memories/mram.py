"""MRAM (STT or SOT): non-volatile, asymmetric read/write latency and energy."""

from __future__ import annotations

from typing import ClassVar, Literal

from qmcsim.memories.base import DeviceParams, register
from qmcsim.memories.queued import QueuedMemory


class MramParams(DeviceParams):
    volatile: bool = False
    cell_type: Literal["stt", "sot"] = "stt"
    read_bit_error_rate: float = 0.0


@register
class MramMemory(QueuedMemory):
    kind = "mram"
    params_class: ClassVar[type[DeviceParams]] = MramParams
