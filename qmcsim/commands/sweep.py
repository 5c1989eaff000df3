"""`sweep`: vary parameters of a run config; one tidy row per point x system."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import yaml

from qmcsim.results import csv_bytes

NAME = "sweep"
HELP = "run a design-space sweep (local processes by default, or a Dask cluster)"
DESCRIPTION = ("Run every point of a sweep config (a base run config plus parameters to vary, "
               "as grid or zip) and write points.csv: one row per point x system with the "
               "summary metrics and ratios, plus every point's resolved config. All points "
               "are validated before any runs.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", type=Path, help="sweep YAML (see hw_configs/sweeps/)")
    p.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1),
                   help="local worker processes (default: min(4, CPUs))")
    p.add_argument("--dask", metavar="ADDRESS", default=None,
                   help="run on a Dask scheduler instead, e.g. tcp://host:8786")
    p.add_argument("--out", type=Path, default=Path("results"),
                   help="parent folder of the new results folder (default: ./results)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from qmcsim.results import write_results_folder
    from qmcsim.sweep import load_sweep, resolve_points, run_sweep

    cfg, base = load_sweep(args.config)
    runs = resolve_points(cfg, base)
    with tqdm(total=len(runs), unit="point", disable=args.no_progress or None,
              file=sys.stderr, leave=False) as bar:
        table = run_sweep(cfg, base, workers=args.workers, dask_address=args.dask,
                          on_point=bar.update)
    files = {"points.csv": csv_bytes(table),
             "sweep.yaml": yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False).encode()}
    for i, r in enumerate(runs):
        files[f"point-{i:03d}-resolved_config.yaml"] = yaml.safe_dump(
            r, sort_keys=False).encode()
    print(render_points(table, [p.path for p in cfg.parameters]))
    folder = write_results_folder(args.out, cfg.name, files)
    print(f"\nresults: {folder}")
    return 0


def render_points(table, parameters: list[str]) -> str:
    """The printed view of points.csv: swept values, then the headline metrics and ratios in
    the number format and units of `run` (bytes as MB)."""
    from qmcsim.commands._format import number

    shown = [c for c in table.columns if c in {"point", "system"} or c in parameters
             or c.startswith(("decode_ms", "energy_per", "external_bytes"))]
    view = table[shown].copy()
    for c in [c for c in shown if c.startswith("external_bytes_per_token")
              and not c.endswith(tuple(f"_vs_{s}" for s in table.system.unique()))]:
        view[c] = view[c] / 1e6
        view = view.rename(columns={c: c.replace("external_bytes_per_token",
                                                 "external_MB_per_token")})
    return view.to_string(index=False, na_rep="-", float_format=number)
