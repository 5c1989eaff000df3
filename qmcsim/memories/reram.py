"""Multi-level-cell ReRAM crossbar arrays (rows x cols cells of `bits_per_cell` bits each)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, model_validator

from qmcsim.memories.base import DeviceParams, register
from qmcsim.memories.queued import QueuedMemory


class ReramParams(DeviceParams):
    volatile: bool = False
    array_rows: int = Field(gt=0)
    array_cols: int = Field(gt=0)
    level_means: list[float] | None = Field(default=None, description="normalised conductance")
    level_sigmas: list[float] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ReramParams:
        cells_bits = self.array_rows * self.array_cols * self.bits_per_cell
        if cells_bits != self.capacity_bytes * 8:
            raise ValueError(f"capacity_bytes must equal array_rows*array_cols*bits_per_cell/8 "
                             f"= {cells_bits / 8:g}, got {self.capacity_bytes}")
        levels = 2 ** self.bits_per_cell
        for name in ("level_means", "level_sigmas"):
            got = getattr(self, name)
            if got is not None and len(got) != levels:
                raise ValueError(f"{name} must have {levels} entries for {self.bits_per_cell}"
                                 f" bits per cell, got {len(got)}")
        return self


@register
class ReramMemory(QueuedMemory):
    kind = "reram"
    params_class: ClassVar[type[DeviceParams]] = ReramParams
