"""Shared helpers: a tiny Llama-family model (2 layers) whose checkpoints the tests write."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qmcsim.models.load import load_model
from qmcsim.models.shape import ModelShape

TINY_LLAMA = {
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64,
    "intermediate_size": 128, "num_attention_heads": 4, "num_key_value_heads": 2,
    "num_hidden_layers": 2, "vocab_size": 256, "tie_word_embeddings": True,
    "hidden_act": "silu", "max_position_embeddings": 512, "rms_norm_eps": 1e-5,
    "attention_bias": False, "mlp_bias": False,
}


@pytest.fixture
def tiny_config(tmp_path: Path) -> Path:
    path = tmp_path / "tiny" / "config.json"
    path.parent.mkdir()
    path.write_text(json.dumps(TINY_LLAMA))
    return path


@pytest.fixture
def tiny_model(tiny_config: Path) -> ModelShape:
    return load_model(str(tiny_config), file="test", field_path="model")
