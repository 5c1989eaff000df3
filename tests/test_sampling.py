"""Sampled decode (workload.decode_sampling: stride) against exhaustive simulation.

Small models of three families (Llama-style SmolLM2, Qwen2.5 with grouped KV heads, Hymba with
SSM state and a sliding window that starts capping the KV reads mid-decode), the three systems
of the main example config (command-level LPDDR5 in fast mode, ReRAM, MRAM). The headline
metrics must agree within the 0.5 % the README states; the per-step tables keep one row per
step, interpolated ones marked.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import qmcsim
from qmcsim.config.presets import load_raw_preset
from qmcsim.engine.sampling import auto_stride, sampled_indices

ROOT = Path(__file__).resolve().parents[1]
TOL = 0.005   # README: sampled decode within 0.5 % of exhaustive
HEADLINE = ("decode_ms_per_token", "ttft_ms", "energy_per_token_uj")

SMALL = {   # a few layers, a small vocabulary: the shapes of each family, not their size
    "smollm2-135m": {"num_hidden_layers": 2, "vocab_size": 1024},
    "qwen2.5-0.5b": {"num_hidden_layers": 2, "vocab_size": 1024},
    "hymba-1.5b": {"vocab_size": 1024, "sliding_window": 24, "global_attn_idx": [0],
                   "num_memory_tokens": 4},
}


def _model_file(tmp_path: Path, name: str) -> Path:
    if name == "hymba-1.5b":   # the committed 2-layer Hymba (layer lists already cut)
        cfg = json.loads((ROOT / "hw_configs/bench/hymba-1.5b-2layers.json").read_text())
    else:
        raw, _ = load_raw_preset("models", name, file="test", field_path="model")
        cfg = dict(raw["config"])
    cfg.update(SMALL[name])
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(cfg))
    return path


def _run(model: Path, sampling: str, stride: str = "auto") -> qmcsim.RunResult:
    return qmcsim.run(ROOT / "hw_configs/hymba-qmc.yaml", [
        f"model={model}", "workload.prompt_tokens=16", "workload.generate_tokens=33",
        f"workload.decode_sampling={sampling}", f"workload.decode_stride={stride}"])


@pytest.mark.parametrize("name", sorted(SMALL))
def test_sampled_decode_matches_exhaustive(tmp_path: Path, name: str) -> None:
    model = _model_file(tmp_path, name)
    exact, sampled = _run(model, "exhaustive"), _run(model, "stride")
    a = exact.summary.set_index("system")
    b = sampled.summary.set_index("system")
    for metric in HEADLINE:
        for system in a.index:
            assert b.loc[system, metric] == pytest.approx(a.loc[system, metric], rel=TOL), \
                (system, metric)
    # one row per step; bytes and requests counted exactly, interpolated steps marked
    sa, sb = exact.per_step, sampled.per_step
    assert len(sa) == len(sb)
    assert sa.simulated.all()
    decode = sb[sb.phase == "decode"]
    stride = auto_stride(33)
    for _system, rows in decode.groupby("system"):
        assert rows.simulated.to_numpy().nonzero()[0].tolist() == sampled_indices(33, stride)
    cols = ["system", "step", "memory", "traffic_class", "read_bytes", "write_bytes",
            "requests"]
    assert sampled.traffic[cols].equals(exact.traffic[cols])
    # the calibrated accelerator's energy (class `compute`) of skipped steps is interpolated
    # like the memories' energies
    ea, eb = (r.traffic[r.traffic.traffic_class == "compute"].groupby("system").energy_pj.sum()
              for r in (exact, sampled))
    assert len(ea) == len(a.index) and (ea > 0).all()
    assert eb.to_dict() == pytest.approx(ea.to_dict(), rel=TOL)


def test_stride_one_is_exhaustive(tmp_path: Path) -> None:
    model = _model_file(tmp_path, "smollm2-135m")
    exact, one = _run(model, "exhaustive"), _run(model, "stride", "1")
    assert one.summary.equals(exact.summary)


def test_sampled_indices_keep_first_and_last() -> None:
    assert sampled_indices(10, 4) == [0, 4, 8, 9]
    assert sampled_indices(9, 4) == [0, 4, 8]
    assert sampled_indices(1, 4) == [0]
    assert auto_stride(1) == 1 and auto_stride(33) == 8 and auto_stride(1024) == 256


@pytest.mark.parametrize("buffer", [None, "sram"])
def test_exact_counts_of_a_skipped_step_are_the_requests_it_would_issue(buffer) -> None:
    from qmcsim.config.schema import WorkloadConfig
    from qmcsim.engine.counts import StepCounts
    from qmcsim.engine.simulate import Replay
    from qmcsim.formats.fp16 import Fp16Format
    from qmcsim.models.hf import build_model
    from qmcsim.trace.standalone import standalone_builder

    raw, _ = load_raw_preset("models", "smollm2-135m", file="test", field_path="model")
    model = build_model({**raw["config"], **SMALL["smollm2-135m"]}, name="m", source="test")
    steps = list(standalone_builder(model, WorkloadConfig(prompt_tokens=4, generate_tokens=2),
                                    Fp16Format(), accounting="full",
                                    onchip_buffer_bytes=64).steps())
    replay = Replay.__new__(Replay)
    replay.onchip_buffer = buffer
    counter = StepCounts(buffer)
    for step in steps:
        want: dict[tuple[str, str], list[int]] = {}
        for op in step.ops:
            for memory, req, _ in replay._requests(op):
                row = want.setdefault((memory, req.traffic_class), [0, 0, 0])
                row[0] += 1
                row[1 + req.is_write] += req.nbytes
        for _ in range(2):   # counted, then from the remembered operators
            got = {k: [v.requests, v.read_bytes, v.write_bytes]
                   for k, v in counter.of(step).items()}
            assert got == want


@pytest.mark.parametrize("name", sorted(SMALL))
def test_shared_operators_are_the_ones_a_fresh_builder_makes(name: str) -> None:
    """Every step shares its position-free operators with the other steps of its size; its
    operators equal, by value, those a builder that made no step before would make."""
    from qmcsim.config.schema import WorkloadConfig
    from qmcsim.formats.fp16 import Fp16Format
    from qmcsim.models.hf import build_model
    from qmcsim.trace.standalone import standalone_builder

    raw, _ = load_raw_preset("models", name, file="test", field_path="model")
    model = build_model({**raw["config"], **SMALL[name]}, name="m", source="test")
    work = WorkloadConfig(prompt_tokens=5, generate_tokens=4, prefill_chunk_tokens=2)

    def builder():
        return standalone_builder(model, work, Fp16Format(), accounting="full",
                                  onchip_buffer_bytes=64)

    steps = list(builder().steps())
    for step in steps:
        fresh = builder()._step(step.index, step.phase, first=step.first_token,
                                count=step.tokens, head=step.phase == "decode"
                                or step.context == model.meta_tokens + work.prompt_tokens)
        assert fresh == step
    a, b = steps[-2], steps[-1]
    kinds = [op.operator for op in a.ops]
    shared = [x is y for x, y in zip(a.ops, b.ops, strict=True)]
    assert sum(shared) == len(shared) - sum(
        1 for layer in model.layers for op in layer.operators
        if op.kind == "attention" and layer.attention is not None)
    assert all(s or "attn" in k or "attention" in k for s, k in zip(shared, kinds, strict=True))
