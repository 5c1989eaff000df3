"""Perplexity vs stored bits per weight of an accuracy run's variants (the study's "greater
compression at equal accuracy" claim as a picture). matplotlib's object API only: no backend
is chosen here."""

from __future__ import annotations

import io

import pandas as pd
from matplotlib.figure import Figure

FP16_BITS = 16.0
QMC_COLOUR, OTHER_COLOUR = "#D55E00", "#0072B2"   # Okabe-Ito vermillion / blue


def pareto_front(points: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    """The (bits, perplexity, name) points no other point beats on both (fewer or equal bits
    and lower or equal perplexity, one strictly), by increasing bits."""
    front: list[tuple[float, float, str]] = []
    for p in sorted(points, key=lambda q: (q[0], q[1])):
        if not front or p[1] < front[-1][1]:
            if front and p[0] == front[-1][0]:
                front.pop()
            front.append(p)
    return front


def label_groups(points: list[tuple[float, float, str]], x_tol: float, y_tol: float
                 ) -> list[tuple[float, float, str]]:
    """Points that would print their names on top of each other share one label."""
    groups: list[list[tuple[float, float, str]]] = []
    for p in points:                      # in the config's order
        for g in groups:
            if abs(g[0][0] - p[0]) <= x_tol and abs(g[0][1] - p[1]) <= y_tol:
                g.append(p)
                break
        else:
            groups.append([p])
    return [(g[0][0], max(q[1] for q in g), ", ".join(q[2] for q in g)) for g in groups]


def ppl_vs_bits(summary: pd.DataFrame, title: str = "") -> Figure:
    """One point per variant (mean, 95 % CI bar where seeds vary) at its bits/weight (full
    accounting: codes, scales, zero points, outliers and their indices); variants at 16 bits
    (FP16) as a dashed reference line, so the x axis stays on the quantized range; the
    Pareto front of the quantized variants as a step line."""
    fig = Figure(figsize=(7.0, 4.2), dpi=110)
    ax = fig.add_subplot()
    points = []
    for _, row in summary.iterrows():
        x, y = float(row["bits_per_weight"]), float(row["perplexity_mean"])
        if x >= FP16_BITS:
            ax.axhline(y, color="0.5", ls="--", lw=1)
            ax.annotate(f"{row['variant']} ({x:g} bits)", (0, y), xycoords=("axes fraction",
                        "data"), xytext=(4, 3), textcoords="offset points", fontsize=8,
                        color="0.35")
            continue
        half = row["perplexity_ci95_half"]
        qmc = str(row["format"]) == "qmc"
        ax.errorbar([x], [y], yerr=None if pd.isna(half) else [[half], [half]],
                    fmt="o" if qmc else "s", color=QMC_COLOUR if qmc else OTHER_COLOUR,
                    ms=5, capsize=3, zorder=3)
        points.append((x, y, str(row["variant"])))
    if points:
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        x_span, y_span = max(max(xs) - min(xs), 1e-9), max(max(ys) - min(ys), 1e-9)
        for x, y, text in label_groups(points, 0.02 * x_span, 0.04 * y_span):
            ax.annotate(text, (x, y), xytext=(5, 4), textcoords="offset points", fontsize=8)
        front = pareto_front(points)
        if len(front) > 1:
            ax.step([p[0] for p in front], [p[1] for p in front], where="post", color="0.4",
                    lw=1, ls=":", zorder=2,
                    label="Pareto front: no variant has fewer bits and lower perplexity")
            ax.legend(loc="upper right", fontsize=8, frameon=False)
    ax.set_xlabel("stored bits per weight (codes + scales + outliers + indices)")
    ax.set_ylabel("perplexity (lower is better)")
    if title:
        ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def png_bytes(fig: Figure) -> bytes:
    """The figure as PNG, without the software tag (same input -> same bytes)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()
