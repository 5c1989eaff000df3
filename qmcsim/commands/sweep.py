"""`sweep`: vary parameters of a run config; one tidy row per point x system."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import yaml


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
    p.add_argument("--no-progress", action="store_true")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from qmcsim.results import csv_bytes, write_results_folder
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
    shown = [c for c in table.columns if c in {"point", "system"} or c in
             {p.path for p in cfg.parameters} or c.startswith(("decode_ms", "energy_per",
                                                                "external_bytes"))]
    print(table[shown].to_string(index=False, float_format=lambda v: f"{v:,.4g}"))
    folder = write_results_folder(args.out, cfg.name, files)
    print(f"\nresults: {folder}")
    return 0
