"""Figures of one run's results folder (the tables `qmcsim run` writes)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from qmcsim.plot.style import (HATCHES, colour, fit_grid, fixed_figure, integer_ticks,
                               log_scale, new_figure, overlap_notes, series_style, spans_decades)

RATIO_LABELS = {
    "weight_cells": "memory\ncells",
    "weight_bytes": "weight\nfootprint",
    "external_bytes_per_token": "external\ntraffic / token",
    "energy_per_token_uj": "energy /\ntoken",
    "decode_ms_per_token": "decode time /\ntoken",
}
RUN_TABLES = ("summary", "per_step", "traffic", "contention")


def load_results(folder: str | Path) -> dict[str, pd.DataFrame]:
    """Every CSV table of a results folder, by file stem."""
    return {p.stem: pd.read_csv(p) for p in sorted(Path(folder).glob("*.csv"))}


def _systems(table: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(table["system"]))


def _decode_tokens(per_step: pd.DataFrame) -> pd.Series:
    """Tokens decoded per system (the denominator of every per-token figure)."""
    decode = per_step[per_step.phase == "decode"]
    return decode.groupby("system", sort=False)["tokens"].sum()


def draw_ratios(ax: Axes, summary: pd.DataFrame, baseline: str) -> None:
    """Grouped bars: the baseline's value over each system's, per metric (higher is better)."""
    metrics = [m for m in RATIO_LABELS if f"{m}_vs_{baseline}" in summary]
    order = _systems(summary)   # colours follow the system's place in the run, as elsewhere
    systems = [s for s in order if s != baseline]
    width = 0.8 / max(1, len(systems))
    values_all: list[float] = []
    rows = summary.set_index("system")
    for k, system in enumerate(systems):
        i = order.index(system)
        values = [float(rows.loc[system, f"{m}_vs_{baseline}"]) for m in metrics]
        values_all += values
        xs = np.arange(len(metrics)) + (k - (len(systems) - 1) / 2) * width
        bars = ax.bar(xs, values, width, color=colour(i), hatch=HATCHES[i % len(HATCHES)],
                      edgecolor="white", linewidth=0.5, label=system)
        ax.bar_label(bars, labels=[f"{v:.2f}x" for v in values], fontsize=6.5, padding=1,
                     rotation=90 if len(systems) > 2 else 0)
    ax.set_xticks(np.arange(len(metrics)), [RATIO_LABELS[m] for m in metrics], fontsize=8)
    ax.axhline(1.0, color="black", lw=0.8, ls="--")
    if spans_decades(values_all, 1.0):
        log_scale(ax, "y")
    ax.set_ylim(top=max(values_all, default=1.0) * (2.2 if ax.get_yscale() == "log" else 1.25))
    ax.set_ylabel(f"{baseline} / system (x, higher is better)")
    ax.set_title(f"Improvement over {baseline} (dashed: parity)", fontsize=9)
    ax.legend(frameon=False, fontsize=8, loc="upper left")


def energy_by_memory_class(traffic: pd.DataFrame, per_step: pd.DataFrame) -> pd.DataFrame:
    """Energy per decode token (uJ) per system x memory x traffic class (the traffic table's
    'static' class is each memory's background + refresh or leakage energy)."""
    decode_steps = per_step[per_step.phase == "decode"][["system", "step"]]
    tokens = _decode_tokens(per_step)
    t = traffic.merge(decode_steps, on=["system", "step"])
    out = t.groupby(["system", "memory", "traffic_class"], sort=False)["energy_pj"].sum()
    out = out.reset_index()
    out["uj_per_token"] = out.energy_pj / 1e6 / out.system.map(tokens)
    return out[["system", "memory", "traffic_class", "uj_per_token"]]


def _num(v: float) -> str:
    """Three significant digits, no exponent below a million (bar labels)."""
    return f"{v:,.0f}" if 1e3 <= abs(v) < 1e6 else f"{v:,.3g}"


def _grouped_hbars(ax: Axes, table: pd.DataFrame, value: str, systems: list[str]
                   ) -> list[float]:
    """Horizontal bars: one group per memory / class, one bar per system inside it."""
    groups = list(dict.fromkeys(zip(table.memory, table.traffic_class, strict=True)))
    height = 0.8 / max(1, len(systems))
    indexed = table.set_index(["system", "memory", "traffic_class"])[value]
    shown: list[float] = []
    for i, system in enumerate(systems):
        ys, vs = [], []
        for g, (memory, cls) in enumerate(groups):
            v = indexed.get((system, memory, cls))
            if v is None or not np.isfinite(v):
                continue
            ys.append(g + (i - (len(systems) - 1) / 2) * height)
            vs.append(float(v))
        shown += vs
        bars = ax.barh(ys, vs, height, color=colour(i), hatch=HATCHES[i % len(HATCHES)],
                       edgecolor="white", linewidth=0.5, label=system)
        ax.bar_label(bars, labels=[_num(v) for v in vs], fontsize=6, padding=1)
    ax.set_yticks(range(len(groups)), [f"{m}: {c}" for m, c in groups], fontsize=7.5)
    ax.invert_yaxis()
    return shown


def draw_energy(ax: Axes, energy: pd.DataFrame) -> None:
    """Energy per decode token by memory and class (log axis when values span decades)."""
    systems = _systems(energy)
    energy = energy[energy.uj_per_token > 0]
    values = _grouped_hbars(ax, energy, "uj_per_token", systems)
    if spans_decades(values):
        log_scale(ax, "x")
        ax.set_xlim(right=max(values) * 8)
    else:
        ax.set_xlim(right=max(values, default=1.0) * 1.25)
    ax.set_xlabel("energy per decode token (uJ)" +
                  (", log scale" if ax.get_xscale() == "log" else ""))
    ax.set_title("Energy by memory and traffic class (zero omitted)", fontsize=9)
    ax.legend(frameon=False, fontsize=7, loc="lower right")


def draw_decode_time(ax: Axes, per_step: pd.DataFrame) -> None:
    """Decode time of every generated token (grows with the context it attends over)."""
    decode = per_step[per_step.phase == "decode"]
    series = {}
    for system, rows in decode.groupby("system", sort=False):
        series[str(system)] = (np.arange(1, len(rows) + 1), rows.time_ns.to_numpy() / 1e6)
    notes = overlap_notes({k: v[1] for k, v in series.items()})
    n = max((len(x) for x, _ in series.values()), default=1)
    every = max(1, n // 12)
    for i, (system, (x, y)) in enumerate(series.items()):
        style = series_style(i)
        # overlapping series: hollow markers, offset marker positions, see-through line
        over = system in notes
        ax.plot(x, y, label=system + notes.get(system, ""), lw=1.4, alpha=0.75 if over else 1.0,
                markevery=(i % every, every), markersize=5,
                markerfacecolor="none" if over else style["color"], **style)
    integer_ticks(ax)
    ax.set_xlabel("generated token (index)")
    ax.set_ylabel("decode time per token (ms)")
    ax.set_ylim(0, max((float(y.max()) for _, y in series.values()), default=1.0) * 1.15)
    ax.set_title("Decode time over the generation", fontsize=9)
    ax.legend(frameon=False, fontsize=7)


def draw_contention(ax: Axes, contention: pd.DataFrame) -> None:
    """Achieved bandwidth per memory and class in decode; labels give the mean queueing."""
    systems = _systems(contention)
    table = contention.copy()
    groups = list(dict.fromkeys(zip(table.memory, table.traffic_class, strict=True)))
    height = 0.8 / max(1, len(systems))
    values: list[float] = []
    for i, system in enumerate(systems):
        rows = table[table.system == system].set_index(["memory", "traffic_class"])
        ys, vs, labels = [], [], []
        for g, key in enumerate(groups):
            if key not in rows.index:
                continue
            r = rows.loc[key]
            ys.append(g + (i - (len(systems) - 1) / 2) * height)
            vs.append(float(r.achieved_gb_per_s))
            hit = "" if pd.isna(r.row_hit_rate) else f", hits {r.row_hit_rate:.0%}"
            labels.append(f"q {_num(r.mean_queue_ns)} ns{hit}")
        values += vs
        bars = ax.barh(ys, vs, height, color=colour(i), hatch=HATCHES[i % len(HATCHES)],
                       edgecolor="white", linewidth=0.5, label=system)
        ax.bar_label(bars, labels=labels, fontsize=5.5, padding=1)
    ax.set_yticks(range(len(groups)), [f"{m}: {c}" for m, c in groups], fontsize=7.5)
    ax.invert_yaxis()
    if spans_decades(values):
        log_scale(ax, "x")
        ax.set_xlim(right=max(values) * 30)
    else:
        ax.set_xlim(right=max(values, default=1.0) * 1.6)
    ax.set_xlabel("achieved bandwidth in decode (GB/s)" +
                  (", log scale" if ax.get_xscale() == "log" else ""))
    ax.set_title("Contention per memory (q: mean queueing per request)", fontsize=9)
    ax.legend(frameon=False, fontsize=7, loc="lower right")


def baseline_of(summary: pd.DataFrame) -> str:
    """The system every ratio column is taken against (`*_vs_<baseline>`)."""
    for column in summary.columns:
        if column.startswith("weight_bytes_vs_"):
            return column.removeprefix("weight_bytes_vs_")
    return str(summary.system.iloc[0])


def run_summary(tables: dict[str, pd.DataFrame], title: str = "") -> Figure:
    """The four-panel summary of a run: ratios, energy, decode time, contention."""
    summary, per_step = tables["summary"], tables["per_step"]
    energy = energy_by_memory_class(tables["traffic"], per_step)
    n_groups = max(energy.groupby(["memory", "traffic_class"]).ngroups,
                   tables["contention"].groupby(["memory", "traffic_class"]).ngroups)
    n_sys = summary.system.nunique()
    fig, axes = fixed_figure(13, 4.2 + 0.12 * n_groups * n_sys, 2, 2)
    draw_ratios(axes[0, 0], summary, baseline_of(summary))
    draw_decode_time(axes[0, 1], per_step)
    draw_energy(axes[1, 0], energy)
    draw_contention(axes[1, 1], tables["contention"])
    fit_grid(fig, axes, title)
    return fig


# Single-panel versions for notebooks.
def _single(draw, *args: object, width: float = 7, height: float = 3.6) -> Figure:
    fig, axes = new_figure(width, height)
    draw(axes[0, 0], *args)
    return fig


def ratio_bars(summary: pd.DataFrame, baseline: str | None = None) -> Figure:
    return _single(draw_ratios, summary, baseline or baseline_of(summary))


def energy_bars(traffic: pd.DataFrame, per_step: pd.DataFrame) -> Figure:
    energy = energy_by_memory_class(traffic, per_step)
    return _single(draw_energy, energy, height=1.5 + 0.15 * len(energy))


def decode_time_per_step(per_step: pd.DataFrame) -> Figure:
    return _single(draw_decode_time, per_step)


def contention_bars(contention: pd.DataFrame) -> Figure:
    return _single(draw_contention, contention, height=1.5 + 0.2 * len(contention))
