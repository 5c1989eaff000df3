"""The resolver's caches (validated device presets, built model shapes): a sweep resolves the
same presets and model for every point, so each is validated once per process. A cache entry
is keyed by the content it was built from: an edited file is validated again, never served
stale."""

from __future__ import annotations

import json

import yaml

from qmcsim.config.devices import load_device
from qmcsim.models.load import load_model
from tests.conftest import ROOT


def _preset_folder(tmp_path, monkeypatch, static_power_mw: float):
    devices = tmp_path / "presets" / "devices"
    devices.mkdir(parents=True, exist_ok=True)
    raw = yaml.safe_load((ROOT / "hw_configs" / "devices" / "qmc-mram.yaml").read_text())
    raw["name"] = "lab-mram"
    raw["static_power_mw"] = {"value": static_power_mw, "source": "test"}
    (devices / "lab-mram.yaml").write_text(yaml.safe_dump(raw))
    monkeypatch.setenv("QMCSIM_HW_CONFIGS", str(devices.parent))


def test_a_preset_is_validated_once_and_an_edited_preset_again(tmp_path, monkeypatch):
    _preset_folder(tmp_path, monkeypatch, 100.0)
    where = {"file": "run.yaml", "field_path": "systems[1].memories.mram"}
    first = load_device("lab-mram", **where)
    assert load_device("lab-mram", **where) is first   # served from the cache
    assert first.static_power_mw == 100.0

    _preset_folder(tmp_path, monkeypatch, 250.0)        # same name, same path, new content
    edited = load_device("lab-mram", **where)
    assert edited.static_power_mw == 250.0

    over = {"static_power_mw": {"value": 7.0, "source": "s"}}
    overridden = load_device("lab-mram", over, **where)
    assert overridden.static_power_mw == 7.0 and load_device("lab-mram", **where) is edited
    # where an override is written is part of the record (its default source names it)
    elsewhere = load_device("lab-mram", {"static_power_mw": 7.0}, file="other.yaml",
                            field_path="systems[0].memories.mram")
    assert "other.yaml" in elsewhere.sources["static_power_mw"]
    assert load_device("lab-mram", {"static_power_mw": 7.0}, **where).sources[
        "static_power_mw"] != elsewhere.sources["static_power_mw"]


def test_a_model_is_built_once_and_an_edited_config_json_again(tmp_path):
    cfg = yaml.safe_load((ROOT / "hw_configs" / "models" / "opt-125m.yaml").read_text())
    config = tmp_path / "config.json"
    config.write_text(json.dumps(cfg["config"]))
    where = {"file": "run.yaml", "field_path": "model"}
    first = load_model(str(config), **where)
    assert load_model(str(config), **where) is first
    assert first.num_layers == 12

    config.write_text(json.dumps({**cfg["config"], "num_hidden_layers": 2}))
    assert load_model(str(config), **where).num_layers == 2


def test_a_model_preset_is_built_once():
    where = {"file": "run.yaml", "field_path": "model"}
    assert load_model("opt-125m", **where) is load_model("opt-125m", **where)


def test_last_used_keeps_the_most_recently_used_entries():
    import pytest

    from qmcsim.errors import InternalError
    from qmcsim.lru import LastUsed

    built: list[str] = []

    def build(key: str):
        return lambda: built.append(key) or key.upper()

    memo: LastUsed[str, str] = LastUsed(2)
    assert memo.get_or_build("a", build("a")) == "A"
    memo.get_or_build("b", build("b"))
    assert memo.get_or_build("a", build("a")) == "A"   # a hit, and now the most recent
    memo.get_or_build("c", build("c"))                  # evicts b, the least recently used
    assert list(memo) == ["a", "c"] and built == ["a", "b", "c"]
    memo.get_or_build("b", build("b"))
    assert built == ["a", "b", "c", "b"] and list(memo) == ["c", "b"]
    with pytest.raises(InternalError, match="kept"):
        LastUsed(0)
