"""`run`: simulate every system of a run config and report against the baseline."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from qmcsim.commands._common import add_set_argument

if TYPE_CHECKING:   # pandas and matplotlib are imported when a command runs (start-up)
    import threading

    import pandas as pd
    from matplotlib.figure import Figure

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
    p.add_argument("--no-figure", action="store_true",
                   help="write the tables without summary.png/.svg (scripted runs: "
                        "`python -m qmcsim plot FOLDER` draws them later, the same bytes)")
    p.add_argument("--jobs", type=jobs_argument, default=0, metavar="N",
                   help="simulate up to N systems at once in forked worker processes "
                        "(default: one per usable CPU core; 1: all in this process; the "
                        "results are the same)")


def jobs_argument(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"a whole number >= 1 expected, got {text!r}")
    return int(text)


def run(args: argparse.Namespace) -> int:
    import yaml

    from qmcsim.config.loader import load_run
    from qmcsim.pipeline import run as run_pipeline
    from qmcsim.results import check_output_folder, write_results_folder
    from qmcsim.runner import check_stored_trace

    from qmcsim.parallel import usable_cores

    jobs = args.jobs or usable_cores()
    if jobs > 1:   # the DRAM fast-mode calibration (in load_run's checks) on two cores
        from qmcsim.memories.dram.fast import calibration_on_two_cores

        with calibration_on_two_cores():
            resolved = load_run(args.config, args.overrides)
    else:
        resolved = load_run(args.config, args.overrides)
    check_output_folder(args.out, resolved.config.name)   # before any simulation
    warming: list[threading.Thread] = []   # started once the workers are forked

    def warm() -> None:
        warming.append(warm_figure_imports(figure=not args.no_figure))

    if args.no_progress:   # and no tqdm import
        result = run_pipeline(resolved, jobs=jobs, while_waiting=warm)
    else:
        from tqdm import tqdm

        with tqdm(unit="step", disable=None, file=sys.stderr, leave=False) as bar:
            def start(total: int) -> None:
                bar.reset(total=total)

            result = run_pipeline(resolved, on_start=start, on_step=lambda _s: bar.update(),
                                  jobs=jobs, on_system=lambda _n, steps: bar.update(steps),
                                  while_waiting=warm)
    prepared = [(r.system, r.placement) for r in result.systems]
    notes = (build_warnings(result.run, prepared)
             + trace_workload_notes(result.run, check_stored_trace(result.run)))
    for note in notes:
        print(f"warning: {note}", file=sys.stderr)
    model = result.run.model
    print(render_report(result.name, model.name, model.num_parameters,
                        result.run.config.accounting, result.baseline, result.summary,
                        result.per_memory, result.contention))
    files = result.files()
    if notes:   # said in the resolved config too
        said = dict(result.resolved_config, warnings=notes)
        files["resolved_config.yaml"] = yaml.safe_dump(said, sort_keys=False).encode()
    for thread in warming:   # done by now; joined so the figure's fork has one thread
        thread.join()
    if not args.no_figure:
        files.update(summary_figure_files(files))
    folder = write_results_folder(args.out, result.name, files)
    print(f"\nresults: {folder}")
    return 0


def warm_figure_imports(figure: bool = True) -> threading.Thread:
    """Import pandas, and for the figure matplotlib and the plot module, in a thread: the
    main thread only waits for the worker processes meanwhile, so the tables' and the
    figure's imports cost no wall time (started after the workers are forked: a fork must not
    copy a half-done import)."""
    import threading

    def load() -> None:
        import pandas  # noqa: F401

        if figure:
            import qmcsim.plot  # noqa: F401

    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    return thread


# `count: auto` builds that are rarely what was meant (see build_warnings)
MANY_UNITS = 100            # of a preset whose unit is a channel, bank or chip (>= 1 MB)
LARGE_UNIT_BYTES = 1 << 20  # smaller units are arrays (ReRAM crossbars): thousands are normal
ON_CHIP_VOLUME_BYTES = 64 << 20   # on-chip banks beyond this: an in-package chiplet is meant


def build_warnings(run, prepared) -> list[str]:  # type: ignore[no-untyped-def]
    """One line per `count: auto` memory that resolved to an implausible build: hundreds of
    channel/bank-sized units, or an on-chip bank preset holding a chiplet's volume."""
    out = []
    for system, placement in prepared:
        for mem, device in system.devices.items():
            if system.config.memories[mem].count != "auto":
                continue
            n = placement.counts[mem]
            unit = device.capacity_bytes
            volume = n * unit
            area = volume * 8 / (device.density_mb_per_mm2 * 2**20)
            where = f"{system.field_path}.memories.{mem} ({system.name})"
            what = (f"count: auto resolved to {n} units of {device.name} "
                    f"({unit / 2**20:,.3g} MiB each, {volume / 2**20:,.1f} MiB, "
                    f"{area:,.1f} mm^2)")
            if device.location == "on_chip" and volume > ON_CHIP_VOLUME_BYTES:
                out.append(f"{where}: {what}: an on-chip bank preset at a chiplet's volume; "
                           "an in-package preset (e.g. qmc-mram) or a fixed count may be meant")
            elif n >= MANY_UNITS and unit >= LARGE_UNIT_BYTES:
                out.append(f"{where}: {what}: hundreds of channel-sized units; check the "
                           "preset and the placement")
    return out


def trace_workload_notes(run, info) -> list[str]:  # type: ignore[no-untyped-def]
    """With `trace:`, the stored trace decides the steps simulated: say so when it disagrees
    with the config's workload."""
    if info is None:
        return []
    from qmcsim.runner import stored_trace_path
    from qmcsim.trace.generate import step_count
    from qmcsim.trace.store import trace_metadata

    wl = run.config.workload
    expected = step_count(run.model, wl)
    if info.steps == expected:
        return []
    path = stored_trace_path(run)
    made = (trace_metadata(path).get("workload") if path is not None else None) or {}
    made_text = (f" (generated for prompt {made.get('prompt_tokens')}, generate "
                 f"{made.get('generate_tokens')})" if made else "")
    decode = info.phases.get("decode", 0)
    return [f"trace: the workload follows the stored trace {run.config.trace!r}: {info.steps} "
            f"steps, {decode} of them decode{made_text}, not the config's workload (prompt "
            f"{wl.prompt_tokens}, generate {wl.generate_tokens}: {expected} steps)"]


def summary_figure_files(files: dict[str, bytes]) -> dict[str, bytes]:
    """summary.png/.svg drawn from the very tables (and config) written beside them."""
    import io

    import pandas as pd

    from qmcsim.parallel import forks
    from qmcsim.plot import config_title, figure_files, run_summary

    title = config_title(files["resolved_config.yaml"]) or ""
    tables = {name.removesuffix(".csv"): pd.read_csv(io.BytesIO(data))
              for name, data in files.items() if name.endswith(".csv")}
    fig = run_summary(tables, title)
    if forks():
        return _png_here_svg_in_a_child(fig)
    return figure_files({"summary": fig})


def _png_here_svg_in_a_child(fig: Figure) -> dict[str, bytes]:
    """Both encodings of the summary at once on two cores: the SVG in a forked child, the
    PNG here. Same bytes as one after the other (a test compares them); if the child fails,
    the SVG is drawn here after all."""
    from qmcsim.parallel import meanwhile_in_a_child
    from qmcsim.plot.style import save_figure

    stem = Path("summary")
    out, svg = meanwhile_in_a_child(lambda: save_figure(fig, stem, ("svg",))["summary.svg"],
                                    lambda: save_figure(fig, stem, ("png",)))
    out["summary.svg"] = svg
    return out


def render_report(name: str, model: str, params: int, accounting: str, baseline: str,
                  summary: pd.DataFrame, per_memory: pd.DataFrame,
                  contention: pd.DataFrame) -> str:
    """Per system: the metric and its ratio against the baseline, side by side. Every number
    in the one format of qmcsim.commands._format, each row in a unit that keeps it short."""
    import pandas as pd

    from qmcsim.commands._format import number, unit_for

    lines = [f"run {name!r}: model {model} ({params / 1e9:.3f} B parameters), "
             f"accounting: {accounting}, ratios = {baseline} / system (higher is better)", ""]
    # column, label (with {unit}), its base unit, factor from the column into the base unit
    labels = [("weight_bytes", "weight footprint ({})", "MB", 1e-6),
              ("weight_cells", "weight memory cells (M)", "M", 1e-6),
              ("weight_area_mm2", "weight area (mm^2)", "mm^2", 1.0),
              ("external_bytes_per_token", "external traffic / token ({})", "MB", 1e-6),
              ("energy_per_token_uj", "energy / token ({})", "uJ", 1.0),
              ("static_energy_per_token_uj", "  of which static ({})", "uJ", 1.0),
              ("ttft_ms", "time to first token ({})", "ms", 1.0),
              ("decode_ms_per_token", "decode time / token ({})", "ms", 1.0),
              ("cold_start_ms", "cold start: load weights ({})", "ms", 1.0),
              ("cold_start_energy_mj", "cold start energy ({})", "mJ", 1.0)]
    table: dict[str, dict[str, str]] = {row["system"]: {} for _, row in summary.iterrows()}
    # rows that are parts of one quantity share its unit (static energy is part of energy)
    unit_of = {"static_energy_per_token_uj": "energy_per_token_uj"}
    for key, label, unit, to_base in labels:
        shown, factor = unit_for((summary[unit_of.get(key, key)] * to_base).tolist(), unit)
        row_label = label.format(shown)
        for _, row in summary.iterrows():
            value = number(row[key] * to_base * factor) if pd.notna(row[key]) \
                else "- (no copy)"
            ratio_key = f"{key}_vs_{baseline}"
            table[row["system"]][row_label] = (f"{value} ({row[ratio_key]:.2f}x)"
                                               if ratio_key in row else value)
    lines.append(pd.DataFrame(table).to_string())
    lines += ["", "per memory, mean per decode token:"]
    pm = per_memory.assign(MB_per_token=per_memory.bytes_per_token / 1e6).drop(
        columns="bytes_per_token")
    lines.append(pm.to_string(index=False, na_rep="-", float_format=number))
    lines += ["", "contention per memory and traffic class, decode steps "
              "(bandwidth = bytes over decode time):"]
    ct = contention.assign(MB_per_token=contention.bytes_per_token / 1e6).drop(
        columns="bytes_per_token")
    lines.append(ct.to_string(index=False, na_rep="-", float_format=number))
    return "\n".join(lines)
