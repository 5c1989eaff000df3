"""A multi-level-cell phase-change memory (PCM) as a qmcsim technology from outside the package.

It is the worked example of docs/add-a-memory-technology.md and of tests/test_plugin_technology.py:
one module (this one) registered through the `qmcsim.memories` entry point, one preset folder
(hw_configs/, named by QMCSIM_HW_CONFIGS). Nothing under qmcsim/ knows about it.

Timing: qmcsim's queued device model (latency + bandwidth + FIFO queueing, QMC Eq. 3).
Noise: PCM's resistance drift moves every level's conductance by (t / t0)**-nu after
programming; the level model of qmcsim.noise.levels turns that into read errors.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from qmcsim.memories.base import DeviceParams, register
from qmcsim.memories.queued import QueuedMemory
from qmcsim.noise.inject import LevelNoise, NoiseModel
from qmcsim.noise.levels import LevelModel
from qmcsim.noise.mapping import Mapping


class PcmParams(DeviceParams):
    """A PCM preset: the common device fields plus the multi-level cell's level statistics."""

    volatile: bool = False
    level_means: list[float] = Field(description="normalised conductance per level, ascending")
    level_sigmas: list[float] = Field(description="programmed spread per level")
    level_thresholds: list[float] | None = None
    level_confusion: list[list[float]] | None = None
    read_noise_sigma: float = Field(0.0, ge=0)
    drift_nu: float = Field(ge=0, description="resistance drift exponent: G(t) = G(t0) (t/t0)^-nu")
    drift_t0_s: float = Field(gt=0, description="time after programming of the level data")
    stuck_at_low_fraction: float = Field(0.0, ge=0, le=1)
    stuck_at_high_fraction: float = Field(0.0, ge=0, le=1)


@register
class PcmMemory(QueuedMemory):
    kind = "pcm"
    params_class: ClassVar[type[DeviceParams]] = PcmParams
    area_role = "nvm"   # a new non-volatile weight memory in the area comparison

    @classmethod
    def noise_model(cls, params: DeviceParams, *, mapping: Mapping = "binary",
                    read_time_s: float | None = None) -> NoiseModel | None:
        if not isinstance(params, PcmParams):
            raise TypeError(f"PcmParams expected, got {type(params).__name__}")
        return LevelNoise(model=LevelModel.from_params(params, read_time_s), mapping=mapping)
