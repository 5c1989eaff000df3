from __future__ import annotations

import pytest
from dram_helpers import PRESETS, load

from qmcsim.memories.dram.params import DramParams


@pytest.fixture(params=PRESETS)
def preset(request: pytest.FixtureRequest) -> DramParams:
    return load(request.param)


@pytest.fixture
def lp5() -> DramParams:
    return load()
