"""Write endurance: how long a memory survives when the KV cache lives in it."""

from __future__ import annotations

import math

import pytest

import qmcsim

from qmcsim.report import SECONDS_PER_YEAR
from tests.conftest import DATA


def test_lifetime_is_endurance_times_capacity_over_write_rate():
    result = qmcsim.run(DATA / "tiny.yaml", ["systems.qmc.placement.kv_cache=mram",
                                             "systems.qmc.memories.mram.count=4",
                                             "workload.generate_tokens=3"])
    run, steps, traffic, table = result.run, result.per_step, result.traffic, result.per_memory
    row = table[(table.system == "qmc") & (table.memory == "mram")].iloc[0]
    decode = steps[(steps.system == "qmc") & (steps.phase == "decode")]
    writes = traffic[(traffic.system == "qmc") & (traffic.memory == "mram")
                     & traffic.step.isin(decode.step)].write_bytes.sum()
    mram = run.systems[1].devices["mram"]
    rate = writes / (decode.time_ns.sum() / 1e9)
    expected = mram.endurance_cycles * 4 * mram.capacity_bytes / rate / SECONDS_PER_YEAR
    assert writes > 0 and row.lifetime_years == pytest.approx(expected)
    # ReRAM only holds weights: never written while decoding
    reram = table[(table.system == "qmc") & (table.memory == "reram")].iloc[0]
    assert math.isinf(reram.lifetime_years)
    # DRAM has no endurance limit
    assert math.isnan(table[(table.system == "fp16")].iloc[0].lifetime_years)
