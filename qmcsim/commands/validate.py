"""`validate`: qmcsim against published real-hardware measurements (docs/accelerator.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "validate"
HELP = "compare predicted decode and prefill times with published Jetson measurements"
DESCRIPTION = ("Simulate every case of a validation file (default: the shipped Jetson AGX "
               "Orin measurements, hw_configs/validation/jetson-orin.yaml) on the calibrated "
               "accelerator and on the ideal roofline, and print measured and predicted "
               "decode time per token or prefill time, the error of each, and the mean "
               "absolute error of the calibration and held-out sets, per phase and per class "
               "(phase x format). Offline; under a minute on 2 cores.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", type=Path, nargs="?", default=None,
                   help="validation file (default: hw_configs/validation/jetson-orin.yaml)")
    p.add_argument("--split", choices=("all", "calibration", "held-out"), default="all",
                   help="which cases to run (default: all)")
    p.add_argument("--roofline", action="store_true",
                   help="also simulate every case on the ideal roofline preset (twice the time)")
    p.add_argument("--csv", type=Path, default=None, help="also write the table as CSV")


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from qmcsim.compute.validation import (
        DEFAULT_FILE,
        load_validation,
        mean_absolute_pct,
        run_cases,
        within_goal,
    )
    from qmcsim.errors import ConfigError
    from qmcsim.results import csv_bytes

    path = args.file or DEFAULT_FILE
    vf = load_validation(path)
    cases = [c for c in vf.cases if args.split in ("all", c.split)]
    if not cases:
        present = ", ".join(sorted({c.split for c in vf.cases}))
        raise ConfigError(str(path), "cases", f"a case with split {args.split!r} expected for "
                                              f"--split {args.split} (the file has: {present})")
    results = run_cases(vf, cases, roofline=args.roofline)
    rows = [{"case": r.case.id, "set": r.case.split, "phase": r.case.phase,
             "format": r.case.format, "kernels": r.case.runtime or "default",
             "context": r.case.context,
             "measured_ms": r.case.measured_ms, "predicted_ms": r.predicted_ms,
             "error_pct": r.error_pct,
             **({"roofline_ms": r.upper_bound_ms,
                 "roofline_error_pct": r.upper_bound_error_pct} if args.roofline else {}),
             "goal_pct": vf.goal(r.case),
             "ok": "yes" if within_goal(r, vf) else "NO"} for r in results]
    table = pd.DataFrame(rows)
    beside = f"; ideal roofline {vf.upper_bound}" if args.roofline else ""
    print(f"{vf.device}, batch 1: measured vs qmcsim ({vf.compute}{beside}); "
          f"{vf.memory.count} x {vf.memory.preset}")
    if vf.runtimes:
        print("kernels: the runtime profile that predicts a case (default: "
              f"{vf.compute}); " + ", ".join(f"{k} = {v}" for k, v in vf.runtimes.items()))
    print("decode: time per token (context = tokens in the KV cache); prefill: time to "
          "process the prompt (context = prompt tokens)\n")
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.2f}"))
    print()
    for split in ("calibration", "held-out"):
        for phase in ("decode", "prefill"):
            part = [r for r in results if r.case.split == split and r.case.phase == phase]
            if not part:
                continue
            mae = mean_absolute_pct(r.error_pct for r in part)
            roof = mean_absolute_pct(r.upper_bound_error_pct for r in part)
            worst = max(part, key=lambda r: abs(r.error_pct))
            beside = f" (roofline {roof:.1f} %)" if args.roofline else ""
            goal = f"mean <= {vf.goals['mean_absolute']:.0f} %, " if phase == "decode" else ""
            print(f"{split:>11} {phase:<7}: {len(part)} cases, mean absolute error "
                  f"{mae:.1f} %{beside}, worst {worst.error_pct:+.1f} % ({worst.case.id}); "
                  f"goal: {goal}{sum(within_goal(r, vf) for r in part)}/{len(part)} within "
                  f"their per-case goal")
    print("\nper class (mean absolute error, %; cases):")
    classes = table.assign(abs_error=table["error_pct"].abs()).groupby(
        ["phase", "format", "set"])["abs_error"].agg(["mean", "count"])
    per_class = classes["mean"].map("{:.1f}".format) + " (" + \
        classes["count"].astype(str) + ")"
    print(per_class.unstack("set").fillna("-").to_string())
    if vf.excluded:
        print("\nexcluded published figures:")
        for item in vf.excluded:
            print(f"  {item['id']}: {item['reason']}")
    print("\nsources:")
    for key, text in vf.sources.items():
        print(f"  {key}: {text}")
    print(f"  context: {vf.context_tokens_source}")
    if vf.power:
        print(f"\npower: {vf.power}")
    if args.csv is not None:
        tmp = args.csv.with_name(args.csv.name + ".tmp")
        tmp.write_bytes(csv_bytes(table))
        tmp.replace(args.csv)
    return 0
