"""Config loading: presets, sources, extends, overrides."""

from __future__ import annotations

import pytest

from qmcsim.config.devices import load_device
from qmcsim.config.overrides import apply_overrides, parse_path
from qmcsim.config.presets import available
from qmcsim.config.sourced import rewrap_sourced, unwrap_sourced
from qmcsim.errors import ConfigError


def test_every_device_preset_loads_with_a_source_for_every_number():
    for name in available("devices"):
        params = load_device(name, file="t", field_path="x")
        numeric = [k for k, v in params.model_dump().items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool)]
        missing = [k for k in numeric if k not in params.sources]
        assert not missing, f"{name}: no source for {missing}"


def test_variant_states_only_what_differs():
    base = load_device("qmc-reram-3b", file="t", field_path="x")
    two = load_device("qmc-reram-2b", file="t", field_path="x")
    assert two.bits_per_cell == 2 and two.capacity_bytes == 256 * 256 * 2 // 8
    assert two.read_energy_pj_per_bit == base.read_energy_pj_per_bit
    assert two.sources["read_energy_pj_per_bit"] == base.sources["read_energy_pj_per_bit"]


def test_run_config_overrides_are_attributed():
    p = load_device("lpddr5-orin", {"read_latency_ns": 12.0}, file="run.yaml",
                    field_path="systems[0].memories.dram")
    assert p.read_latency_ns == 12.0
    assert "override in run.yaml" in p.sources["read_latency_ns"]


def test_bare_number_in_preset_is_rejected():
    with pytest.raises(ConfigError, match=r"f.yaml: a\.b: expected \{value: 3"):
        unwrap_sourced({"a": {"b": 3}}, file="f.yaml")


def test_sourced_round_trip():
    raw = {"x": {"value": 1.5, "source": "s1"}, "n": {"y": {"value": [1, 2], "source": "s2"}},
           "kind": "sram"}
    values, sources = unwrap_sourced(raw, file="f")
    assert values == {"x": 1.5, "n": {"y": [1, 2]}, "kind": "sram"}
    assert rewrap_sourced(values, sources) == raw


def test_override_paths():
    assert parse_path("systems[1].format.rho") == ["systems", "1", "format", "rho"]
    raw = {"systems": [{"name": "a", "f": 1}, {"name": "b", "f": 2}], "w": {"n": 1}}
    out = apply_overrides(raw, ["systems.b.f=5", "systems[0].f=[1, 2]", "w.n=3"])
    assert out["systems"][1]["f"] == 5 and out["systems"][0]["f"] == [1, 2]
    assert out["w"]["n"] == 3 and raw["w"]["n"] == 1     # input untouched
    with pytest.raises(ConfigError, match="--set: no-equals-sign"):
        apply_overrides(raw, ["no-equals-sign"])
