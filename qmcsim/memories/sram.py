"""On-chip SRAM buffers (banked)."""

from __future__ import annotations

from qmcsim.memories.base import register
from qmcsim.memories.queued import QueuedMemory


@register
class SramMemory(QueuedMemory):
    kind = "sram"
    area_role = "none"   # on-chip buffers: not part of the weight-memory area comparison
