"""One look for every figure: the Okabe-Ito palette, a marker and a line style per series.

Figures are `matplotlib.figure.Figure` objects made without pyplot, so the library never
touches the global backend (Jupyter keeps its inline backend, sweeps can draw in threads).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

# Okabe & Ito (2008), "Color Universal Design": distinguishable with every common colour
# vision deficiency. Black is last: it is the baseline's colour when one is named.
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
             "#000000")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
LINESTYLES = ("-", "--", ":", "-.", (0, (5, 1, 1, 1)), (0, (1, 1)), (0, (3, 2, 1, 2)), "-")
HATCHES = ("", "//", "..", "xx", "\\\\", "oo", "++", "--")
SAVE_DPI = 110


def colour(i: int) -> str:
    return OKABE_ITO[i % len(OKABE_ITO)]


def series_style(i: int) -> dict[str, Any]:
    """Colour, marker and line style of the i-th series: each differs from its neighbours."""
    return {"color": colour(i), "marker": MARKERS[i % len(MARKERS)],
            "linestyle": LINESTYLES[i % len(LINESTYLES)]}


def new_figure(width_in: float, height_in: float, nrows: int = 1, ncols: int = 1
               ) -> tuple[Figure, np.ndarray]:
    """A pyplot-free figure and its axes grid (always a 2-D array)."""
    fig = Figure(figsize=(width_in, height_in), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def spans_decades(values: Sequence[float], decades: float = 2.0) -> bool:
    """True when the positive values span more than `decades` powers of ten: use a log axis."""
    pos = [v for v in values if v > 0 and np.isfinite(v)]
    return len(pos) > 1 and max(pos) / min(pos) > 10 ** decades


def integer_ticks(ax: Axes, axis: str = "x") -> None:
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_locator(MaxNLocator(integer=True))


def overlaps(a: Sequence[float], b: Sequence[float], rel: float = 0.005) -> bool:
    """Two series that would be drawn over each other (every point within `rel`)."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape or not len(x):
        return False
    scale = np.maximum(np.abs(x), np.abs(y))
    return bool(np.all(np.abs(x - y) <= rel * np.where(scale > 0, scale, 1.0)))


def overlap_notes(series: dict[str, Sequence[float]]) -> dict[str, str]:
    """Legend suffixes naming, for each series, the earlier one it lies on top of."""
    names = list(series)
    notes: dict[str, str] = {}
    for j, name in enumerate(names):
        for earlier in names[:j]:
            if overlaps(series[earlier], series[name]):
                notes[name] = f" (overlaps {earlier})"
                break
    return notes


def save_figure(fig: Figure, stem: Path, formats: Sequence[str] = ("png", "svg")
                ) -> dict[str, bytes]:
    """The figure encoded in each format, reproducibly (no date in the SVG/PDF metadata)."""
    import io

    import matplotlib

    out: dict[str, bytes] = {}
    for fmt in formats:
        buf = io.BytesIO()
        metadata: dict[str, object] = {"Software": None} if fmt == "png" else {"Date": None}
        with matplotlib.rc_context({"svg.hashsalt": "qmcsim", "svg.fonttype": "path"}):
            fig.savefig(buf, format=fmt, dpi=SAVE_DPI, metadata=metadata)
        out[f"{stem.name}.{fmt}"] = buf.getvalue()
    return out
