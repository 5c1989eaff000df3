"""`plot`: the summary figure of a run, sweep or accuracy results folder (PNG + SVG)."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "plot"
HELP = "draw the summary figure of a run, sweep or accuracy results folder (PNG + SVG)"
DESCRIPTION = ("Draw the figure of a results folder and write it into that folder (or --out). "
               "The kind is found from the files present: a run folder (summary.csv, "
               "per_step.csv, traffic.csv, contention.csv) gives summary.png/.svg with the "
               "ratios against the baseline, energy per decode token by memory and traffic "
               "class, decode time per generated token and the achieved bandwidth and "
               "queueing per memory; a sweep folder (points.csv) gives sweep.png/.svg with "
               "each metric against the swept parameter and the latency-energy Pareto front; "
               "an accuracy folder (summary.csv, runs.csv) gives accuracy.png/.svg with "
               "perplexity per variant (95 % CI) and the rho sweep. `run` already writes "
               "summary.png/.svg; this redraws it. Each file appears whole (temporary file + "
               "rename).")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("folder", type=Path, help="a results folder written by run, sweep or accuracy")
    p.add_argument("--format", dest="formats", nargs="+", default=["png", "svg"],
                   choices=("png", "svg", "pdf"), metavar="FMT",
                   help="file formats to write: png, svg, pdf (default: png svg)")
    p.add_argument("--out", type=Path, default=None,
                   help="folder to write the figures into (default: the results folder)")


def write_atomically(folder: Path, files: dict[str, bytes]) -> list[Path]:
    """Each file via a temporary file in the same folder and a rename: never half-written."""
    from qmcsim.results import atomic_file

    written = []
    for name, data in files.items():
        with atomic_file(folder / name, "--out") as tmp:
            tmp.write_bytes(data)
        written.append(folder / name)
    return written


def run(args: argparse.Namespace) -> int:
    from qmcsim.errors import ConfigError
    from qmcsim.plot import figure_files, figures_for_folder, folder_kind

    folder: Path = args.folder
    if not folder.is_dir():
        raise ConfigError(str(folder), "folder", "an existing results folder expected")
    kind = folder_kind(folder)
    if kind is None:
        raise ConfigError(str(folder), "folder", "a results folder of run (summary.csv, "
                          "per_step.csv, traffic.csv, contention.csv), sweep (points.csv) or "
                          "accuracy (summary.csv, runs.csv) expected")
    out: Path = args.out or folder
    if not out.is_dir():
        raise ConfigError(str(out), "--out", "an existing folder expected")
    files = figure_files(figures_for_folder(folder, kind), tuple(args.formats))
    for path in write_atomically(out, files):
        print(f"{kind} figure: {path}")
    return 0
