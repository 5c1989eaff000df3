"""Calibration data for the calibrated quantizers: seeded token sequences from texts disjoint from
the evaluation text, run through the (unquantized) model once, with hooks accumulating each
linear layer's input statistics (H = X^T X / n and mean |x|, `formats.calibration`).

Layers that read the same input tensor (q/k/v; gate/up) share one accumulator. Inputs come from
the unquantized model in one pass; GPTQ's reference implementation instead feeds each layer the
outputs of the already-quantized layers before it (a difference, stated in docs/accuracy.md).
Selection (numpy only) is separate from collection (torch).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from qmcsim.formats.calibration import LayerCalibration

SHINGLE_WORDS = 8


@dataclass(frozen=True, kw_only=True)
class Sample:
    source: str        # the text it comes from
    offset: int        # first token
    tokens: int


def select_samples(lengths: dict[str, int], sequences: int, tokens: int,
                   seed: int) -> list[Sample]:
    """`sequences` windows of `tokens` tokens, seeded: a text drawn in proportion to its usable
    length, then a uniform start inside it."""
    usable = {k: n - tokens + 1 for k, n in lengths.items() if n >= tokens}
    if not usable:
        raise ValueError(f"no calibration text has {tokens} tokens")
    names = list(usable)
    weights = np.array([usable[k] for k in names], dtype=float)
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(names), size=sequences, p=weights / weights.sum())
    return [Sample(source=names[i], offset=int(rng.integers(0, usable[names[i]])),
                   tokens=tokens) for i in picks]


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = re.findall(r"[a-z]+", text.lower())
    return {tuple(words[i:i + SHINGLE_WORDS]) for i in range(len(words) - SHINGLE_WORDS + 1)}


def overlap_share(calibration_text: str, evaluation_text: str) -> float:
    """Share of the calibration text's 8-word sequences that also occur in the evaluation text
    (0 for disjoint texts; a copy or an edition of the same play gives a large share)."""
    cal = _shingles(calibration_text)
    return len(cal & _shingles(evaluation_text)) / max(len(cal), 1)


def collect(model: Any, targets: list[tuple[str, Any]], batches: list[Any]
            ) -> dict[str, LayerCalibration]:
    """Run `batches` (1-D LongTensors of token ids) through `model` and return the input
    statistics of every nn.Linear whose weight is a target, keyed by the target's name."""
    import torch

    wanted = {id(p): name for name, p in targets}
    modules = [(wanted[id(m.weight)], m) for _, m in model.named_modules()
               if isinstance(m, torch.nn.Linear) and id(m.weight) in wanted]
    sums: dict[str, Any] = {}
    abs_sums: dict[str, Any] = {}
    counts: dict[str, int] = {}
    leader: dict[str, str] = {}
    last: dict[str, Any] = {"x": None, "key": None}

    def hook(name: str, _module: Any, inputs: tuple[Any, ...]) -> None:
        x = inputs[0]
        if x is last["x"]:                     # the same input as the layer before: shared
            leader.setdefault(name, last["key"])
            return
        leader.setdefault(name, name)
        last["x"], last["key"] = x, name
        x2 = x.detach().reshape(-1, x.shape[-1]).float()
        if name not in sums:
            sums[name] = torch.zeros(x2.shape[1], x2.shape[1], dtype=torch.float32)
            abs_sums[name] = torch.zeros(x2.shape[1], dtype=torch.float64)
            counts[name] = 0
        sums[name].addmm_(x2.T, x2)
        abs_sums[name] += x2.abs().sum(dim=0, dtype=torch.float64)
        counts[name] += x2.shape[0]

    handles = [m.register_forward_pre_hook(lambda mod, inp, n=name: hook(n, mod, inp))
               for name, m in modules]
    try:
        with torch.inference_mode():
            for ids in batches:
                last["x"] = None
                model(ids.unsqueeze(0))
    finally:
        for h in handles:
            h.remove()
        last["x"] = None
    stats: dict[str, LayerCalibration] = {}
    for name, _ in modules:
        key = leader.get(name)
        if key is None:
            continue                            # never called (an unused layer)
        if key not in stats:
            n = counts[key]
            stats[key] = LayerCalibration(hessian=(sums[key] / n).numpy(),
                                          mean_abs=(abs_sums[key] / n).numpy(), samples=n)
        stats[name] = stats[key]
    return stats


def prepare(cal: Any, tokenizer: Any, evaluation_text: str, *, file: str,
            base_dir: Any) -> tuple[list[Any], dict[str, Any]]:
    """Token batches of a `CalibrationConfig` and the record of the split (for the results):
    texts, their token counts, overlap with the evaluation text, the drawn windows. Raises a
    ConfigError for a calibration text that overlaps the evaluation text."""
    import torch

    from qmcsim.accuracy.model import load_text
    from qmcsim.errors import ConfigError

    ids: dict[str, Any] = {}
    overlaps: dict[str, float] = {}
    for i, source in enumerate(cal.texts):
        text = load_text(source, file=file, base_dir=base_dir, field=f"calibration.texts[{i}]")
        share = overlap_share(text, evaluation_text)
        if share > cal.max_overlap:
            raise ConfigError(file, f"calibration.texts[{i}]", f"a text disjoint from the "
                              f"evaluation text expected: {share:.1%} of its 8-word sequences "
                              f"occur in it (max_overlap {cal.max_overlap})")
        overlaps[source] = round(share, 6)
        ids[source] = torch.tensor(tokenizer(text)["input_ids"], dtype=torch.long)
    try:
        samples = select_samples({k: int(v.numel()) for k, v in ids.items()}, cal.sequences,
                                 cal.sequence_tokens, cal.seed)
    except ValueError as exc:
        raise ConfigError(file, "calibration.sequence_tokens", str(exc)) from None
    batches = [ids[s.source][s.offset:s.offset + s.tokens] for s in samples]
    info = {"texts": {k: {"tokens": int(v.numel()), "overlap_with_evaluation": overlaps[k]}
                      for k, v in ids.items()},
            "tokens": cal.sequences * cal.sequence_tokens,
            "windows": [[s.source, s.offset] for s in samples]}
    return batches, info
