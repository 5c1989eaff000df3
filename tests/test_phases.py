"""The phase boundary of the memory contract (`Memory.start_phase`): a system's memories are
built once, load the weights at power-on (the cold start), idle, and serve inference from the
idle state a freshly built memory has: open rows closed, queues empty, refresh and standby
counted from the phase's start, statistics per phase."""

from __future__ import annotations

import dataclasses
from collections.abc import Generator

import pytest
import simpy

from qmcsim.config.devices import load_device
from qmcsim.config.loader import load_run
from qmcsim.engine.sampling import decode_stride
from qmcsim.engine.simulate import Replay
from qmcsim.errors import SimulationError
from qmcsim.memories.base import Memory, MemoryUnits, Request, build_memories, start_phase
from qmcsim.runner import (onchip_capacity_bytes, prepare, simulate_cold_start,
                           simulate_system)
from qmcsim.trace.generate import TraceBuilder
from tests.conftest import DATA

KIB = 1024
# (preset, preset overrides, count): command-level DRAM in both fidelities, queued devices
MEMORIES = {
    "dram-fast": ("lpddr5-6400-x16", {"controller": {"fidelity": "fast"}}, 2),
    "dram-burst": ("lpddr5-6400-x16", {"controller": {"fidelity": "burst"}}, 2),
    "hbm3-fast": ("hbm3-6400-pc", None, 1),
    "reram": ("qmc-reram-2b", None, 2),
    "flash": ("ufs4-nand", None, 1),
}


def _memory(key: str) -> Memory:
    name, overrides, count = MEMORIES[key]
    params = load_device(name, overrides, file="<test>", field_path="memories.m")
    return MemoryUnits(name="m", params=params, count=count).build(simpy.Environment())


def _workload(mem: Memory, requests: list[tuple[float, int, int, bool]]
              ) -> tuple[list[float], dict[str, dict[str, float]], float]:
    """Run (delay ticks, address, bytes, is_write) requests; (completion times, statistics,
    static energy)."""
    env = mem.env
    done: list[float] = []

    def one(delay: float, r: Request) -> Generator[simpy.Event, object, None]:
        yield env.timeout(delay)
        yield env.process(mem.serve(r))
        done.append(env.now)

    for delay, address, nbytes, is_write in requests:
        env.process(one(delay, Request(address=address, nbytes=nbytes, is_write=is_write,
                                       traffic_class="kv_cache" if is_write else "weights")))
    env.run()
    stats = {c: dataclasses.asdict(s) for c, s in mem.stats.per_class.items()}
    return done, stats, mem.static_energy_pj()


# the boot leaves rows open in the banks the inference then reads, mid refresh interval
BOOT = [(0.0, 0, 512 * KIB, True), (0.0, 512 * KIB, 256 * KIB, False)]
INFERENCE = [(0.0, 0, 8 * KIB, False), (0.0, 64 * KIB, 4 * KIB, True),
             (2_000_000.0, 8 * KIB, 16 * KIB, False), (9_000_000.0, 0, 2 * KIB, False)]


@pytest.mark.parametrize("key", sorted(MEMORIES))
def test_a_new_phase_serves_as_a_freshly_built_memory(key: str) -> None:
    fresh = _workload(_memory(key), INFERENCE)
    booted = _memory(key)
    _workload(booted, BOOT)
    start_phase({"m": booted}, simpy.Environment())
    assert booted.stats.per_class == {} and booted.static_energy_pj() == 0.0
    assert _workload(booted, INFERENCE) == fresh


@pytest.mark.parametrize("key", ["dram-fast", "dram-burst"])
def test_without_the_boundary_the_boot_would_change_the_dram_figures(key: str) -> None:
    """Why the boundary exists: the weight load leaves open rows, a refresh phase and elapsed
    standby time behind; continuing on its clock gives other figures."""
    fresh = _workload(_memory(key), INFERENCE)
    booted = _memory(key)
    _workload(booted, BOOT)
    start = booted.env.now
    done, stats, _ = _workload(booted, INFERENCE)
    assert [t - start for t in done] != fresh[0] or stats != fresh[1]


@pytest.mark.parametrize("key", sorted(MEMORIES))
def test_no_phase_boundary_with_requests_in_flight(key: str) -> None:
    mem = _memory(key)
    env = mem.env
    env.process(mem.serve(Request(address=0, nbytes=256 * KIB, is_write=False,
                                  traffic_class="weights")))
    env.run(until=1000.0)   # 1 ns into a transfer of microseconds
    with pytest.raises(SimulationError, match="in flight"):
        mem.start_phase(simpy.Environment())


def test_a_phase_starts_at_time_zero() -> None:
    mem = _memory("reram")
    env = simpy.Environment(initial_time=5.0)
    with pytest.raises(SimulationError, match="time zero"):
        mem.start_phase(env)


def _flash_config(tmp_path):   # tiny.yaml with a Flash copy the baseline loads from
    text = (DATA / "tiny.yaml").read_text()
    old = "      dram: {preset: lpddr5-orin, count: 16}\n    placement: {codes: dram,"
    assert old in text
    text = text.replace(old, "      dram: {preset: lpddr5-orin, count: 16}\n"
                        "      flash: {preset: ufs4-nand, count: 1}\n"
                        "    placement: {weights_copy: flash, codes: dram,", 1)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(text)
    return load_run(cfg)


def test_cold_start_and_inference_run_on_one_set_of_memories(tmp_path) -> None:
    """simulate_system builds the memories once; its cold start and its inference equal each
    phase simulated on memories of their own."""
    run = _flash_config(tmp_path)
    system, placement = prepare(run)[0]
    result = simulate_system(run, system, placement)
    alone = simulate_cold_start(system, placement,
                                build_memories(simpy.Environment(), placement.hardware))
    assert result.cold_start == alone and result.cold_start.time_ns > 0
    memories = build_memories(simpy.Environment(), placement.hardware)
    steps = TraceBuilder(run.model, placement, run.config.workload, run.config.accounting,
                         onchip_capacity_bytes(system, placement)).steps()
    trace = Replay(memories, system.compute, system.config.format.compute_precision,
                   system.config.merge_sync_ns, onchip_buffer=system.config.onchip_buffer,
                   batch=run.config.workload.batch,
                   include_static=run.config.accounting == "full",
                   decode_stride=decode_stride(run.config.workload)).run(steps)
    assert result.trace == trace


def test_the_cold_start_needs_fresh_memories(tmp_path) -> None:
    run = _flash_config(tmp_path)
    system, placement = prepare(run)[0]
    memories = build_memories(simpy.Environment(), placement.hardware)
    simulate_cold_start(system, placement, memories)
    with pytest.raises(SimulationError, match="fresh memories"):
        simulate_cold_start(system, placement, memories)
