"""Technology models: MLC ReRAM mechanics, MRAM variants, preset smoke runs."""

from __future__ import annotations

import pytest
import simpy

from qmcsim.config.devices import load_device
from qmcsim.config.presets import available
from qmcsim.memories.base import MemoryUnits, build_memories
from qmcsim.memories.base import Request
from qmcsim.memories.reram import ReramParams, mlc_write, sensing_steps
from qmcsim.units import ticks_to_ns


@pytest.mark.parametrize("name", available("devices"))
def test_every_device_preset_serves_a_read_and_a_write(name):
    params = load_device(name, file="t", field_path="x")
    env = simpy.Environment()
    mem = build_memories(env, {"m": MemoryUnits(name="m", params=params, count=2)})["m"]
    for is_write in (False, True):
        env.process(mem.serve(Request(address=0, nbytes=4096, is_write=is_write,
                                      traffic_class="weights")))
    env.run()
    stats = mem.stats.of("weights")
    assert stats.read_bytes == 4096 and stats.write_bytes == 4096 and env.now > 0


def test_mlc_read_takes_one_sensing_step_per_bit():
    three = load_device("qmc-reram-3b", file="t", field_path="x")
    two = load_device("qmc-reram-2b", file="t", field_path="x")
    assert three.read_latency_ns == pytest.approx(5.0, rel=1e-3)          # QMC Table 1
    assert two.read_latency_ns == pytest.approx(5.0 * 2 / 3, rel=1e-3)
    assert sensing_steps(3, "sar") == 3 and sensing_steps(3, "sequential") == 7


def test_program_and_verify_write():
    # levels need 0, 7, 5, 1 pulses: mean 3.25; each pulse 10 ns + a 5 ns verify
    latency, bandwidth, energy = mlc_write([0, 7, 5, 1], 10.0, 5.0, 0.6, 2, 64)
    assert latency == pytest.approx(3.25 * 15)
    assert bandwidth == pytest.approx(64 * 2 / 8 / latency)
    assert energy == pytest.approx(3.25 * 0.6 / 2)
    p = load_device("qmc-reram-2b", file="t", field_path="x")
    env = simpy.Environment()
    mem = build_memories(env, {"r": MemoryUnits(name="r", params=p, count=1)})["r"]
    env.process(mem.serve(Request(address=0, nbytes=1024, is_write=True,
                                  traffic_class="weights")))
    env.run()
    assert ticks_to_ns(env.now) == pytest.approx(1024 / p.write_bandwidth_gb_per_s
                                                 + p.write_latency_ns)


def test_summary_that_contradicts_mlc_fields_is_rejected():
    base = load_device("qmc-reram-3b", file="t", field_path="x").model_dump()
    base["read_latency_ns"] = 2.0
    with pytest.raises(ValueError, match="read_latency_ns = 2.0 disagrees"):
        ReramParams.model_validate(base)


def test_sot_writes_faster_and_cheaper_than_stt():
    stt = load_device("stt-mram-22nm", file="t", field_path="x")
    sot = load_device("sot-mram", file="t", field_path="x")
    assert sot.cell_type == "sot" and sot.read_latency_ns == stt.read_latency_ns
    assert sot.write_latency_ns < stt.write_latency_ns
    assert sot.write_energy_pj_per_bit < stt.write_energy_pj_per_bit
