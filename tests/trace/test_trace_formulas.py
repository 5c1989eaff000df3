"""Generated traces against the analytic formulas: bytes per decode token, KV growth, GQA,
batch, sliding windows, chunked prefill."""

from __future__ import annotations

import math

import pytest

from qmcsim.config.presets import load_raw_preset
from qmcsim.config.schema import WorkloadConfig
from qmcsim.formats.fp16 import Fp16Format
from qmcsim.formats.qmc import QmcFormat
from qmcsim.models.hf import build_model
from qmcsim.models.load import load_model
from qmcsim.models.shape import ModelShape
from qmcsim.trace.formulas import decode_token_bytes
from qmcsim.trace.generate import Step
from qmcsim.trace.standalone import standalone_builder

FP16 = Fp16Format()
BIG_BUFFER = 1 << 40   # nothing spills


def preset_config(name: str) -> dict:
    raw, _ = load_raw_preset("models", name, file="test", field_path="model")
    return dict(raw["config"])


def small(name: str, **change: object) -> ModelShape:
    """A preset's config with fewer layers (and any other change), for fast traces."""
    return build_model({**preset_config(name), **change}, name=name, source="test")


def trace(model: ModelShape, prompt: int, generate: int, *, batch: int = 1, fmt=FP16,
          chunk: int | None = None, buffer: int = BIG_BUFFER, accounting="full") -> list[Step]:
    workload = WorkloadConfig(prompt_tokens=prompt, generate_tokens=generate, batch=batch,
                              prefill_chunk_tokens=chunk)
    return list(standalone_builder(model, workload, fmt, accounting=accounting,
                                   onchip_buffer_bytes=buffer).steps())


def by_class(step: Step, *, write: bool | None = None) -> dict[str, int]:
    out: dict[str, int] = {}
    for op in step.ops:
        for a in op.accesses:
            if write is None or a.is_write == write:
                out[a.traffic_class] = out.get(a.traffic_class, 0) + a.nbytes
    return out


def test_smollm2_decode_bytes_equal_closed_form() -> None:
    """FP16, tied: every parameter once (the table as LM head) + one embedding row; KV reads
    over the whole context and one new row per layer, from config.json numbers alone."""
    cfg = preset_config("smollm2-135m")
    model = load_model("smollm2-135m", file="test", field_path="model")
    h, n_layers = cfg["hidden_size"], cfg["num_hidden_layers"]
    kv_row = 2 * cfg["num_key_value_heads"] * cfg["head_dim"] * 2     # K + V, FP16
    prompt, generate = 20, 3
    steps = trace(model, prompt, generate)
    for step in steps[1:]:
        context = step.context
        reads, writes = by_class(step, write=False), by_class(step, write=True)
        assert reads["weights"] == 2 * 134_515_008 + 2 * h
        assert reads["kv_cache"] == n_layers * context * kv_row
        assert writes["kv_cache"] == n_layers * kv_row
        assert "activations" not in reads


@pytest.mark.parametrize(("name", "change", "fmt"), [
    ("smollm2-135m", {"num_hidden_layers": 3}, FP16),
    ("tinyllama-1.1b", {"num_hidden_layers": 2}, FP16),                      # untied head
    ("qwen2.5-0.5b", {"num_hidden_layers": 2}, QmcFormat(index="csr")),      # biases, QMC
    ("phi-1.5", {"num_hidden_layers": 2}, QmcFormat()),                      # LM head bias
    ("gemma-2-2b", {"num_hidden_layers": 4, "sliding_window": 6}, FP16),     # windows
    ("hymba-1.5b", {}, QmcFormat()),                                         # SSM, KV reuse
])
def test_decode_bytes_equal_formula(name: str, change: dict, fmt) -> None:
    model = small(name, **change)
    for batch in (1, 3):
        steps = trace(model, 9, 4, batch=batch, fmt=fmt)
        for step in steps[1:]:
            expected = decode_token_bytes(model, fmt, "full", context=step.context, batch=batch)
            reads, writes = by_class(step, write=False), by_class(step, write=True)
            assert reads["weights"] == expected.weights
            assert reads["kv_cache"] == expected.kv_read
            assert writes["kv_cache"] == expected.kv_write
            assert reads.get("ssm_state", 0) + writes.get("ssm_state", 0) == expected.ssm_state


def test_weight_reads_are_per_tensor_and_component() -> None:
    model = small("qwen2.5-0.5b", num_hidden_layers=1)
    fmt = QmcFormat(index="bitmap")
    step = trace(model, 4, 1, fmt=fmt)[1]
    qkv = next(op for op in step.ops if op.operator == "qkv_proj")
    seen = {(a.tensor, a.component) for a in qkv.accesses if a.traffic_class == "weights"}
    assert ("layers.0.q_proj", "codes") in seen
    assert ("layers.0.q_proj", "outlier_values") in seen
    assert ("layers.0.q_proj", "outlier_indices") in seen
    assert ("layers.0.q_proj.bias", "codes") in seen   # FP16 vector: codes only
    assert {a.tensor_class for a in qkv.accesses} == {"attention", "bias"}


def test_kv_bytes_grow_linearly_with_context() -> None:
    model = small("llama-3.2-1b", num_hidden_layers=2)
    steps = trace(model, 5, 12)[1:]
    kv = [by_class(s, write=False)["kv_cache"] for s in steps]
    slope = kv[1] - kv[0]
    assert slope == 2 * 2 * 8 * 64 * 2            # layers x (K+V) x kv_heads x head_dim x FP16
    assert all(b - a == slope for a, b in zip(kv, kv[1:], strict=False))
    assert kv[0] == slope * steps[0].context


def test_sliding_window_caps_kv_reads() -> None:
    model = small("gemma-2-2b", num_hidden_layers=2, sliding_window=4)
    steps = trace(model, 2, 8)[1:]
    row = 2 * 4 * 256 * 2
    for s in steps:   # layer 0 slides (window 4), layer 1 is global
        assert by_class(s, write=False)["kv_cache"] == row * (min(s.context, 4) + s.context)


def test_gqa_shrinks_kv_traffic_by_heads_over_kv_heads() -> None:
    mha = small("smollm2-135m", num_hidden_layers=2, num_key_value_heads=9)
    gqa = small("smollm2-135m", num_hidden_layers=2, num_key_value_heads=3)
    kv_mha = [by_class(s)["kv_cache"] for s in trace(mha, 6, 4)[1:]]
    kv_gqa = [by_class(s)["kv_cache"] for s in trace(gqa, 6, 4)[1:]]
    assert all(a == 3 * b for a, b in zip(kv_mha, kv_gqa, strict=True))


def test_batch_shares_weights_and_multiplies_kv() -> None:
    model = small("smollm2-135m", num_hidden_layers=2)
    one, four = trace(model, 6, 3, batch=1)[1:], trace(model, 6, 3, batch=4)[1:]
    h = 576
    for a, b in zip(one, four, strict=True):
        ca, cb = by_class(a), by_class(b)
        assert cb["weights"] - ca["weights"] == 3 * h * 2   # 3 more embedding rows only
        assert cb["kv_cache"] == 4 * ca["kv_cache"]


def test_activation_spills_follow_the_buffer() -> None:
    model = small("smollm2-135m", num_hidden_layers=1)
    step = trace(model, 4, 1, buffer=0)[1]
    spilled = sum(a.nbytes for op in step.ops for a in op.accesses
                  if a.traffic_class == "activations")
    ops = [op for layer in model.layers for op in layer.operators] + list(model.head)
    assert spilled == sum(2 * (op.act_in + op.act_out) for op in ops)
    assert by_class(trace(model, 4, 1, buffer=BIG_BUFFER)[1]).get("activations") is None


def test_chunked_prefill() -> None:
    model = small("smollm2-135m", num_hidden_layers=2)
    prompt, chunk = 10, 4
    steps = trace(model, prompt, 2, chunk=chunk)
    prefill = [s for s in steps if s.phase == "prefill"]
    assert [(s.first_token, s.tokens) for s in prefill] == [(0, 4), (4, 4), (8, 2)]
    assert [s.index for s in steps] == list(range(len(steps)))
    row = 2 * 2 * 3 * 64 * 2
    writes = sum(by_class(s, write=True)["kv_cache"] for s in prefill)
    assert writes == prompt * row                    # every prompt row written once
    # a chunk reads the cached prefix and its own rows
    assert [by_class(s, write=False)["kv_cache"] for s in prefill] == \
        [row * (s.first_token + s.tokens) for s in prefill]
    # the LM head runs once, on the last chunk
    assert [any(op.operator == "lm_head" for op in s.ops) for s in prefill] == \
        [False, False, True]
    whole = trace(model, prompt, 2)
    assert steps[-2:] == [s.__class__(**{**{f: getattr(s, f) for f in
                                             ("phase", "tokens", "context", "ops")},
                                          "index": s.index + 2}) for s in whole[-2:]]


def test_paper_accounting_reads_weights_only() -> None:
    model = small("smollm2-135m", num_hidden_layers=2)
    step = trace(model, 4, 1, accounting="paper", buffer=0)[1]
    expected = decode_token_bytes(model, FP16, "paper", context=step.context, batch=1)
    assert by_class(step) == {"weights": expected.weights}
    assert expected.weights == 2 * model.num_parameters
    assert math.isclose(sum(op.flops for op in step.ops),
                        sum(op.flops for op in trace(model, 4, 1)[1].ops))
