"""Perplexity vs stored bits per weight of an accuracy run's variants (the study's "greater
compression at equal accuracy" claim as a picture). matplotlib's object API only: no backend
is chosen here."""

from __future__ import annotations

import io

import pandas as pd
from matplotlib.figure import Figure

FP16_BITS = 16.0


def ppl_vs_bits(summary: pd.DataFrame, title: str = "") -> Figure:
    """One point per variant (mean, 95 % CI bar where seeds vary) at its bits/weight (full
    accounting: codes, scales, zero points, outliers and their indices); variants at 16 bits
    (FP16) as a dashed reference line, so the x axis stays on the quantized range."""
    fig = Figure(figsize=(7.0, 4.2), dpi=110)
    ax = fig.add_subplot()
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
                    fmt="o" if qmc else "s", color="tab:red" if qmc else "tab:blue",
                    ms=5, capsize=3)
        ax.annotate(str(row["variant"]), (x, y), xytext=(5, 4), textcoords="offset points",
                    fontsize=8)
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
