"""Figures of an accuracy folder (summary.csv: one row per variant, mean and 95 % CI)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from qmcsim.plot.style import HATCHES, colour, new_figure, overlap_notes, series_style


def configured(summary: pd.DataFrame) -> pd.DataFrame:
    """The variants the config lists (rho-sweep rows derive from one and name it as `base`)."""
    if "base" not in summary:
        return summary
    return summary[summary.variant == summary.base]


def draw_perplexity_bars(ax: Axes, summary: pd.DataFrame) -> None:
    rows = configured(summary).reset_index(drop=True)
    ci = rows.perplexity_ci95_half.fillna(0.0).to_numpy()
    ys = np.arange(len(rows))
    ax.barh(ys, rows.perplexity_mean, xerr=ci, capsize=3,
            color=[colour(i) for i in range(len(rows))],
            hatch=None, edgecolor="white", error_kw={"elinewidth": 1.0})
    for i, (m, h, n) in enumerate(zip(rows.perplexity_mean, ci, rows.n_seeds, strict=True)):
        text = f"{m:.2f}" + (f" ± {h:.2f} ({n} seeds)" if n > 1 else "")
        ax.text(m + h, i, " " + text, va="center", fontsize=7)
    ax.set_yticks(ys, rows.variant, fontsize=8)
    ax.invert_yaxis()
    ref = rows[rows.format == "fp16"] if "format" in rows else rows.iloc[:0]
    if len(ref):
        ax.axvline(float(ref.perplexity_mean.iloc[0]), color="black", lw=0.8, ls="--",
                   label=f"{ref.variant.iloc[0]} (reference)")
        ax.legend(frameon=False, fontsize=7, loc="lower right")
    ax.set_xlim(0, float((rows.perplexity_mean + ci).max()) * 1.45)
    ax.set_xlabel("perplexity (lower is better; bars: mean, whiskers: 95 % CI over seeds)")
    ax.set_title("Perplexity per variant", fontsize=9)


def draw_rho_sweep(ax: Axes, summary: pd.DataFrame) -> bool:
    """Perplexity vs outlier fraction rho, one line per swept variant; False if none."""
    if "base" not in summary or summary.rho.isna().all():
        return False
    swept = summary[summary.rho.notna()].groupby("base", sort=False)
    lines = {str(b): g.sort_values("rho") for b, g in swept if g.rho.nunique() > 1}
    if not lines:
        return False
    notes = overlap_notes({b: g.perplexity_mean.to_numpy() for b, g in lines.items()})
    span = float(summary.rho.max() - summary.rho.min()) or 1.0
    offsets = (np.arange(len(lines)) - (len(lines) - 1) / 2) * 0.012 * span
    for i, (base, g) in enumerate(lines.items()):
        st = series_style(i)
        ax.errorbar(g.rho + offsets[i], g.perplexity_mean, yerr=g.perplexity_ci95_half.fillna(0),
                    capsize=3, lw=1.4, markersize=6,
                    markerfacecolor="none" if base in notes else st["color"],
                    label=base + notes.get(base, ""), **st)
    ax.set_xlabel(f"outlier fraction rho (lines offset by {offsets.max():.3g} in rho to keep "
                  "whiskers apart)" if len(lines) > 1 else "outlier fraction rho")
    ax.set_ylabel("perplexity (mean, 95 % CI)")
    ax.set_title("Perplexity vs rho (the study's Fig. 3)", fontsize=9)
    ax.legend(frameon=False, fontsize=7)
    return True


def accuracy_summary(summary: pd.DataFrame, title: str = "") -> Figure:
    has_sweep = "base" in summary and summary.groupby("base").rho.nunique().max() > 1
    n = len(configured(summary))
    fig, axes = new_figure(12 if has_sweep else 7, max(3.0, 1.2 + 0.35 * n), 1,
                           2 if has_sweep else 1)
    draw_perplexity_bars(axes[0, 0], summary)
    if has_sweep:
        draw_rho_sweep(axes[0, 1], summary)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


__all__ = ["HATCHES", "accuracy_summary", "draw_perplexity_bars", "draw_rho_sweep"]
