"""Perplexity with a sliding window over N tokens. Imports torch."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, kw_only=True)
class Perplexity:
    nll_sum: float      # nats, over `scored` tokens
    scored: int

    @property
    def mean_nll(self) -> float:
        return self.nll_sum / self.scored

    @property
    def perplexity(self) -> float:
        return math.exp(self.mean_nll)


def windows(n_tokens: int, context: int, stride: int) -> list[tuple[int, int, int]]:
    """(begin, end, first scored position) per window; every position 1..n-1 scored once,
    always with at least one token of context inside its window."""
    out, prev_end, begin = [], 1, 0
    while prev_end < n_tokens:
        end = min(begin + context, n_tokens)
        out.append((begin, end, prev_end))
        prev_end = end
        # advance by `stride`, but keep the last scored token in the next window as context
        begin = min(max(end - context, begin + stride), end - 1)
    return out


def perplexity(model: Any, ids: Any, *, context: int, stride: int,
               on_window: Callable[[], None] | None = None) -> Perplexity:
    """Mean next-token NLL over ids[1:], each target seen with up to `context` - 1 tokens of
    left context (windows advance by `stride`)."""
    import torch

    nll, scored = 0.0, 0
    with torch.inference_mode():
        for begin, end, first in windows(int(ids.numel()), context, stride):
            chunk = ids[begin:end].unsqueeze(0)
            logits = model(chunk).logits[0, :-1].float()
            logp = torch.log_softmax(logits, dim=-1)
            targets = chunk[0, 1:]
            token_nll = -logp.gather(1, targets.unsqueeze(1)).squeeze(1)
            keep = token_nll[first - begin - 1:]
            nll += float(keep.double().sum())
            scored += int(keep.numel())
            if on_window is not None:
                on_window()
    return Perplexity(nll_sum=nll, scored=scored)
