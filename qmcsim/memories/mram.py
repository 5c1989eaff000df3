"""MRAM (STT or SOT): non-volatile, asymmetric read/write latency and energy."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field

from qmcsim.memories.base import DeviceParams, params_as, register
from qmcsim.memories.queued import QueuedMemory

if TYPE_CHECKING:
    from qmcsim.noise.inject import NoiseModel
    from qmcsim.noise.mapping import Mapping


class MramParams(DeviceParams):
    volatile: bool = False
    cell_type: Literal["stt", "sot"] = "stt"
    read_bit_error_rate: float = Field(0.0, ge=0, le=1,
                                       description="per stored bit per read (incl. read disturb)")
    retention_bit_error_rate: float = Field(0.0, ge=0, le=1,
                                            description="per stored bit over the retention time")


@register
class MramMemory(QueuedMemory):
    kind = "mram"
    params_class: ClassVar[type[DeviceParams]] = MramParams
    area_role = "nvm"

    @classmethod
    def noise_model(cls, params: DeviceParams, *, mapping: Mapping = "binary",
                    read_time_s: float | None = None) -> NoiseModel | None:
        """Independent bit flips: read (incl. read disturb) and retention errors combined."""
        from qmcsim.noise.inject import BitFlipNoise

        mram = params_as(params, MramParams)
        p_read, p_ret = mram.read_bit_error_rate, mram.retention_bit_error_rate
        p = 1.0 - (1.0 - p_read) * (1.0 - p_ret)
        return BitFlipNoise(bit_error_rate=p) if p > 0 else None
