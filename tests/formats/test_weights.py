"""Weight sources: GGUF (written here with gguf.GGUFWriter), safetensors, synthetic."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

from qmcsim.errors import ConfigError
from qmcsim.formats.base import format_registry
from qmcsim.formats.measure import measure_model
from qmcsim.models.shape import Tensor
from qmcsim.weights.names import gguf_to_model, hf_to_model
from qmcsim.weights.source import SyntheticSource, open_weights
from qmcsim.weights.synthetic import synthetic_weights


def test_name_mapping():
    assert gguf_to_model("blk.3.attn_q.weight") == "layers.3.q_proj"
    assert gguf_to_model("blk.0.ffn_norm.weight") == "layers.0.post_attention_layernorm"
    assert gguf_to_model("token_embd.weight") == "embed_tokens"
    assert gguf_to_model("output_norm.weight") == "norm"
    assert gguf_to_model("blk.0.something_else.weight") is None
    assert hf_to_model("model.layers.3.self_attn.q_proj.weight") == "layers.3.q_proj"
    assert hf_to_model("model.layers.3.self_attn.q_proj.bias") == "layers.3.q_proj.bias"
    assert hf_to_model("model.layers.0.mlp.down_proj.weight") == "layers.0.down_proj"
    assert hf_to_model("model.embed_tokens.weight") == "embed_tokens"


def _gguf_name(name: str) -> str:
    inverse = {"q_proj": "attn_q", "k_proj": "attn_k", "v_proj": "attn_v",
               "o_proj": "attn_output", "gate_proj": "ffn_gate", "up_proj": "ffn_up",
               "down_proj": "ffn_down", "input_layernorm": "attn_norm",
               "post_attention_layernorm": "ffn_norm"}
    if name == "embed_tokens":
        return "token_embd.weight"
    if name == "norm":
        return "output_norm.weight"
    _, layer, part = name.split(".")
    return f"blk.{layer}.{inverse[part]}.weight"


def test_gguf_reading_f32_and_q8_0(tiny_model, tmp_path: Path):
    gguf = pytest.importorskip("gguf")
    path = tmp_path / "tiny.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    expected = {}
    q8 = gguf.GGMLQuantizationType.Q8_0
    for t in tiny_model.tensors:
        w = synthetic_weights(t, seed=3).reshape(t.rows, t.cols) if t.cols > 1 \
            else np.ones(t.rows, dtype=np.float32)
        if t.name.endswith("up_proj"):
            packed = gguf.quants.quantize(w, q8)
            writer.add_tensor(_gguf_name(t.name), packed, raw_dtype=q8)
            # Q8_0: step d = block amax / 127 in FP16: error <= d / 2 + 127 d 2**-11
            expected[t.name] = (w, np.abs(w).max(axis=1, keepdims=True) / 127 * 0.57)
        else:
            writer.add_tensor(_gguf_name(t.name), w)
            expected[t.name] = (w, 0.0)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()

    source = open_weights(str(path), tiny_model, 0, file="test", field_path="weights")
    for t in tiny_model.tensors:
        got = source.get(t)
        w, tol = expected[t.name]
        assert got.shape == (t.rows, t.cols)
        assert np.all(np.abs(got - w.reshape(t.rows, t.cols)) <= tol + 1e-7), t.name


def _write_safetensors(path: Path, arrays: dict[str, tuple[str, np.ndarray]]) -> None:
    """Minimal writer from the format spec (header length, JSON header, raw data)."""
    header, blobs, offset = {}, [], 0
    for name, (dtype, raw) in arrays.items():
        data = raw.tobytes()
        header[name] = {"dtype": dtype, "shape": list(raw.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def test_safetensors_f32_f16_bf16(tiny_model, tmp_path: Path):
    arrays, expected = {}, {}
    for i, t in enumerate(tiny_model.tensors):
        w = synthetic_weights(t, seed=1).reshape(t.rows, t.cols)
        name = "model." + t.name.replace("q_proj", "self_attn.q_proj") + ".weight"
        if i % 3 == 0:
            arrays[name] = ("F32", w)
            expected[t.name] = w
        elif i % 3 == 1:
            arrays[name] = ("F16", w.astype(np.float16))
            expected[t.name] = w.astype(np.float16).astype(np.float32)
        else:  # BF16: the top 16 bits of the float32
            arrays[name] = ("BF16", (w.view(np.uint32) >> 16).astype(np.uint16))
            expected[t.name] = ((w.view(np.uint32) >> 16) << 16).view(np.float32)
    path = tmp_path / "model.safetensors"
    _write_safetensors(path, arrays)
    source = open_weights(str(path), tiny_model, 0, file="test", field_path="weights")
    for t in tiny_model.tensors:
        assert np.array_equal(source.get(t), expected[t.name]), t.name
    folder = open_weights(str(tmp_path), tiny_model, 0, file="test", field_path="weights")
    assert np.array_equal(folder.get(tiny_model.tensors[2]), expected[tiny_model.tensors[2].name])


def test_bad_weight_specs_are_config_errors(tiny_model, tmp_path: Path):
    with pytest.raises(ConfigError, match="does not exist"):
        open_weights(str(tmp_path / "nope.gguf"), tiny_model, 0, file="f", field_path="weights")
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not a gguf file at all")
    with pytest.raises(ConfigError, match="GGUF"):
        open_weights(str(junk), tiny_model, 0, file="f", field_path="weights")


def test_synthetic_weights_seeded_and_heavy_tailed():
    t = Tensor(name="layers.1.up_proj", tensor_class="mlp", layer=1, rows=1024, cols=1024)
    a, b = synthetic_weights(t, 5), synthetic_weights(t, 5)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, synthetic_weights(t, 6))
    z = np.abs(a) / a.std()
    beyond3 = (z > 3).mean()
    assert 0.004 < beyond3 < 0.015        # Gaussian: 0.27 %
    kurt = ((a / a.std()) ** 4).mean()
    assert kurt > 3.5
    spiky = synthetic_weights(t, 5, spike_rate=1e-5)
    assert (np.abs(spiky) * np.sqrt(1024) >= 29.99).sum() >= 1


def test_measured_squeezellm_counts_come_from_the_weights(tiny_model):
    sq = format_registry()["squeezellm"](iqr_range=1.8)
    qmc = format_registry()["qmc"](index="none")
    source = SyntheticSource(11)
    m = measure_model([sq, qmc], tiny_model, source, "full")
    for t in tiny_model.tensors:
        if not t.quantizable:
            continue
        w = source.get(t)
        q1, q3 = np.quantile(w, [0.25, 0.75])
        n = int((np.abs(w) > q3 + 1.8 * (q3 - q1)).sum())
        (values,) = [c for c in m.layouts[0][t.name] if c.name == "outlier_values"]
        assert values.elements == n
        assert m.layouts[1][t.name] == qmc.layout(t, "full")     # not data-dependent
    assert m.measured_tensors == sum(t.quantizable for t in tiny_model.tensors)
