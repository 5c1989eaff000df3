"""Figures of a sweep folder (points.csv: one row per point x system)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from qmcsim.plot.style import (colour, integer_ticks, log_scale, new_figure, overlap_notes,
                               series_style, spans_decades)

# metric column -> (axis label, scale into the label's unit)
SWEEP_METRICS = {
    "decode_ms_per_token": ("decode time per token (ms)", 1.0),
    "energy_per_token_uj": ("energy per token (uJ)", 1.0),
    "external_bytes_per_token": ("external traffic per token (MB)", 1e-6),
    "weight_bytes": ("weight footprint (MB)", 1e-6),
}
PARETO_COLUMNS = ("pareto", "on_front", "pareto_front")


def parameter_columns(points: pd.DataFrame) -> list[str]:
    """The swept paths: the columns between `point` and `system` (as `sweep` writes them)."""
    cols = list(points.columns)
    if "point" in cols and "system" in cols:
        return cols[cols.index("point") + 1: cols.index("system")]
    return []


def _tail(path: str) -> str:
    """`systems.<name>.format.rho` -> `format.rho`; other paths stay as they are."""
    parts = path.split(".")
    return ".".join(parts[2:]) if parts[0] == "systems" and len(parts) > 2 else path


def x_values(points: pd.DataFrame, tail: str, *, own_only: bool = False) -> pd.Series:
    """Each row's value of a swept quantity: its own system's path when the sweep sets one
    per system (e.g. the rho of qmc-2bit for the qmc-2bit rows), else the shared one. A
    system the quantity does not apply to (the baseline of a per-system rho) gets the first
    path's value, so it draws as a flat reference line; NaN with `own_only`."""
    params = [p for p in parameter_columns(points) if _tail(p) == tail]
    out = pd.Series(np.nan, index=points.index, dtype=float)
    shared = [p for p in params if not p.startswith("systems.")]
    if not shared and not own_only:
        shared = params[:1]
    for p in shared:
        out = out.fillna(pd.to_numeric(points[p], errors="coerce"))
    for p in params:
        if p.startswith("systems."):
            own = points.system == p.split(".")[1]
            out[own] = pd.to_numeric(points.loc[own, p], errors="coerce")
    return out


def swept_quantities(points: pd.DataFrame) -> list[str]:
    """Swept quantities (path tails) with more than one numeric value."""
    out = []
    for tail in dict.fromkeys(_tail(p) for p in parameter_columns(points)):
        if x_values(points, tail).nunique() > 1:
            out.append(tail)
    return out


def pareto_mask(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Points no other point beats in both x and y (both minimised)."""
    keep = np.ones(len(x), dtype=bool)
    for i in range(len(x)):
        dominated = (x <= x[i]) & (y <= y[i]) & ((x < x[i]) | (y < y[i]))
        keep[i] = not dominated.any()
    return keep


def draw_metric_lines(ax: Axes, points: pd.DataFrame, x: str, metric: str) -> None:
    label, scale = SWEEP_METRICS.get(metric, (metric, 1.0))
    xs = x_values(points, x)
    others = [q for q in swept_quantities(points) if q != x]
    keys = points[["system"]].copy()
    for q in others:   # one line per system and value of every other swept quantity
        keys[q] = x_values(points, q, own_only=True)
    series = {}
    for key, rows in keys.groupby(list(keys.columns), sort=False, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        name = str(key[0]) + "".join(f", {'.'.join(q.split('.')[-2:])}={v:g}" for q, v in
                                     zip(others, key[1:], strict=True) if pd.notna(v))
        order = xs[rows.index].drop_duplicates().sort_values().index
        series[name] = (xs[order].to_numpy(), points.loc[order, metric].to_numpy() * scale)
    notes = overlap_notes({k: v[1] for k, v in series.items()})
    for i, (system, (xv, yv)) in enumerate(series.items()):
        over = system in notes
        style = series_style(i)
        ax.plot(xv, yv, label=system + notes.get(system, ""), lw=1.4,
                alpha=0.75 if over else 1.0, markersize=7 if over else 5,
                markerfacecolor="none" if over else style["color"], **style)
    if spans_decades([v for _, yv in series.values() for v in yv]):
        log_scale(ax, "y")
    if np.allclose(xs.dropna() % 1, 0):
        integer_ticks(ax)
    ax.set_xlabel(x)
    ax.set_ylabel(label)
    ax.legend(frameon=False, fontsize=7)


def draw_pareto(ax: Axes, points: pd.DataFrame, x_metric: str = "decode_ms_per_token",
                y_metric: str = "energy_per_token_uj") -> None:
    """Every point x system in (latency, energy); the front of non-dominated ones joined."""
    flag = next((c for c in PARETO_COLUMNS if c in points), None)
    xv = points[x_metric].to_numpy(float) * SWEEP_METRICS[x_metric][1]
    yv = points[y_metric].to_numpy(float) * SWEEP_METRICS[y_metric][1]
    front = points[flag].astype(bool).to_numpy() if flag else pareto_mask(xv, yv)
    for i, system in enumerate(dict.fromkeys(points.system)):
        m = (points.system == system).to_numpy()
        st = series_style(i)
        ax.scatter(xv[m], yv[m], color=st["color"], marker=st["marker"], s=28, alpha=0.8,
                   label=str(system))
    order = np.argsort(xv[front])
    ax.plot(xv[front][order], yv[front][order], color="black", lw=1.0, ls="--",
            label=f"Pareto front ({int(front.sum())} of {len(front)})")
    for k in np.flatnonzero(front).tolist():
        ax.annotate(f"p{int(points.point.iloc[k])}", (xv[k], yv[k]), fontsize=6,
                    xytext=(3, 3), textcoords="offset points")
    if spans_decades(yv):
        log_scale(ax, "y")
    ax.set_xlabel(SWEEP_METRICS[x_metric][0])
    ax.set_ylabel(SWEEP_METRICS[y_metric][0])
    ax.set_title("Latency vs energy, lower-left is better", fontsize=9)
    ax.legend(frameon=False, fontsize=7)


def sweep_summary(points: pd.DataFrame, title: str = "") -> Figure:
    """Each metric against the first swept quantity, plus the latency-energy Pareto front."""
    quantities = swept_quantities(points)
    metrics = [m for m in SWEEP_METRICS if m in points]
    panels = len(metrics) + 1 if quantities else 1
    ncols = min(3, panels)
    nrows = -(-panels // ncols)
    fig, axes = new_figure(4.3 * ncols, 3.4 * nrows, nrows, ncols)
    flat = list(axes.ravel())
    if quantities:
        for ax, metric in zip(flat, metrics, strict=False):
            draw_metric_lines(ax, points, quantities[0], metric)
    draw_pareto(flat[panels - 1], points)
    for ax in flat[panels:]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title + (f" (x: {quantities[0]})" if quantities else ""), fontsize=11)
    return fig


def sweep_lines(points: pd.DataFrame, x: str, metric: str) -> Figure:
    """One metric over one swept quantity, a line per system."""
    fig, axes = new_figure(6, 3.6)
    draw_metric_lines(axes[0, 0], points, x, metric)
    return fig


def pareto_figure(points: pd.DataFrame, x_metric: str = "decode_ms_per_token",
                  y_metric: str = "energy_per_token_uj") -> Figure:
    fig, axes = new_figure(6, 4)
    draw_pareto(axes[0, 0], points, x_metric, y_metric)
    return fig


def objective_front(points: pd.DataFrame, x: str, y: str, baseline: str = "fp16") -> Figure:
    """A sweep's points on its first two objectives, per varied system: points over budget as
    crosses, feasible ones filled, the Pareto front (columns `feasible`, `pareto`) joined.
    Systems the sweep does not vary (one configuration at every point) are left out."""
    fig, axes = new_figure(6, 4)
    ax = axes[0, 0]
    shown = [s for s, rows in points[points.system != baseline].groupby("system", sort=False)
             if "key" not in rows or rows.key.nunique() > 1]
    for i, system in enumerate(shown):
        rows = points[points.system == system]
        st = series_style(i)
        ok = rows.feasible.astype(bool)
        front = rows[ok & rows.pareto.astype(bool)].sort_values(x)
        ax.scatter(rows[~ok][x], rows[~ok][y], marker="x", color=st["color"], alpha=0.4, lw=0.8)
        ax.scatter(rows[ok][x], rows[ok][y], marker=st["marker"], color=st["color"], s=16,
                   alpha=0.6)
        ax.plot(front[x], front[y], color=st["color"], marker=st["marker"],
                linestyle=st["linestyle"], label=f"{system} Pareto front")
    ax.set_xlabel(SWEEP_METRICS.get(x, (x, 1.0))[0])
    ax.set_ylabel(SWEEP_METRICS.get(y, (y, 1.0))[0])
    ax.set_title("x: over budget; filled: feasible", fontsize=8)
    ax.legend(frameon=False, fontsize=8)
    return fig


__all__ = ["objective_front", "colour", "draw_metric_lines", "draw_pareto", "pareto_figure",
           "pareto_mask",
           "sweep_lines", "sweep_summary", "swept_quantities", "x_values"]
