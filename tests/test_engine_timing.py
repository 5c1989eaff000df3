"""Does the replay follow its formulas? Unloaded latency, queueing, roofline overlap, merge."""

from __future__ import annotations

import pytest
import simpy

from qmcsim.compute import ComputeParams, compute_ns
from qmcsim.config.devices import load_device
from qmcsim.engine.simulate import Replay
from qmcsim.memories.base import MemoryUnits, build_memories
from qmcsim.memories.base import Request
from qmcsim.memories.queued import aggregate_bandwidth_gb_per_s, unloaded_access_ns
from qmcsim.trace.generate import Access, OpStep, Step
from qmcsim.units import ticks_to_ns

COMPUTE = ComputeParams(name="c", peak_tflops_fp16=1.0, peak_tops_int8=2.0, utilization=1.0,
                        onchip_buffer_bytes=1024)


def device(name: str):
    return load_device(name, file="test", field_path="x")


def memories(env, **spec):
    return build_memories(env, {k: MemoryUnits(name=k, params=device(v[0]), count=v[1])
                                for k, v in spec.items()})


def serve_alone(mem, request):
    env = mem.env
    env.process(mem.serve(request))
    env.run()
    return ticks_to_ns(env.now)


def test_unloaded_read_follows_formula():
    env = simpy.Environment()
    mem = memories(env, dram=("lpddr5-orin", 16))["dram"]
    p = mem.params
    got = serve_alone(mem, Request(address=0, nbytes=1 << 20, is_write=False,
                                   traffic_class="weights"))
    bw = aggregate_bandwidth_gb_per_s(p.read_bandwidth_gb_per_s, 16, None)
    assert got == pytest.approx(unloaded_access_ns(1 << 20, p.read_latency_ns, bw))
    assert bw == pytest.approx(204.8)


def test_interface_cap_limits_aggregate_bandwidth():
    env = simpy.Environment()
    mem = memories(env, reram=("qmc-reram-3b", 10_000))["reram"]
    assert mem.read_bandwidth_gb_per_s == pytest.approx(211.2)   # 10,000 x 1.933 GB/s capped


def test_concurrent_requests_queue():
    env = simpy.Environment()
    mem = memories(env, dram=("lpddr5-orin", 1))["dram"]
    for _ in range(3):
        env.process(mem.serve(Request(address=0, nbytes=12_800, is_write=False,
                                      traffic_class="kv_cache")))
    env.run()
    # three 1 us transfers back to back, then the last one's 40 ns latency
    assert ticks_to_ns(env.now) == pytest.approx(3 * 1000 + 40)
    stats = mem.stats.of("kv_cache")
    assert stats.requests == 3 and stats.read_bytes == 3 * 12_800
    assert stats.queue_ticks / 1000 == pytest.approx(1000 + 2000)


def _replay(env, mems, sync_ns=0.0):
    return Replay(mems, COMPUTE, "fp16", merge_sync_ns=sync_ns, include_static=True)


def test_operator_takes_the_slower_of_memory_and_compute():
    env = simpy.Environment()
    mems = memories(env, dram=("lpddr5-orin", 1))
    read = Access(memory="dram", address=0, nbytes=12_800, is_write=False,
                  traffic_class="weights")
    flops = 3_000_000.0    # 3 us at 1 TFLOP/s, longer than the 1.04 us read
    step = Step(index=0, phase="decode", tokens=1, context=1,
                ops=(OpStep(layer=0, operator="mm", accesses=(read,), flops=flops),))
    trace = _replay(env, mems).run([step])
    assert trace.steps[0].time_ns == pytest.approx(compute_ns(flops, COMPUTE))


def test_weights_from_two_memories_overlap_then_sync():
    env = simpy.Environment()
    mems = memories(env, reram=("qmc-reram-3b", 100), mram=("qmc-mram", 1))
    a = Access(memory="reram", address=0, nbytes=193_300, is_write=False,
               traffic_class="weights")
    b = Access(memory="mram", address=0, nbytes=39_270, is_write=False,
               traffic_class="weights")
    step = Step(index=0, phase="decode", tokens=1, context=1,
                ops=(OpStep(layer=0, operator="mm", accesses=(a, b), flops=0),))
    trace = _replay(env, mems, sync_ns=2.3).run([step])
    reram_ns = unloaded_access_ns(193_300, 5.0, 100 * 1.933)
    mram_ns = unloaded_access_ns(39_270, 3.5, 39.27)
    assert trace.steps[0].time_ns == pytest.approx(max(reram_ns, mram_ns) + 2.3)


def test_static_energy_is_power_times_time():
    env = simpy.Environment()
    mems = memories(env, dram=("lpddr5-orin", 4))
    read = Access(memory="dram", address=0, nbytes=51_200, is_write=False,
                  traffic_class="weights")
    step = Step(index=0, phase="decode", tokens=1, context=1,
                ops=(OpStep(layer=0, operator="mm", accesses=(read,), flops=0),))
    trace = _replay(env, mems).run([step])
    static = [t for t in trace.traffic if t.traffic_class == "static"][0]
    dynamic = [t for t in trace.traffic if t.traffic_class == "weights"][0]
    assert static.energy_pj == pytest.approx(4 * 35.0 * trace.steps[0].time_ns)  # mW x ns = pJ
    assert dynamic.energy_pj == pytest.approx(51_200 * 8 * 3.5)
