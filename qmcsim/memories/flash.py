"""NAND Flash behind a UFS interface: holds the persistent weight copy in the FP16 baseline."""

from __future__ import annotations

from qmcsim.memories.base import register
from qmcsim.memories.queued import QueuedMemory


@register
class FlashMemory(QueuedMemory):
    kind = "flash"
