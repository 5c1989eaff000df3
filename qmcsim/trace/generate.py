"""Generate the per-step trace of one system: prefill (the whole prompt), then each decode token.

Per step and operator: weight reads (one request per memory, components merged since they are
allocated together), KV cache reads over the attended context and the new K/V row writes,
SSM state read + write, activation spills past the on-chip buffer, and the operator's flops.
`accounting: paper` keeps weight reads only, every weight read once per token (as the study).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from qmcsim.config.schema import WorkloadConfig
from qmcsim.formats.base import Accounting
from qmcsim.models.shape import Attention, Layer, ModelShape, Operator
from qmcsim.placement import ACT_BYTES_PER_ELEMENT, KV_BYTES_PER_ELEMENT, Placement

Phase = Literal["prefill", "decode"]


@dataclass(frozen=True, slots=True)
class Access:
    memory: str
    address: int
    nbytes: int
    is_write: bool
    traffic_class: str   # weights, kv_cache, ssm_state, activations


@dataclass(frozen=True, slots=True)
class OpStep:
    layer: int | None
    operator: str
    accesses: tuple[Access, ...]
    flops: float


@dataclass(frozen=True, slots=True)
class Step:
    index: int
    phase: Phase
    tokens: int        # new tokens per sequence processed in this step
    context: int       # tokens in the KV cache after this step (meta tokens included)
    ops: tuple[OpStep, ...]


def attended(attn: Attention, position: int) -> int:
    """Keys a query at 0-based `position` attends over (itself included)."""
    return position + 1 if attn.window is None else min(position + 1, attn.window)


def attended_sum(attn: Attention, first: int, count: int) -> int:
    """Sum of attended() over positions first .. first+count-1 (closed form)."""
    end = first + count
    if attn.window is None:
        return sum_range(first + 1, end)
    split = min(max(first, attn.window), end)   # positions below split see no cap
    return sum_range(first + 1, split) + (end - split) * attn.window


def sum_range(lo: int, hi: int) -> int:
    """lo + (lo+1) + ... + hi (0 if hi < lo)."""
    return (hi * (hi + 1) - (lo - 1) * lo) // 2 if hi >= lo else 0


def attention_flops(attn: Attention, keys: int) -> int:
    return 2 * attn.num_heads * (attn.head_dim + attn.v_head_dim) * keys


class TraceBuilder:
    def __init__(self, model: ModelShape, placement: Placement, workload: WorkloadConfig,
                 accounting: Accounting, onchip_buffer_bytes: int) -> None:
        self.model, self.placement, self.workload = model, placement, workload
        self.accounting = accounting
        self.onchip_buffer_bytes = onchip_buffer_bytes

    @property
    def full(self) -> bool:
        return self.accounting == "full"

    def steps(self) -> Iterator[Step]:
        w = self.workload
        prompt = self.model.meta_tokens + w.prompt_tokens
        yield self._step(0, "prefill", first=0, count=prompt)
        for t in range(w.generate_tokens):
            yield self._step(t + 1, "decode", first=prompt + t, count=1)

    # -- one step ---------------------------------------------------------------------------
    def _step(self, index: int, phase: Phase, first: int, count: int) -> Step:
        ops = [self._embed(count)]
        for layer in self.model.layers:
            ops.extend(self._layer_op(layer, op, first, count) for op in layer.operators)
        ops.extend(self._weights_op(None, op, 1) for op in self.model.head)
        return Step(index=index, phase=phase, tokens=count, context=first + count,
                    ops=tuple(ops))

    def _weight_accesses(self, op: Operator) -> list[Access]:
        by_memory: dict[str, list[int]] = {}
        for tensor in op.weights:
            for placed in self.placement.weights[tensor.name]:
                span = by_memory.setdefault(placed.memory, [placed.address, 0])
                span[0] = min(span[0], placed.address)
                span[1] += placed.component.nbytes
        return [Access(memory=m, address=a, nbytes=n, is_write=False, traffic_class="weights")
                for m, (a, n) in by_memory.items()]

    def _embed(self, count: int) -> OpStep:
        op = self.model.embed
        if not self.full:
            reads = [] if self.model.tied_embeddings else self._weight_accesses(op)
            return OpStep(layer=None, operator=op.name, accesses=tuple(reads), flops=0)
        table = op.weights[0]
        rows = min(table.rows, count * self.workload.batch)
        reads = [Access(memory=a.memory, address=a.address, traffic_class="weights",
                        nbytes=math.ceil(a.nbytes * rows / table.rows), is_write=False)
                 for a in self._weight_accesses(op)]
        return OpStep(layer=None, operator=op.name, accesses=tuple(reads), flops=0)

    def _weights_op(self, layer: int | None, op: Operator, tokens: int) -> OpStep:
        flops = op.flops_per_token * tokens * self.workload.batch
        accesses = self._weight_accesses(op) + (self._activations(op, tokens) if self.full else [])
        return OpStep(layer=layer, operator=op.name, accesses=tuple(accesses), flops=flops)

    def _activations(self, op: Operator, tokens: int) -> list[Access]:
        """Activations stay on chip unless an operator's input + output exceed the buffer."""
        per = tokens * self.workload.batch * ACT_BYTES_PER_ELEMENT
        in_bytes, out_bytes = op.act_in * per, op.act_out * per
        if in_bytes + out_bytes <= self.onchip_buffer_bytes:
            return []
        region = self.placement.activations
        return [Access(memory=region.memory, address=region.address, nbytes=in_bytes,
                       is_write=False, traffic_class="activations"),
                Access(memory=region.memory, address=region.address + in_bytes,
                       nbytes=out_bytes, is_write=True, traffic_class="activations")]

    def _layer_op(self, layer: Layer, op: Operator, first: int, count: int) -> OpStep:
        if op.kind == "attention" and layer.attention is not None:
            return self._attention(layer, layer.attention, op, first, count)
        if op.kind == "ssm_scan" and layer.ssm is not None:
            step = self._weights_op(layer.index, op, count)
            if not self.full:
                return step
            region = self.placement.ssm_state[layer.index]
            state = [Access(memory=region.memory, address=region.address, nbytes=region.nbytes,
                            is_write=False, traffic_class="ssm_state"),
                     Access(memory=region.memory, address=region.address, nbytes=region.nbytes,
                            is_write=True, traffic_class="ssm_state")]
            return OpStep(layer=layer.index, operator=op.name, flops=step.flops,
                          accesses=step.accesses + tuple(state))
        # lm_head needs logits of the last position only; others run on every new token
        return self._weights_op(layer.index, op, count)

    def _attention(self, layer: Layer, attn: Attention, op: Operator, first: int,
                   count: int) -> OpStep:
        b = self.workload.batch
        keys = attended_sum(attn, first, count)
        flops = attention_flops(attn, keys) * b
        if not self.full:
            return OpStep(layer=layer.index, operator=op.name, accesses=(), flops=flops)
        owner = attn.kv_source_layer if attn.kv_source_layer is not None else layer.index
        region = self.placement.kv[owner]
        row = attn.kv_elements_per_token() * KV_BYTES_PER_ELEMENT * b
        # decode reads the cached context; prefill (flash-attention style) reads each new
        # K/V row once after producing it, tile by tile
        cached = attended(attn, first + count - 1) if count == 1 else count
        accesses = [Access(memory=region.memory, address=region.address, nbytes=cached * row,
                           is_write=False, traffic_class="kv_cache")]
        if layer.owns_kv:
            accesses.append(Access(memory=region.memory, address=region.address,
                                   nbytes=count * row, is_write=True, traffic_class="kv_cache"))
        return OpStep(layer=layer.index, operator=op.name, accesses=tuple(accesses), flops=flops)
