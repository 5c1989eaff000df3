"""Run every variant (x seed) of an accuracy config on a loaded model: swap the read-back weights
in, measure perplexity, restore the original weights. Imports torch.

Seeding: the noise of tensor i under seed s comes from numpy's default_rng([s, i]), so a seed
gives the same draws in every variant (common random numbers) and in any run order.
Noise-free variants are evaluated once (seed column empty).
"""

from __future__ import annotations

import contextlib
from functools import partial

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from qmcsim.accuracy.apply import quantize_tensor, read_back, relative_error, stored_layout
from qmcsim.accuracy.config import ResolvedAccuracy, Variant
from qmcsim.accuracy.perplexity import perplexity, windows
from qmcsim.accuracy.stats import mean_ci95
from qmcsim.formats.calibration import LayerCalibration, output_error


@dataclass(frozen=True, kw_only=True)
class AccuracyResult:
    runs: pd.DataFrame        # one row per variant x seed
    summary: pd.DataFrame     # one row per variant: mean and 95 % CI over seeds
    tensors: pd.DataFrame     # one row per variant x seed x tensor: weight errors


def evaluations(resolved: ResolvedAccuracy) -> list[tuple[Variant, int | None]]:
    seeds = resolved.config.seeds
    return [(v, s) for v in resolved.variants for s in (seeds if v.noisy else [None])]


def run_accuracy(resolved: ResolvedAccuracy, model: Any, ids: Any, targets: list[tuple[str, Any]],
                 *, on_window: Callable[[str], None] | None = None,
                 on_result: Callable[[dict[str, Any]], None] | None = None,
                 calibration: dict[str, LayerCalibration] | None = None) -> AccuracyResult:
    """`ids`: 1-D LongTensor of the evaluated tokens; `targets`: (name, parameter) to replace;
    `calibration`: per target name, the layer's input statistics (calibrated formats);
    `on_result`: called with each evaluation's row as soon as it is measured."""
    import torch

    cfg = resolved.config
    stride = cfg.stride_tokens or cfg.context_tokens
    originals = [(name, p.detach().clone()) for name, p in targets]
    runs, tensor_rows = [], []
    try:
        for variant in resolved.variants:
            tq = time.perf_counter()
            cal = calibration or {}
            with single_threaded_blas():
                cached = [quantize_tensor(w.numpy(), variant,
                                          cal.get(name) if variant.calibrated else None)
                          for name, w in originals]
            quantize_s = time.perf_counter() - tq
            bits = {acct: sum(c.bits for (name, w), qt in zip(originals, cached, strict=True)
                              for c in stored_layout(variant, name, w.numpy(), qt.q, acct))
                    for acct in ("full", "paper")}
            n_weights = sum(w.numel() for _, w in originals)
            out_err = [relative_output_error(w.numpy(), qt.clean, cal.get(name))
                       for (name, w), qt in zip(originals, cached, strict=True)]
            for seed in (cfg.seeds if variant.noisy else [None]):
                t0 = time.perf_counter()
                changed, total = 0.0, 0
                for i, ((name, w), (_, param), qt) in enumerate(zip(originals, targets, cached,
                                                                    strict=True)):
                    rng = np.random.default_rng([seed if seed is not None else 0, i])
                    w_hat, rate = read_back(qt, variant, rng)
                    w_np = w.numpy()
                    tensor_rows.append({
                        "variant": variant.name, "seed": seed, "tensor": name,
                        "rows": w_np.shape[0], "cols": w_np.shape[1],
                        "rel_err_quant": relative_error(w_np, qt.clean),
                        "rel_err_total": relative_error(w_np, w_hat),
                        "rel_out_err_quant": out_err[i],
                        "code_change_rate": rate,
                        "mse_scale_multiplier": qt.mse_multiplier_mean,
                        "chosen_scale_multiplier": qt.chosen_multiplier_mean})
                    changed += rate * w_np.size
                    total += w_np.size
                    with torch.no_grad():
                        param.copy_(torch.from_numpy(np.ascontiguousarray(w_hat, np.float32)))
                label = variant.name + ("" if seed is None else f" seed {seed}")
                tick = None if on_window is None else partial(on_window, label)
                ppl = perplexity(model, ids, context=cfg.context_tokens, stride=stride,
                                 on_window=tick)
                runs.append({"variant": variant.name, "base": variant.base,
                             "format": variant.kind, "rho": variant.rho, "cells": variant.cells,
                             "mapping": variant.config.mapping,
                             "scale_search": variant.config.scale_search, "seed": seed,
                             "tokens": int(ids.numel()), "scored_tokens": ppl.scored,
                             "mean_nll": ppl.mean_nll, "perplexity": ppl.perplexity,
                             "code_change_rate": changed / max(total, 1),
                             "bits_per_weight": bits["full"] / n_weights,
                             "bits_per_weight_paper": bits["paper"] / n_weights,
                             "quantize_s": quantize_s,
                             "wall_s": time.perf_counter() - t0})
                if on_result is not None:
                    on_result(runs[-1])
            del cached
    finally:
        with torch.no_grad():
            for (_, w), (_, param) in zip(originals, targets, strict=True):
                param.copy_(w)
    runs_df = pd.DataFrame(runs)
    return AccuracyResult(runs=runs_df, summary=summarize(runs_df),
                          tensors=pd.DataFrame(tensor_rows))


def single_threaded_blas() -> contextlib.AbstractContextManager[Any]:
    """The quantizers' matrices are small (GPTQ's column updates): BLAS threads only add
    overhead, and on shared cores they spin. threadpoolctl (optional) limits them."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def relative_output_error(w: np.ndarray, w_hat: np.ndarray,
                          cal: LayerCalibration | None) -> float:
    """||X (W - W_hat)^T||^2 / ||X W^T||^2 on the calibration inputs (NaN without them)."""
    if cal is None:
        return float("nan")
    den = output_error(w, np.zeros_like(w), cal.hessian)
    return output_error(w, w_hat, cal.hessian) / den if den > 0 else 0.0


def summarize(runs: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for name, group in runs.groupby("variant", sort=False):
        mean, half = mean_ci95(group["perplexity"].to_numpy())
        first = group.iloc[0]
        rows.append({"variant": name, "base": first["base"], "format": first["format"],
                     "rho": first["rho"], "cells": first["cells"], "mapping": first["mapping"],
                     "scale_search": first["scale_search"], "n_seeds": int(len(group)),
                     "perplexity_mean": mean, "perplexity_ci95_low": mean - half,
                     "perplexity_ci95_high": mean + half, "perplexity_ci95_half": half,
                     "code_change_rate": float(group["code_change_rate"].mean()),
                     "bits_per_weight": float(first["bits_per_weight"]),
                     "bits_per_weight_paper": float(first["bits_per_weight_paper"])})
    return pd.DataFrame(rows)


def windows_per_eval(resolved: ResolvedAccuracy, n_tokens: int) -> int:
    cfg = resolved.config
    return len(windows(n_tokens, cfg.context_tokens, cfg.stride_tokens or cfg.context_tokens))
