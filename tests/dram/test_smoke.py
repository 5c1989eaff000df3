"""Every preset loads, validates and serves requests through the simpy engine boundary."""

from __future__ import annotations

import pytest
import simpy

from qmcsim.errors import ConfigError
from qmcsim.memories.base import Request, registry
from qmcsim.memories.dram.memory import DramMemory
from qmcsim.memories.dram.params import DramParams, timing_cycles


def test_dram_kind_is_registered() -> None:
    assert registry()["dram"] is DramMemory


def test_preset_resolves(preset: DramParams) -> None:
    v = timing_cycles(preset)
    assert v["nBL"] * preset.timing.transfers_per_ck == preset.org.burst_length
    assert v["nREFI"] > v["nRFCab"] > 0
    assert preset.capacity_bytes == preset.org.organisation().capacity_bytes
    assert all(src for src in preset.sources.values())


def test_variant_states_only_differences(preset: DramParams) -> None:
    assert preset.org.bank_groups == 4 and preset.controller.address_mapping == "RoBaRaCoBgCh"


def test_lpddr5_is_the_default_standard_and_is_not_written_out() -> None:
    from dram_helpers import load

    p = load("lpddr5-6400-x16")
    assert p.standard == "lpddr5" and "standard" not in p.model_dump()
    assert load("ddr5-4800-x16").model_dump()["standard"] == "ddr5"


def test_unknown_standard_and_foreign_refresh_mode_are_rejected() -> None:
    from qmcsim.config.devices import load_device
    from qmcsim.errors import ConfigError

    with pytest.raises(ConfigError, match="standard"):
        load_device("lpddr5-6400-x16", {"standard": "gddr9"}, file="<t>", field_path="m")
    with pytest.raises(ConfigError, match="same_bank"):
        load_device("lpddr5-6400-x16", {"controller": {"refresh": "same_bank"}}, file="<t>",
                    field_path="m")


def test_default_fidelity_is_fast(preset: DramParams) -> None:
    assert preset.controller.fidelity == "fast"


@pytest.mark.parametrize("fidelity", ["fast", "burst"])
def test_serve_moves_bytes_and_records_stats(preset: DramParams, fidelity: str) -> None:
    env = simpy.Environment()
    params = preset.model_copy(update={
        "controller": preset.controller.model_copy(update={"fidelity": fidelity})})
    mem = DramMemory(env, "dram", params, count=2)
    done: list[tuple[str, float]] = []

    def client(name: str, req: Request) -> simpy.events.ProcessGenerator:
        yield env.process(mem.serve(req))
        done.append((name, env.now))

    env.process(client("w", Request(0, 64 * 1024, False, "weights")))
    env.process(client("kv", Request(1 << 20, 4096, True, "kv_cache")))
    env.run()
    assert sorted(n for n, _ in done) == ["kv", "w"]
    w, kv = mem.stats.of("weights"), mem.stats.of("kv_cache")
    assert w.read_bytes == 64 * 1024 and kv.write_bytes == 4096
    assert w.row_hits + w.row_misses + w.row_conflicts == \
        64 * 1024 // preset.org.organisation().burst_bytes
    assert w.dynamic_energy_pj > 0 and mem.background_energy_pj() > 0


def test_fast_mode_has_no_command_log(preset: DramParams) -> None:
    with pytest.raises(ConfigError, match="command logs need"):
        DramMemory(simpy.Environment(), "dram", preset, count=1, log_commands=True)
