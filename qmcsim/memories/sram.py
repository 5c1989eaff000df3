"""On-chip SRAM buffers (banked)."""

from __future__ import annotations

from qmcsim.memories.base import register
from qmcsim.memories.queued import QueuedMemory


@register
class SramMemory(QueuedMemory):
    kind = "sram"
