"""`run`: simulate every system of a run config and report against the baseline."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING


from qmcsim.commands._common import add_set_argument

if TYPE_CHECKING:   # pandas is imported when a command runs (start-up)
    import pandas as pd

NAME = "run"
HELP = "simulate every system of a run config and report against the baseline"
DESCRIPTION = ("Simulate every system of a run config (prefill + decode through the memories) "
               "and print footprint, external traffic, energy and latency per system with "
               "ratios against the FP16 baseline. Writes a new results folder (resolved "
               "config, summary, per-step, traffic, per-memory and footprint tables); an "
               "earlier results folder is never overwritten.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", type=Path, help="run config YAML (see hw_configs/*.yaml)")
    add_set_argument(p)
    p.add_argument("--out", type=Path, default=Path("results"),
                   help="parent folder of the new results folder (default: ./results)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from qmcsim.config.loader import load_run
    from qmcsim.pipeline import run as run_pipeline
    from qmcsim.results import check_output_folder

    resolved = load_run(args.config, args.overrides)
    check_output_folder(args.out, resolved.config.name)   # before any simulation
    with tqdm(unit="step", disable=args.no_progress or None, file=sys.stderr,
              leave=False) as bar:
        def start(total: int) -> None:
            bar.reset(total=total)

        result = run_pipeline(resolved, on_start=start,
                              on_step=lambda _s: bar.update())
    model = result.run.model
    print(render_report(result.name, model.name, model.num_parameters,
                        result.run.config.accounting, result.baseline, result.summary,
                        result.per_memory, result.contention))
    folder = result.write(args.out)
    print(f"\nresults: {folder}")
    return 0


def render_report(name: str, model: str, params: int, accounting: str, baseline: str,
                  summary: pd.DataFrame, per_memory: pd.DataFrame,
                  contention: pd.DataFrame) -> str:
    """Per system: the metric and its ratio against the baseline, side by side."""
    import pandas as pd

    lines = [f"run {name!r}: model {model} ({params / 1e9:.3f} B parameters), "
             f"accounting: {accounting}, ratios = {baseline} / system (higher is better)", ""]
    labels = [("weight_bytes", "weight footprint (MB)", 1e-6),
              ("weight_cells", "weight memory cells (M)", 1e-6),
              ("weight_area_mm2", "weight area (mm^2)", 1.0),
              ("external_bytes_per_token", "external traffic / token (MB)", 1e-6),
              ("energy_per_token_uj", "energy / token (uJ)", 1.0),
              ("static_energy_per_token_uj", "  of which static (uJ)", 1.0),
              ("ttft_ms", "time to first token (ms)", 1.0),
              ("decode_ms_per_token", "decode time / token (ms)", 1.0),
              ("cold_start_ms", "cold start: load weights (ms)", 1.0),
              ("cold_start_energy_mj", "cold start energy (mJ)", 1.0)]
    table = {}
    for _, row in summary.iterrows():
        col = {}
        for key, label, scale in labels:
            value = f"{row[key] * scale:,.3f}" if pd.notna(row[key]) else "- (no copy)"
            ratio_key = f"{key}_vs_{baseline}"
            col[label] = f"{value} ({row[ratio_key]:.2f}x)" if ratio_key in row else value
        table[row["system"]] = col
    lines.append(pd.DataFrame(table).to_string())
    lines += ["", "per memory, mean per decode token:"]
    pm = per_memory.assign(MB=per_memory.bytes_per_token / 1e6).drop(columns="bytes_per_token")
    lines.append(pm.to_string(index=False, float_format=lambda v: f"{v:,.3f}"))
    lines += ["", "contention per memory and traffic class, decode steps "
              "(bandwidth = bytes over decode time):"]
    ct = contention.assign(MB_per_token=contention.bytes_per_token / 1e6).drop(
        columns="bytes_per_token")
    lines.append(ct.to_string(index=False, na_rep="-", float_format=lambda v: f"{v:,.3f}"))
    return "\n".join(lines)
