"""One number format for every command's printed tables.

Plain decimals with thousands separators and three decimals between 0.001 and a million;
beyond that, three-digit scientific notation (endurance cycles, lifetimes); missing values as
'-'. Quantities whose values would need more than five integer digits are printed in a
larger unit of the same kind (uJ -> mJ -> J, MB -> GB, ms -> s), chosen per row or column so
a table keeps one unit per line.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

# unit -> the larger units of the same quantity, with their factors from the base unit
LADDERS = {
    "uJ": (("uJ", 1.0), ("mJ", 1e-3), ("J", 1e-6)),
    "mJ": (("mJ", 1.0), ("J", 1e-3)),
    "MB": (("MB", 1.0), ("GB", 1e-3)),
    "ms": (("ms", 1.0), ("s", 1e-3)),
    "ns": (("ns", 1.0), ("us", 1e-3), ("ms", 1e-6)),
}
LARGEST_PLAIN = 10_000.0


def number(v: float) -> str:
    """The one format of a printed figure."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v != 0 and (abs(v) >= 1e6 or abs(v) < 1e-3):
        return f"{v:.3e}"
    return f"{v:,.3f}"


def unit_for(values: Iterable[float], unit: str) -> tuple[str, float]:
    """The unit (and factor from `unit`) that keeps the largest value below 10,000."""
    finite = [abs(v) for v in values if v is not None and math.isfinite(v)]
    top = max(finite, default=0.0)
    ladder = LADDERS.get(unit, ((unit, 1.0),))
    for name, factor in ladder:
        if top * factor < LARGEST_PLAIN:
            return name, factor
    return ladder[-1]
