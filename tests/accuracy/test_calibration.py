"""Calibration: seeded, disjoint windows; the hooks' statistics equal X^T X / n of the layers'
real inputs; the calibrated variants run end to end on a tiny Llama and beat RTN on the same
grid in layer-output error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from qmcsim.accuracy.calibration import collect, overlap_share, select_samples  # noqa: E402
from qmcsim.accuracy.config import load_accuracy  # noqa: E402
from qmcsim.accuracy.evaluate import run_accuracy  # noqa: E402
from qmcsim.errors import ConfigError  # noqa: E402
from qmcsim.accuracy.model import weight_targets  # noqa: E402

TEMPEST = Path(__file__).resolve().parents[2] / "qmcsim" / "accuracy" / "data" / "tempest.txt"


def tiny_llama():
    torch.manual_seed(0)
    cfg = transformers.LlamaConfig(vocab_size=96, hidden_size=64, intermediate_size=128,
                                   num_hidden_layers=1, num_attention_heads=4,
                                   num_key_value_heads=2, max_position_embeddings=128,
                                   tie_word_embeddings=True)
    return transformers.LlamaForCausalLM(cfg).eval()


def test_selection_is_seeded_and_inside_the_texts() -> None:
    lengths = {"a": 1000, "b": 300, "short": 50}
    s1 = select_samples(lengths, 20, 64, seed=3)
    assert s1 == select_samples(lengths, 20, 64, seed=3)
    assert s1 != select_samples(lengths, 20, 64, seed=4)
    assert all(s.source != "short" and 0 <= s.offset <= lengths[s.source] - 64 for s in s1)
    with pytest.raises(ValueError):
        select_samples({"short": 50}, 2, 64, seed=0)


def test_overlap_detects_the_same_play_not_another_one() -> None:
    tempest = TEMPEST.read_text(encoding="utf-8")
    half = len(tempest) // 2
    assert overlap_share(tempest[half:], tempest) > 0.99
    assert overlap_share(tempest[half:], tempest[:half]) < 0.01     # the split the docs name


def test_hooks_accumulate_each_layers_input_second_moment() -> None:
    model = tiny_llama()
    targets = weight_targets(model, include_embeddings=False)
    gen = np.random.default_rng(0)
    batches = [torch.tensor(gen.integers(0, 96, size=40)) for _ in range(3)]
    stats = collect(model, targets, batches)
    assert set(stats) == {name for name, _ in targets}
    layer = "model.layers.0"
    # q, k, v read the same input: one shared statistic; gate and up too
    assert stats[f"{layer}.self_attn.q_proj.weight"] is stats[f"{layer}.self_attn.v_proj.weight"]
    assert stats[f"{layer}.mlp.gate_proj.weight"] is stats[f"{layer}.mlp.up_proj.weight"]
    assert stats[f"{layer}.mlp.down_proj.weight"].cols == 128
    # against the inputs captured directly
    seen: list[torch.Tensor] = []
    down = model.model.layers[0].mlp.down_proj
    h = down.register_forward_pre_hook(lambda m, i: seen.append(i[0].reshape(-1, 128)))
    with torch.inference_mode():
        for b in batches:
            model(b.unsqueeze(0))
    h.remove()
    x = torch.cat(seen).double().numpy()
    st = stats[f"{layer}.mlp.down_proj.weight"]
    assert st.samples == 120
    assert np.allclose(st.hessian, x.T @ x / 120, rtol=1e-4, atol=1e-6)
    assert np.allclose(st.mean_abs, np.abs(x).mean(axis=0), rtol=1e-6)


def test_calibrated_variants_end_to_end(tmp_path: Path) -> None:
    raw = {"name": "cal", "model": {"hf_dir": "unused"}, "tokens": 96, "context_tokens": 48,
           "seeds": [0], "calibration": {"texts": ["unused.txt"], "sequences": 8,
                                         "sequence_tokens": 48},
           "variants": [
               {"name": "rtn-g32", "format": {"kind": "rtn", "bits": 4, "group_size": 32}},
               {"name": "gptq", "format": {"kind": "awq_gptq", "group_size": 32,
                                           "act_order": True}},
               {"name": "awq", "format": {"kind": "awq_gptq", "algorithm": "awq",
                                          "group_size": 32}},
               {"name": "squeezellm", "format": {"kind": "squeezellm", "bits": 4}},
               {"name": "spqr", "format": {"kind": "spqr", "bits": 4}}]}
    path = tmp_path / "cal.yaml"
    path.write_text(yaml.safe_dump(raw))
    resolved = load_accuracy(path)
    model = tiny_llama()
    targets = weight_targets(model, include_embeddings=False)
    gen = np.random.default_rng(1)
    stats = collect(model, targets, [torch.tensor(gen.integers(0, 96, size=48))
                                     for _ in range(8)])
    with pytest.raises(ConfigError, match="calibration"):
        run_accuracy(resolved, model, torch.tensor(gen.integers(0, 96, size=96)), targets)
    result = run_accuracy(resolved, model, torch.tensor(gen.integers(0, 96, size=96)), targets,
                          calibration=stats)
    out = result.tensors.groupby("variant")["rel_out_err_quant"].mean()
    assert out["gptq"] < out["rtn-g32"] and out["awq"] < out["rtn-g32"]
    assert out["spqr"] < out["rtn-g32"]
    assert np.isfinite(result.runs["perplexity"]).all()
    bits = result.summary.set_index("variant")["bits_per_weight"]
    # 4 + (16 + 4) / 32 per group; GPTQ adds g_idx: 32 bits per input column per matrix
    assert bits["rtn-g32"] == pytest.approx(4 + 20 / 32)
    assert bits["gptq"] > bits["rtn-g32"]
    assert bits["spqr"] > 4 + 8 / 16
