"""Figures from results folders (the CLI and the notebooks import these; the core never plots).

Every function returns a `matplotlib.figure.Figure` built without pyplot: the library never
chooses a backend. `figures_for_folder` draws whatever a run, sweep or accuracy folder holds.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from qmcsim.errors import InternalError
from qmcsim.plot.accuracy import accuracy_summary, draw_perplexity_bars, draw_rho_sweep
from qmcsim.plot.run import (RATIO_LABELS, contention_bars, decode_time_per_step, energy_bars,
                             energy_by_memory_class, load_results, ratio_bars, run_summary)
from qmcsim.plot.style import OKABE_ITO, new_figure, save_figure, series_style
from qmcsim.plot.sweep import (objective_front, pareto_figure, pareto_mask, sweep_lines,
                               sweep_summary)

FOLDER_KINDS = {
    # kind -> files that identify it (the tables each command writes)
    "run": ("summary.csv", "per_step.csv", "traffic.csv", "contention.csv"),
    "sweep": ("points.csv",),
    "accuracy": ("summary.csv", "runs.csv"),
}


def folder_kind(folder: Path) -> str | None:
    """'run', 'sweep' or 'accuracy' by the files present; None if none matches."""
    for kind, files in FOLDER_KINDS.items():
        if all((folder / f).is_file() for f in files):
            return kind
    if (folder / "points.parquet").is_file():
        return "sweep"
    return None


def _points(folder: Path) -> pd.DataFrame:
    csv = folder / "points.csv"
    return pd.read_csv(csv) if csv.is_file() else pd.read_parquet(folder / "points.parquet")


def run_title(resolved: dict) -> str:
    """'<run name> (<model>)' from a resolved config, as every run figure is titled."""
    model = resolved.get("resolved_model") or {}
    name = str(resolved.get("name", "run"))
    return f"{name} ({model['name']})" if isinstance(model, dict) and "name" in model else name


def config_title(resolved_yaml: str | bytes) -> str | None:
    """run_title of a resolved_config.yaml's text (None unless it holds a mapping)."""
    import yaml

    # a results folder's own output, not user input: libyaml's safe loader where built (the
    # pure-Python one takes ~0.3 s for a three-system config)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    resolved = yaml.load(resolved_yaml, Loader=loader)  # noqa: S506 (a safe loader)
    return run_title(resolved) if isinstance(resolved, dict) else None


def folder_title(folder: Path) -> str:
    config = folder / "resolved_config.yaml"
    title = config_title(config.read_bytes()) if config.is_file() else None
    return title if title is not None else folder.name


def figures_for_folder(folder: Path, kind: str) -> dict[str, Figure]:
    """Figure stem -> figure for a results folder of the given kind."""
    title = folder_title(folder)
    if kind == "run":
        return {"summary": run_summary(load_results(folder), title)}
    if kind == "sweep":
        return {"sweep": sweep_summary(_points(folder), title)}
    if kind == "accuracy":
        from qmcsim.accuracy.figure import ppl_vs_bits

        summary = pd.read_csv(folder / "summary.csv")
        figures = {"accuracy": accuracy_summary(summary, title)}
        if "bits_per_weight" in summary:     # folders written before the column existed
            figures["ppl_vs_bits"] = ppl_vs_bits(summary, title)
        return figures
    raise InternalError(f"unknown results folder kind {kind!r}")


def figure_files(figures: dict[str, Figure], formats: tuple[str, ...] = ("png", "svg")
                 ) -> dict[str, bytes]:
    """File name -> bytes of every figure in every format."""
    out: dict[str, bytes] = {}
    for stem, fig in figures.items():
        out.update(save_figure(fig, Path(stem), formats))
    return out


__all__ = ["OKABE_ITO", "RATIO_LABELS", "accuracy_summary", "contention_bars",
           "decode_time_per_step", "draw_perplexity_bars", "draw_rho_sweep", "energy_bars",
           "energy_by_memory_class", "figure_files", "figures_for_folder", "folder_kind",
           "config_title", "load_results", "new_figure", "objective_front", "run_title",
           "pareto_figure", "pareto_mask", "ratio_bars",
           "run_summary", "save_figure", "series_style", "sweep_lines", "sweep_summary"]
