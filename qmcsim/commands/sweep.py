"""`sweep`: vary parameters of a run config; one tidy row per point x system; resumable."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:   # pandas is imported when a command runs (start-up)
    import pandas as pd

NAME = "sweep"
HELP = "run a design-space sweep (resumable; local processes by default, or a Dask cluster)"
DESCRIPTION = (
    "Run every point of a sweep config (a base run config plus parameters to vary: grid, zip, "
    "random, lhs or sobol) into the folder --out: one Parquet file per point as it finishes, "
    "then points.parquet / points.csv (one row per point x system, with unit counts, area, "
    "Eq. 4 power, feasibility and the Pareto front), failures.csv and pareto.png. Running the "
    "same command again with the same --out skips the points already stored. Points stream: "
    "each is validated before it runs, while earlier ones simulate (with --fail-fast, every "
    "point before any runs); failing points are recorded and the sweep goes on.")

INTERRUPTED = ("interrupted; the points finished so far are kept: the same command (same "
               "--out) resumes")

SHOWN = ("decode_ms_per_token", "energy_per_token_uj", "external_bytes_per_token",
         "memory_area_mm2", "eq4_power_mw")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", type=Path, help="sweep YAML (see hw_configs/sweeps/)")
    p.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1),
                   help="local worker processes (default: min(4, CPUs))")
    p.add_argument("--dask", metavar="ADDRESS", default=None,
                   help="run on a Dask scheduler instead, e.g. tcp://host:8786")
    p.add_argument("--out", type=Path, default=None,
                   help="the sweep's folder (default: results/<sweep name>); rerunning with the "
                        "same folder resumes")
    p.add_argument("--fail-fast", action="store_true",
                   help="stop at the first invalid or failing point (exit 2)")
    p.add_argument("--retry-failed", action="store_true",
                   help="simulate again the points stored as failed")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def render(table: pd.DataFrame, parameters: list[str]) -> str:
    """Point, system, parameter values, unit counts and the headline metrics."""
    import pandas as pd

    units = [c for c in table.columns if c.startswith("units.")]
    cols = ["point", "system", "variant", *parameters, *units, *SHOWN, "feasible", "pareto",
            "n_seeds", "perplexity_mean", "perplexity_ci95_half"]
    shown = table[[c for c in cols if c in table.columns]].copy()
    shown.columns = [c.rsplit(".", 2)[-1] if c in parameters else c for c in shown.columns]
    for c in units:
        shown[c] = shown[c].map(lambda v: "-" if pd.isna(v) else f"{int(v)}")
    return render_points(shown, [c.rsplit(".", 2)[-1] for c in parameters])


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from qmcsim.results import check_output_folder
    from qmcsim.sweep import load_sweep, run_sweep

    cfg, base = load_sweep(args.config)
    out = args.out if args.out is not None else Path("results") / cfg.name
    check_output_folder(out, cfg.name)   # before any point is resolved or simulated
    bar = tqdm(unit="point", disable=args.no_progress or None, file=sys.stderr, leave=False)

    def start(total: int, stored: int) -> None:
        bar.reset(total=total)
        print(f"{total} points: each resolved and validated, then simulated; {stored} "
              f"simulations (point x system) already stored in {out}", file=sys.stderr)

    figure = len(cfg.objectives) >= 2
    finished = []

    def point_done() -> None:
        bar.update()
        finished.append(1)
        if figure and len(finished) == 1:   # import the plotting code while the workers run
            import qmcsim.plot  # noqa: F401

    with bar:
        result = run_sweep(cfg, base, out, workers=args.workers, dask_address=args.dask,
                           fail_fast=args.fail_fast, retry_failed=args.retry_failed,
                           on_start=start, on_point=point_done)
    if not result.table.empty:
        print(render(result.table, [p.path for p in cfg.parameters]))
        if figure and "pareto" in result.table:
            from qmcsim.plot import objective_front, save_figure
            from qmcsim.results import atomic_file

            fig = objective_front(result.table, cfg.objectives[0].metric,
                                  cfg.objectives[1].metric)
            with atomic_file(out / "pareto.png", "--out") as tmp:
                tmp.write_bytes(save_figure(fig, out / "pareto", formats=("png",))["pareto.png"])
    for f in result.failures.itertuples():
        print(f"point {f.point} failed: {f.error}", file=sys.stderr)
    print(f"\n{result.computed} simulations run, {result.reused} reused, "
          f"{len(result.failures)} points failed; results: {out}")
    return 0


def render_points(table: pd.DataFrame, parameters: list[str]) -> str:
    """A printed sweep table in the number format and units of `run` (bytes as MB)."""
    from qmcsim.commands._format import number

    view = table.copy()
    for c in [c for c in view.columns if c.startswith("external_bytes_per_token")
              and "_vs_" not in c]:
        view[c] = view[c] / 1e6
        view = view.rename(columns={c: c.replace("external_bytes_per_token",
                                                 "external_MB_per_token")})
    return view.to_string(index=False, na_rep="-", float_format=number)
