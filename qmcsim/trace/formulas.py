"""Analytic bytes per step, as pure functions of the model shape, the format and the workload.

The tests hold the generated (and stored) traces to these. They count per tensor and per
layer, not per access, so they do not share the generator's bookkeeping.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from qmcsim.formats.base import Accounting, FormatConfig
from qmcsim.models.shape import ModelShape
from qmcsim.placement import KV_BYTES_PER_ELEMENT


@dataclass(frozen=True, kw_only=True)
class TokenBytes:
    """Bytes one decode step moves, per traffic class (activation spills excluded)."""

    weights: int
    kv_read: int
    kv_write: int
    ssm_state: int

    @property
    def total(self) -> int:
        return self.weights + self.kv_read + self.kv_write + self.ssm_state


def stored_bytes(model: ModelShape, fmt: FormatConfig, accounting: Accounting,
                 tensor_name: str) -> int:
    tensor = next(t for t in model.tensors if t.name == tensor_name)
    return sum(c.nbytes for c in fmt.layout(tensor, accounting))


def decode_weight_bytes(model: ModelShape, fmt: FormatConfig, accounting: Accounting,
                        batch: int) -> int:
    """Every tensor a layer or the head reads, in full, once per step (shared by the batch),
    plus the embedding rows of the batch's new tokens (full accounting) or, under paper
    accounting, an untied embedding table in full (tied: read once, as the LM head)."""
    read_per_token = {w.name for layer in model.layers for op in layer.operators
                      for w in op.weights} | {w.name for op in model.head for w in op.weights}
    total = sum(stored_bytes(model, fmt, accounting, n) for n in read_per_token)
    table = model.embed.weights[0]
    if accounting == "paper":
        return total + (0 if model.tied_embeddings else
                        stored_bytes(model, fmt, accounting, table.name))
    rows = min(table.rows, batch)
    return total + sum(math.ceil(c.nbytes * rows / table.rows)
                       for c in fmt.layout(table, accounting))


def decode_token_bytes(model: ModelShape, fmt: FormatConfig, accounting: Accounting, *,
                       context: int, batch: int) -> TokenBytes:
    """One decode step whose new token makes the cache `context` tokens long (meta tokens
    included): each attention layer reads the last min(context, window) cached K/V rows of
    the cache it uses; each KV-owning layer writes one row; each SSM layer reads and writes
    its state once. KV and state scale with the batch, weights do not."""
    weights = decode_weight_bytes(model, fmt, accounting, batch)
    if accounting == "paper":
        return TokenBytes(weights=weights, kv_read=0, kv_write=0, ssm_state=0)
    kv_read = kv_write = ssm = 0
    for layer in model.layers:
        a = layer.attention
        if a is not None:
            row = a.kv_elements_per_token() * KV_BYTES_PER_ELEMENT * batch
            keys = context if a.window is None else min(context, a.window)
            kv_read += keys * row
            kv_write += row if layer.owns_kv else 0
        if layer.ssm is not None:
            ssm += 2 * layer.ssm.state_elements() * KV_BYTES_PER_ELEMENT * batch
    return TokenBytes(weights=weights, kv_read=kv_read, kv_write=kv_write, ssm_state=ssm)
