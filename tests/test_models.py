"""Model presets: parameter counts against the published ones; config.json loading."""

from __future__ import annotations

import json

import pytest

from qmcsim.config.presets import available
from qmcsim.errors import ConfigError
from qmcsim.models.load import load_model

REQUIRED = ["hymba-1.5b", "qwen2.5-1.5b", "llama-3.2-3b", "phi-1.5", "llama-3.2-1b",
            "smollm2-135m"]


def test_required_presets_ship():
    assert set(REQUIRED) <= set(available("models"))


@pytest.mark.parametrize("name", available("models"))
def test_parameter_count_matches_published(name):
    model = load_model(name, file="test", field_path="model")
    assert model.published_parameters, f"{name} has no published parameter count"
    assert model.num_parameters == pytest.approx(model.published_parameters, rel=0.005)


def test_config_json_path(tmp_path):
    cfg = {"model_type": "llama", "hidden_size": 64, "num_attention_heads": 4,
           "num_key_value_heads": 2, "intermediate_size": 128, "vocab_size": 100,
           "num_hidden_layers": 2, "tie_word_embeddings": False}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    model = load_model(str(path), file="t", field_path="model")
    # per layer: q 64x64, k,v 32x64 each, o 64x64, gate/up 128x64, down 64x128, 2 norms of 64
    per_layer = 64 * 64 * 2 + 32 * 64 * 2 + 3 * 128 * 64 + 2 * 64
    assert model.num_parameters == 2 * per_layer + 100 * 64 * 2 + 64


def test_unsupported_architecture_names_the_field(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"model_type": "mamba2", "hidden_size": 8}))
    with pytest.raises(ConfigError, match="model_type"):
        load_model(str(path), file="t", field_path="model")


def test_hymba_structure():
    m = load_model("hymba-1.5b", file="t", field_path="model")
    owners = [layer.index for layer in m.layers if layer.owns_kv]
    assert len(owners) == 17 and {0, 15, 31} <= set(owners)
    assert m.layers[0].attention.window is None            # global layer
    assert m.layers[1].attention.window == 1024 + 128       # sliding window + meta tokens
    assert m.meta_tokens == 128
