"""Shared helpers of the DRAM tests.

Imported by module name; pytest puts this folder on the path."""
from __future__ import annotations

from qmcsim.config.devices import load_device
import pytest

from qmcsim.memories.dram.controller import (
    IMPLEMENTATION,
    ChannelController,
    CompiledTiming,
    PythonChannelController,
)
from qmcsim.memories.dram.params import DramParams, timing_cycles
from qmcsim.memories.dram.spec import LPDDR5_CONSTRAINTS

PRESETS = ("lpddr5-6400-x16", "lpddr5x-8533-x16")
# both builds of the controller: the interpreted source and its Cython compilation (setup.py)
IMPLEMENTATIONS = (
    pytest.param(PythonChannelController, id="python"),
    pytest.param(ChannelController, id="compiled", marks=pytest.mark.skipif(
        IMPLEMENTATION != "compiled", reason=f"controller: {IMPLEMENTATION}")),
)


def load(name: str = "lpddr5-6400-x16", **overrides: object) -> DramParams:
    p = load_device(name, overrides or None, file="<test>", field_path="memories.dram")
    assert isinstance(p, DramParams)
    return p


def controller(params: DramParams, *, log: list | None = None,
               impl: type[ChannelController] = ChannelController,
               **kw: object) -> ChannelController:
    org = params.org.organisation()
    timing = CompiledTiming.build(LPDDR5_CONSTRAINTS, timing_cycles(params), org)
    cp = params.controller
    args = {"read_queue_size": cp.read_queue_size, "write_queue_size": cp.write_queue_size,
            "write_high_watermark": cp.write_high_watermark,
            "write_low_watermark": cp.write_low_watermark, "page_policy": cp.page_policy,
            "refresh": cp.refresh}
    args.update(kw)
    return impl(timing, log=log, **args)  # type: ignore[arg-type]

