"""Generate the per-step trace of one system: prefill (the prompt, whole or in chunks), then
each decode token.

Per step and operator: one weight read per tensor and stored component (tensor name, tensor
class and component recorded), KV cache reads over the attended context and the new K/V row
writes, SSM state read + write, activation spills past the on-chip buffer, the embedding-row
gather, the LM head, and the operator's flops. The engine merges one operator's weight reads
per memory into one request (components of one operator are allocated together);
`merge_weight_reads` is that rule. `accounting: paper` keeps weight reads only, every weight
read once per token (as the study).

Batch: weights are read once per step for the whole batch; KV, SSM state, activations and
embedding rows scale with the batch.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal, cast

from qmcsim.errors import InternalError
from qmcsim.config.schema import WorkloadConfig
from qmcsim.formats.base import Accounting
from qmcsim.models.shape import Attention, Layer, ModelShape, Operator
from qmcsim.placement import ACT_BYTES_PER_ELEMENT, KV_BYTES_PER_ELEMENT, Placement, Region

Phase = Literal["prefill", "decode"]


TRAFFIC_CLASSES: tuple[str, ...] = ("weights", "kv_cache", "ssm_state", "activations")


@dataclass(frozen=True, slots=True)
class Access:
    """One contiguous byte range [address, address + nbytes) of one memory."""

    memory: str
    address: int
    nbytes: int
    is_write: bool
    traffic_class: str   # one of TRAFFIC_CLASSES
    tensor: str | None = None         # weights: the tensor read
    component: str | None = None      # weights: its stored component (codes, scales, ...)
    tensor_class: str | None = None   # weights: attention, mlp, embeddings, ...


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

    @property
    def first_token(self) -> int:
        """0-based position of the first new token of this step."""
        return self.context - self.tokens


def merge_weight_reads(accesses: tuple[Access, ...]) -> list[Access]:
    """One operator's weight reads, one request per memory: lowest address, summed bytes.

    Other accesses keep their order; the merged reads take the place of the first weight read
    of their memory.
    """
    out: list[Access] = []
    merged: dict[str, int] = {}
    for a in accesses:
        if a.traffic_class != "weights" or a.is_write:
            out.append(a)
            continue
        at = merged.get(a.memory)
        if at is None:
            merged[a.memory] = len(out)
            out.append(Access(memory=a.memory, address=a.address, nbytes=a.nbytes,
                              is_write=False, traffic_class="weights"))
        else:
            prev = out[at]
            out[at] = Access(memory=a.memory, address=min(prev.address, a.address),
                             nbytes=prev.nbytes + a.nbytes, is_write=False,
                             traffic_class="weights")
    return out


def prefill_chunks(prompt: int, chunk: int | None) -> list[tuple[int, int]]:
    """(first, count) of each prefill step; `chunk` None = the whole prompt in one step."""
    size = prompt if chunk is None else min(chunk, prompt)
    return [(first, min(size, prompt - first)) for first in range(0, prompt, size)]


def step_count(model: ModelShape, workload: WorkloadConfig) -> int:
    prompt = model.meta_tokens + workload.prompt_tokens
    return len(prefill_chunks(prompt, workload.prefill_chunk_tokens)) + workload.generate_tokens


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


def kv_rows_read(attn: Attention, first: int, count: int) -> int:
    """Cached K/V rows (per sequence) a step reads for new positions first .. first+count-1.

    Each row of the union of the attended ranges is read once (flash-attention style, tile by
    tile); rows written by this step are read back too. Decode (count 1): the attended context.
    """
    end = first + count
    return end if attn.window is None else min(end, attn.window + count - 1)


def attention_flops(attn: Attention, keys: int) -> int:
    return 2 * attn.num_heads * (attn.head_dim + attn.v_head_dim) * keys


class TraceBuilder:
    def __init__(self, model: ModelShape, placement: Placement, workload: WorkloadConfig,
                 accounting: Accounting, onchip_buffer_bytes: int) -> None:
        self.model, self.placement, self.workload = model, placement, workload
        self.accounting = accounting
        self.onchip_buffer_bytes = onchip_buffer_bytes
        self._weights_cache: dict[int, tuple[Access, ...]] = {}
        # per (tokens, LM head): the operators whose accesses do not depend on the position
        # (weights, activations, SSM state), one OpStep shared by every step that runs them
        self._attention_cache: dict[tuple[int, int], tuple[Region, int, tuple[Access, ...]]] = {}
        self._templates: dict[tuple[int, bool], tuple[list[OpStep | None],
                                                      list[tuple[int, Layer, Operator]]]] = {}

    @property
    def full(self) -> bool:
        return self.accounting == "full"

    def steps(self) -> Iterator[Step]:
        """Prefill chunks (workload.prefill_chunk_tokens, meta tokens included), then one step
        per decode token. The LM head runs on the last prefill chunk and on every decode step."""
        w = self.workload
        prompt = self.model.meta_tokens + w.prompt_tokens
        index = 0
        for first, count in prefill_chunks(prompt, w.prefill_chunk_tokens):
            yield self._step(index, "prefill", first=first, count=count,
                             head=first + count == prompt)
            index += 1
        for t in range(w.generate_tokens):
            yield self._step(index + t, "decode", first=prompt + t, count=1, head=True)

    # -- one step ---------------------------------------------------------------------------
    def _step(self, index: int, phase: Phase, first: int, count: int, head: bool) -> Step:
        shared, attention = self._template(count, head)
        ops = list(shared)
        for slot, layer, op in attention:   # only attention depends on the position
            if layer.attention is None:
                raise InternalError(f"attention slot {slot} on a layer without attention")
            ops[slot] = self._attention(layer, layer.attention, op, first, count)
        return Step(index=index, phase=phase, tokens=count, context=first + count,
                    ops=tuple(cast(list[OpStep], ops)))

    def _template(self, count: int, head: bool
                  ) -> tuple[list[OpStep | None], list[tuple[int, Layer, Operator]]]:
        """A step's operators of `count` tokens: the position-free OpSteps (built once and
        shared by every such step) and the attention slots left to fill."""
        key = (count, head)
        cached = self._templates.get(key)
        if cached is not None:
            return cached
        shared: list[OpStep | None] = [self._embed(count)]
        attention: list[tuple[int, Layer, Operator]] = []
        for layer in self.model.layers:
            for op in layer.operators:
                if op.kind == "attention" and layer.attention is not None:
                    attention.append((len(shared), layer, op))
                    shared.append(None)
                else:
                    shared.append(self._position_free_op(layer, op, count))
        if head:   # final norm + LM head: logits of the last position only
            shared.extend(self._weights_op(None, op, 1) for op in self.model.head)
        self._templates[key] = (shared, attention)
        return shared, attention

    def _weight_accesses(self, op: Operator) -> tuple[Access, ...]:
        """Every stored component of every tensor `op` reads, in full, one Access each."""
        cached = self._weights_cache.get(id(op))
        if cached is None:
            cached = tuple(
                Access(memory=placed.memory, address=placed.address,
                       nbytes=placed.component.nbytes, is_write=False, traffic_class="weights",
                       tensor=tensor.name, component=placed.component.name,
                       tensor_class=tensor.tensor_class)
                for tensor in op.weights for placed in self.placement.weights[tensor.name])
            self._weights_cache[id(op)] = cached
        return cached

    def _embed(self, count: int) -> OpStep:
        op = self.model.embed
        if not self.full:
            reads = () if self.model.tied_embeddings else self._weight_accesses(op)
            return OpStep(layer=None, operator=op.name, accesses=reads, flops=0)
        # gather: one row per new token and sequence, of every stored component
        table = op.weights[0]
        rows = min(table.rows, count * self.workload.batch)
        reads = tuple(Access(memory=a.memory, address=a.address, traffic_class="weights",
                             nbytes=math.ceil(a.nbytes * rows / table.rows), is_write=False,
                             tensor=a.tensor, component=a.component,
                             tensor_class=a.tensor_class)
                      for a in self._weight_accesses(op))
        return OpStep(layer=None, operator=op.name, accesses=reads, flops=0)

    def _weights_op(self, layer: int | None, op: Operator, tokens: int) -> OpStep:
        flops = op.flops_per_token * tokens * self.workload.batch
        accesses = self._weight_accesses(op)
        if self.full:
            accesses += tuple(self._activations(op, tokens))
        return OpStep(layer=layer, operator=op.name, accesses=accesses, flops=flops)

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

    def _position_free_op(self, layer: Layer, op: Operator, count: int) -> OpStep:
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
        return self._weights_op(layer.index, op, count)

    def _attention(self, layer: Layer, attn: Attention, op: Operator, first: int,
                   count: int) -> OpStep:
        b = self.workload.batch
        keys = attended_sum(attn, first, count)
        flops = attention_flops(attn, keys) * b
        if not self.full:
            return OpStep(layer=layer.index, operator=op.name, accesses=(), flops=flops)
        region, row, tail = self._attention_parts(layer, attn, op, count)
        read = Access(memory=region.memory, address=region.address,
                      nbytes=kv_rows_read(attn, first, count) * row, is_write=False,
                      traffic_class="kv_cache")
        return OpStep(layer=layer.index, operator=op.name, accesses=(read, *tail), flops=flops)

    def _attention_parts(self, layer: Layer, attn: Attention, op: Operator, count: int
                         ) -> tuple[Region, int, tuple[Access, ...]]:
        """An attention operator's position-free part: its KV region, bytes per cached row,
        and the accesses after the KV read (new K/V rows written, activation spills)."""
        key = (layer.index, count)
        cached = self._attention_cache.get(key)
        if cached is not None:
            return cached
        owner = attn.kv_source_layer if attn.kv_source_layer is not None else layer.index
        region = self.placement.kv[owner]
        row = attn.kv_elements_per_token() * KV_BYTES_PER_ELEMENT * self.workload.batch
        tail: list[Access] = []
        if layer.owns_kv:
            tail.append(Access(memory=region.memory, address=region.address,
                               nbytes=count * row, is_write=True, traffic_class="kv_cache"))
        tail += self._activations(op, count)   # q in, attention output out
        self._attention_cache[key] = cached = (region, row, tuple(tail))
        return cached
