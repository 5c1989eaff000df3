"""Figures from results tables (the notebooks import these; the core never plots)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

RATIO_LABELS = {
    "weight_cells": "memory cells",
    "external_bytes_per_token": "external traffic",
    "energy_per_token_uj": "energy / token",
    "decode_ms_per_token": "decode latency",
}


def load_results(folder: str | Path) -> dict[str, pd.DataFrame]:
    """Every CSV table of a results folder, by file stem."""
    return {p.stem: pd.read_csv(p) for p in sorted(Path(folder).glob("*.csv"))}


def ratio_bars(summary: pd.DataFrame, baseline: str = "fp16") -> Figure:
    """Grouped bars: each system's improvement over the baseline, per metric."""
    systems = [s for s in summary.system if s != baseline]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    width = 0.8 / max(1, len(systems))
    for i, system in enumerate(systems):
        row = summary.set_index("system").loc[system]
        values = [row[f"{m}_vs_{baseline}"] for m in RATIO_LABELS]
        xs = [j + i * width for j in range(len(RATIO_LABELS))]
        ax.bar(xs, values, width, label=system)
    ax.set_xticks([j + width * (len(systems) - 1) / 2 for j in range(len(RATIO_LABELS))])
    ax.set_xticklabels(list(RATIO_LABELS.values()))
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.set_ylabel(f"{baseline} / system (x)")
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def energy_by_memory(per_memory: pd.DataFrame) -> Figure:
    """Stacked bars: dynamic and static energy per decode token, per system and memory."""
    fig, ax = plt.subplots(figsize=(7, 3.5))
    systems = list(dict.fromkeys(per_memory.system))
    bottom = pd.Series(0.0, index=systems)
    for memory in dict.fromkeys(per_memory.memory):
        for part, hatch in (("dynamic_uj_per_token", None), ("static_uj_per_token", "//")):
            rows = per_memory[per_memory.memory == memory].set_index("system")[part]
            values = rows.reindex(systems).fillna(0.0)
            if not values.any():
                continue
            ax.bar(systems, values, bottom=bottom, hatch=hatch,
                   label=f"{memory} ({part.split('_')[0]})")
            bottom += values
    ax.set_ylabel("energy per decode token (uJ)")
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig


def decode_time_per_step(per_step: pd.DataFrame) -> Figure:
    """Decode time of every token: grows with the KV cache the token attends over."""
    fig, ax = plt.subplots(figsize=(7, 3.5))
    decode = per_step[per_step.phase == "decode"]
    for system, rows in decode.groupby("system", sort=False):
        ax.plot(rows.context, rows.time_ns / 1e6, marker=".", label=system)
    ax.set_xlabel("context (tokens)")
    ax.set_ylabel("decode time (ms)")
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def sweep_lines(points: pd.DataFrame, x: str, metric: str, systems: list[str] | None = None
                ) -> Figure:
    """One line per system: a metric over a swept parameter."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for system, rows in points.groupby("system", sort=False):
        if systems is not None and system not in systems:
            continue
        if x not in rows or rows[x].isna().all():
            continue
        rows = rows.sort_values(x)
        ax.plot(rows[x], rows[metric], marker="o", label=system)
    ax.set_xlabel(x)
    ax.set_ylabel(metric)
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def pareto_front(points: pd.DataFrame, x: str, y: str, baseline: str = "fp16") -> Figure:
    """A sweep's points on two objectives, per system: infeasible points as crosses, feasible
    ones as dots, the Pareto front as a line (columns `feasible`, `pareto` of points.csv).
    Systems the sweep does not vary (one configuration at every point) are left out."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for system, rows in points[points.system != baseline].groupby("system", sort=False):
        if "key" in rows and rows.key.nunique() < 2:
            continue
        color = ax.plot([], [])[0].get_color()
        bad = rows[~rows.feasible.astype(bool)]
        ok = rows[rows.feasible.astype(bool)]
        front = ok[ok.pareto.astype(bool)].sort_values(x)
        ax.scatter(bad[x], bad[y], marker="x", color=color, alpha=0.35, lw=0.8)
        ax.scatter(ok[x], ok[y], marker=".", color=color, alpha=0.6)
        ax.plot(front[x], front[y], marker="o", color=color, label=f"{system} Pareto front")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title("x: over budget   .: feasible", fontsize=8)
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig
