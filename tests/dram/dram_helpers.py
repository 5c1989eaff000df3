"""Shared helpers of the DRAM tests.

Imported by module name; pytest puts this folder on the path."""
from __future__ import annotations

from qmcsim.config.devices import load_device
import pytest

from qmcsim.memories.dram.channel import new_controller
from qmcsim.memories.dram.checker import Violation, check_log
from qmcsim.memories.dram.controller import (
    IMPLEMENTATION,
    ChannelController,
    PythonChannelController,
)
from qmcsim.memories.dram.params import DramParams, timing_cycles

# one or more presets of every DRAM standard: the validation tests run on each
PRESETS = ("lpddr5-6400-x16", "lpddr5x-8533-x16", "ddr5-4800-x16", "hbm3-6400-pc")
# the partial refresh mode of each standard
PARTIAL_REFRESH = {"lpddr5": "per_bank", "ddr5": "same_bank", "hbm3": "per_bank"}
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
    return new_controller(params, log=log, impl=impl, **kw)


def partial(params: DramParams) -> dict:
    """Overrides selecting the standard's partial (per-bank / same-bank) refresh."""
    return {"controller": {"refresh": PARTIAL_REFRESH[params.standard]}}


def check(log: list, params: DramParams) -> list[Violation]:
    """The independent checker on a log of `params`' controller (its standard's rules)."""
    std = params.spec
    org = params.org.organisation()
    return check_log(log, std.resolved, timing_cycles(params), org,
                     std.refresh_groups(params.controller.refresh, org)
                     if std.is_partial(params.controller.refresh) else (), std.commands)
