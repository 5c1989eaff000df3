"""Every preset loads, validates and serves requests through the simpy engine boundary."""

from __future__ import annotations

import pytest
import simpy

from qmcsim.memories.base import Request, registry
from qmcsim.memories.dram.memory import DramMemory
from qmcsim.memories.dram.params import DramParams, timing_cycles


def test_dram_kind_is_registered() -> None:
    assert registry()["dram"] is DramMemory


def test_preset_resolves(preset: DramParams) -> None:
    v = timing_cycles(preset)
    assert v["nBL"] == 2 and v["nREFI"] > v["nRFCab"] > 0
    assert preset.capacity_bytes == 2**30
    assert all(src for src in preset.sources.values())


def test_variant_states_only_differences(preset: DramParams) -> None:
    assert preset.org.bank_groups == 4 and preset.controller.address_mapping == "RoBaRaCoBgCh"


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
    assert w.row_hits + w.row_misses + w.row_conflicts == 64 * 1024 // 32
    assert w.dynamic_energy_pj > 0 and mem.background_energy_pj() > 0


def test_fast_mode_has_no_command_log(preset: DramParams) -> None:
    with pytest.raises(ValueError, match="command logs need"):
        DramMemory(simpy.Environment(), "dram", preset, count=1, log_commands=True)
