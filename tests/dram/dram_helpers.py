"""Shared helpers of the DRAM tests.

Imported by module name; pytest puts this folder on the path."""
from __future__ import annotations

from pathlib import Path

import pytest

from qmcsim.config.devices import load_device
from qmcsim.memories.dram.channel import new_controller
from qmcsim.memories.dram.checker import Violation, check_log
from qmcsim.memories.dram.controller import (
    IMPLEMENTATION,
    ChannelController,
    PythonChannelController,
)
from qmcsim.memories.dram.params import DramParams, timing_cycles
from qmcsim.memories.dram.spec import standards

DEVICES = Path(__file__).resolve().parents[2] / "hw_configs" / "devices"


def _dram_presets() -> tuple[str, ...]:
    """Every shipped command-level DRAM preset (any standard): the validation tests run on
    each, so a new standard's presets are tested without editing the tests."""
    out = []
    for path in sorted(DEVICES.glob("*.yaml")):
        p = load_device(path.stem, None, file="<test>", field_path="memories.dram")
        if isinstance(p, DramParams):
            out.append(path.stem)
    return tuple(out)


PRESETS = _dram_presets()
# the partial (per-bank / same-bank) refresh mode of each standard
PARTIAL_REFRESH = {name: next(m for m in std.refresh if std.is_partial(m))
                   for name, std in standards().items()}
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
