"""Flash: page-granular streams follow the formula; the cold start loads the persistent copy."""

from __future__ import annotations

import math

import pytest
import simpy

from qmcsim.config.devices import load_device
from qmcsim.config.loader import load_run
from qmcsim.memories.base import MemoryUnits, build_memories
from qmcsim.memories.base import Request
from qmcsim.memories.flash import FlashMemory, array_bandwidth_gb_per_s, stream_ns
from qmcsim.runner import prepare, simulate_cold_start
from qmcsim.units import ticks_to_ns
from tests.conftest import DATA


def test_flash_stream_follows_page_formula():
    p = load_device("ufs4-nand", file="t", field_path="x")
    env = simpy.Environment()
    mem = build_memories(env, {"f": MemoryUnits(name="f", params=p, count=1)})["f"]
    nbytes = 10 * p.page_bytes + 1                     # 11 pages move
    env.process(mem.serve(Request(address=0, nbytes=nbytes, is_write=False,
                                  traffic_class="weights")))
    env.run()
    parallel = array_bandwidth_gb_per_s(p.page_bytes, p.dies * p.planes_per_die,
                                        p.read_latency_ns)
    bw = min(p.read_bandwidth_gb_per_s, parallel)
    assert ticks_to_ns(env.now) == pytest.approx(stream_ns(nbytes, p, 1, False))
    assert ticks_to_ns(env.now) == pytest.approx(p.read_latency_ns + 11 * p.page_bytes / bw)
    assert FlashMemory.bandwidth_for(p, 1, False) == pytest.approx(bw)


def test_cold_start_only_for_volatile_working_memories(tmp_path):
    text = (DATA / "tiny.yaml").read_text()
    old = "      dram: {preset: lpddr5-orin, count: 16}\n    placement: {codes: dram,"
    text = text.replace(old,
                        "      dram: {preset: lpddr5-orin, count: 16}\n"
                        "      flash: {preset: ufs4-nand, count: 1}\n"
                        "    placement: {weights_copy: flash, codes: dram,", 1)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(text)
    run = load_run(cfg)
    (fp16, p16), (qmc, pq) = prepare(run)
    cold = simulate_cold_start(fp16, p16, build_memories(simpy.Environment(), p16.hardware))
    flash = fp16.devices["flash"]
    weight_bytes = sum(c.component.nbytes for cs in p16.weights.values() for c in cs)
    read_ns = stream_ns(weight_bytes, flash, 1, False)
    assert cold.time_ns == pytest.approx(read_ns, rel=1e-6)   # Flash is the slower stream
    pages = math.ceil(weight_bytes / flash.page_bytes) * flash.page_bytes
    dram = fp16.devices["dram"]
    dynamic = pages * 8 * flash.read_energy_pj_per_bit + \
        weight_bytes * 8 * dram.write_energy_pj_per_bit
    static = 16 * dram.static_power_mw * cold.time_ns
    assert cold.energy_pj == pytest.approx(dynamic + static, rel=1e-6)
    # QMC keeps its weights in non-volatile ReRAM and MRAM: nothing to load
    assert simulate_cold_start(qmc, pq, build_memories(simpy.Environment(), pq.hardware)
                               ).time_ns == 0.0
