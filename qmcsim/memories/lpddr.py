"""LPDDR at the bandwidth level (per-channel latency + bandwidth + queueing).

The command-level model (banks, rows, refresh) is the `dram` kind; this one is the quick,
closed-form view that the QMC study itself uses (Table 1: 1.7 ns, 186.26 GiB/s, 3.5 pJ/bit).
"""

from __future__ import annotations

from qmcsim.memories.base import register
from qmcsim.memories.queued import QueuedMemory


@register
class LpddrMemory(QueuedMemory):
    kind = "lpddr"
    area_role = "replaced"
