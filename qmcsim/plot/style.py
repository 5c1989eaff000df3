"""One look for every figure: the Okabe-Ito palette, a marker and a line style per series.

Figures are `matplotlib.figure.Figure` objects made without pyplot, so the library never
touches the global backend (Jupyter keeps its inline backend, sweeps can draw in threads).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import LogFormatter, MaxNLocator

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


def fixed_figure(width_in: float, height_in: float, nrows: int = 1, ncols: int = 1
                 ) -> tuple[Figure, np.ndarray]:
    """A pyplot-free figure without a layout engine: place its axes with `fit_grid` once they
    are drawn on (constrained layout measures every text twice per file written)."""
    fig = Figure(figsize=(width_in, height_in))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def spans_decades(values: Sequence[float], decades: float = 2.0) -> bool:
    """True when the positive values span more than `decades` powers of ten: use a log axis."""
    pos = [v for v in values if v > 0 and np.isfinite(v)]
    return len(pos) > 1 and max(pos) / min(pos) > 10 ** decades


def integer_ticks(ax: Axes, axis: str = "x") -> None:
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_locator(MaxNLocator(integer=True))


SUPERSCRIPT = str.maketrans("-0123456789", "\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076"
                            "\u2077\u2078\u2079")


class PowerOfTen(LogFormatter):
    """Log-axis labels 10\u00b3, 2\u00d710\u00b3 as plain text: matplotlib's default writes them as
    mathtext, whose parser costs more than the rest of a figure's text."""

    def _num_to_string(self, x: float, vmin: float, vmax: float) -> str:
        exponent = math.floor(math.log10(x) + 1e-9)
        coeff = round(x / 10.0 ** exponent)
        power = "10" + str(exponent).translate(SUPERSCRIPT)
        return power if coeff == 1 else f"{coeff}\u00d7{power}"


def log_scale(ax: Axes, axis: str = "x") -> None:
    """A log axis labelled by `PowerOfTen`."""
    if axis == "x":
        ax.set_xscale("log")
    else:
        ax.set_yscale("log")
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_formatter(PowerOfTen())
    target.set_minor_formatter(PowerOfTen(labelOnlyBase=False))


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


def _text_size_pt(renderer: Any, text: str, fontsize: float) -> tuple[float, float]:
    """Width and height (points) of a text of plain lines at a font size."""
    from matplotlib.font_manager import FontProperties

    lines = text.split("\n")
    prop = FontProperties(size=fontsize)
    width = max(renderer.get_text_width_height_descent(line, prop, ismath=False)[0]
                for line in lines)
    return width, len(lines) * fontsize * 1.2


def _decorations_pt(ax: Axes, renderer: Any) -> dict[str, float]:
    """Room (points) the axes' tick labels, axis labels and title take beside it."""
    import matplotlib as mpl

    rc: Any = mpl.rcParams

    def size(text: Any) -> tuple[float, float]:
        return _text_size_pt(renderer, text.get_text(), float(text.get_fontsize()))

    def ticks(axis: Any) -> tuple[float, float]:
        labels = [t for t in axis.get_majorticklabels() + axis.get_minorticklabels()
                  if t.get_visible() and t.get_text()]
        sizes = [size(t) for t in labels]
        return max((s[0] for s in sizes), default=0.0), max((s[1] for s in sizes), default=0.0)

    def label(text: Any) -> float:
        return size(text)[1] + rc["axes.labelpad"] if text.get_text() else 0.0

    y_w, _ = ticks(ax.yaxis)
    _, x_h = ticks(ax.xaxis)
    top = size(ax.title)[1] + rc["axes.titlepad"] if ax.title.get_text() else 0.0
    return {"left": y_w + rc["ytick.major.size"] + rc["ytick.major.pad"] + label(ax.yaxis.label),
            "bottom": x_h + rc["xtick.major.size"] + rc["xtick.major.pad"]
            + label(ax.xaxis.label),
            "top": top}


MIN_CELL = 0.15   # the least share of the figure's width (height) an axes of fit_grid keeps


def fit_grid(fig: Figure, axes: np.ndarray, suptitle: str = "", suptitle_pt: float = 11,
             margin_in: float = 0.08, gap_in: float = 0.25) -> None:
    """Place a grid of axes (and a figure title) so their tick labels, axis labels and titles
    fit: what constrained layout does, from the label texts' font metrics alone (no draw).
    Call it once the axes are drawn on; bar labels and legends must stay inside their axes."""
    from matplotlib.backends.backend_agg import RendererAgg

    renderer = RendererAgg(1, 1, 72)   # 72 dpi: one pixel per point
    nrows, ncols = axes.shape
    room = [[_decorations_pt(ax, renderer) for ax in row] for row in axes]
    width_in, height_in = fig.get_size_inches()
    pt = 1 / 72
    left = max(room[r][0]["left"] for r in range(nrows)) * pt + margin_in
    wgap = max((room[r][c]["left"] for r in range(nrows) for c in range(1, ncols)),
               default=0.0) * pt + gap_in
    top = max(room[0][c]["top"] for c in range(ncols)) * pt + margin_in
    if suptitle:
        top += _text_size_pt(renderer, suptitle, suptitle_pt)[1] * pt + 0.05
    bottom = max(room[-1][c]["bottom"] for c in range(ncols)) * pt + margin_in
    hgap = max((room[r][c]["bottom"] * pt + room[r + 1][c]["top"] * pt
                for r in range(nrows - 1) for c in range(ncols)), default=0.0) + gap_in / 2
    # labels too long for the figure: shrink the margins, keep at least MIN_CELL of each
    # axes (their labels are cut at the figure's edge; constrained layout gives up likewise)
    spare_w = width_in * (1 - MIN_CELL * ncols) - margin_in
    if left + (ncols - 1) * wgap > spare_w:
        shrink = spare_w / (left + (ncols - 1) * wgap)
        left, wgap = left * shrink, wgap * shrink
    spare_h = height_in * (1 - MIN_CELL * nrows)
    if top + bottom + (nrows - 1) * hgap > spare_h:
        shrink = spare_h / (top + bottom + (nrows - 1) * hgap)
        top, bottom, hgap = top * shrink, bottom * shrink, hgap * shrink
    cell_w = (width_in - left - margin_in - (ncols - 1) * wgap) / ncols
    cell_h = (height_in - top - bottom - (nrows - 1) * hgap) / nrows
    if suptitle:   # just below the top edge, as constrained layout puts it
        fig.suptitle(suptitle, fontsize=suptitle_pt, y=1 - margin_in / height_in, va="top")
    fig.subplots_adjust(left=left / width_in, right=1 - margin_in / width_in,
                        top=1 - top / height_in, bottom=bottom / height_in,
                        wspace=wgap / cell_w, hspace=hgap / cell_h)


def save_figure(fig: Figure, stem: Path, formats: Sequence[str] = ("png", "svg")
                ) -> dict[str, bytes]:
    """The figure encoded in each format, reproducibly (no date in the SVG/PDF metadata)."""
    import io

    import matplotlib

    out: dict[str, bytes] = {}
    for fmt in formats:
        buf = io.BytesIO()
        metadata: dict[str, object] = {"Software": None} if fmt == "png" else {"Date": None}
        # PNG: zlib level 1 encodes ~3x faster than the default 6 for ~5 % more bytes
        pil = {"compress_level": 1} if fmt == "png" else None
        with matplotlib.rc_context({"svg.hashsalt": "qmcsim", "svg.fonttype": "path"}):
            if pil is None:
                fig.savefig(buf, format=fmt, dpi=SAVE_DPI, metadata=metadata)
            else:
                fig.savefig(buf, format=fmt, dpi=SAVE_DPI, metadata=metadata, pil_kwargs=pil)
        out[f"{stem.name}.{fmt}"] = buf.getvalue()
    return out
