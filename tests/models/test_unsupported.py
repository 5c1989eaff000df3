"""A config.json no builder maps fails with UnsupportedModel naming the field; the loader turns
it into a ConfigError naming the file and the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qmcsim.config.presets import load_raw_preset
from qmcsim.errors import ConfigError
from qmcsim.models.hf import UnsupportedModel, build_model
from qmcsim.models.load import load_model


def preset_config(name: str) -> dict:
    raw, _ = load_raw_preset("models", name, file="test", field_path="model")
    return dict(raw["config"])


@pytest.mark.parametrize(("name", "change", "field"), [
    ("smollm2-135m", {"model_type": "mamba"}, "model_type"),
    ("smollm2-135m", {"model_type": None}, "model_type"),
    ("smollm2-135m", {"hidden_size": None}, "hidden_size"),
    ("smollm2-135m", {"num_key_value_heads": "three"}, "num_key_value_heads"),
    ("gemma-2-2b", {"layer_types": ["sliding_attention", "linear_attention"] * 13},
     "layer_types"),
    ("hymba-1.5b", {"layer_type": ["h"] * 31 + ["a"]}, "layer_type"),
    ("hymba-1.5b", {"num_experts": 4}, "num_experts"),
    ("hymba-1.5b", {"kv_reuse_group": [[1, 99]]}, "kv_reuse_group"),
])
def test_unmappable_field_is_named(name: str, change: dict, field: str) -> None:
    cfg = {**preset_config(name), **change}
    cfg = {k: v for k, v in cfg.items() if v is not None}
    with pytest.raises(UnsupportedModel) as info:
        build_model(cfg, name="x", source="test")
    assert info.value.field == field


def test_loader_names_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**preset_config("smollm2-135m"), "model_type": "rwkv"}))
    with pytest.raises(ConfigError) as info:
        load_model(str(path), file="run.yaml", field_path="model")
    message = str(info.value)
    assert str(path) in message and "model_type" in message and "rwkv" in message
    assert "\n" not in message
