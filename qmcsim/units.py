"""The one place where physical time becomes simulator time.

The simpy clock counts ticks of one picosecond: fine enough for a DRAM clock
(tCK = 1.25 ns = 1250 ticks) while a whole decode token (tens of ms) stays far
below float precision limits.
"""

from __future__ import annotations

TICKS_PER_NS = 1000.0
BITS_PER_BYTE = 8
MEBIBIT = 2**20  # density figures in Mb/mm^2 use binary megabits (QMC study, NVSim)


def ns_to_ticks(t_ns: float) -> float:
    return t_ns * TICKS_PER_NS


def ticks_to_ns(ticks: float) -> float:
    return ticks / TICKS_PER_NS


def cycles_to_ticks(n_cycles: float, t_ck_ns: float) -> float:
    return n_cycles * t_ck_ns * TICKS_PER_NS


def transfer_ticks(nbytes: float, bandwidth_gb_per_s: float) -> float:
    """Ticks to move nbytes at a bandwidth in GB/s (1 GB/s = 1 byte/ns)."""
    return ns_to_ticks(nbytes / bandwidth_gb_per_s)
