"""An on-chip SRAM buffer between the memories and the compute."""

from __future__ import annotations

import pytest

import qmcsim

from qmcsim.config.loader import load_run
from qmcsim.errors import ConfigError
from tests.conftest import DATA

BUFFERED = ["systems.fp16.memories.sram={preset: sram-22nm, count: 8}",
            "systems.fp16.onchip_buffer=sram", "workload.generate_tokens=2"]


def _run(overrides):
    result = qmcsim.run(DATA / "tiny.yaml", overrides)
    return list(result.systems), result.traffic, result.per_step


def test_every_streamed_byte_is_written_and_read_once_in_the_buffer():
    _, traffic, _ = _run(BUFFERED)
    fp16 = traffic[(traffic.system == "fp16") & (traffic.traffic_class != "static")]
    dram = fp16[fp16.memory == "dram"]
    sram = fp16[fp16.memory == "sram"]
    streamed = int((dram.read_bytes + dram.write_bytes).sum())
    assert int(sram.write_bytes.sum()) == streamed
    assert int(sram.read_bytes.sum()) == streamed
    # energy: read and write energies of the NVSim 22 nm SRAM bank, per bit
    assert sram.energy_pj.sum() == pytest.approx(streamed * 8 * (0.016 + 0.264))


def test_a_narrow_buffer_slows_the_decode():
    _, _, fast = _run(["workload.generate_tokens=2"])
    _, _, slow = _run(BUFFERED)
    decode = lambda t: t[(t.system == "fp16") & (t.phase == "decode")].time_ns.mean()  # noqa: E731
    # 8 banks x 1.85 GB/s, written and read: far below 16 LPDDR5 channels
    assert decode(slow) > 10 * decode(fast)


def test_buffer_must_be_a_memory_of_the_system():
    with pytest.raises(ConfigError, match=r"systems\[0\].onchip_buffer"):
        load_run(DATA / "tiny.yaml", ["systems.fp16.onchip_buffer=sram"])
