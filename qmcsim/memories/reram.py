"""Multi-level-cell ReRAM crossbar arrays (rows x cols cells of `bits_per_cell` bits each).

Noise fields (used by qmcsim.noise, not by the timing model): per-level conductance Gaussians
(`level_means`, `level_sigmas`, normalised conductance, the programmed-state spread), extra
read noise, power-law drift G(t) = G(t0) * (t / t0)**-nu, stuck-at-low/high cell fractions,
or a measured level confusion matrix that replaces the Gaussians.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, field_validator, model_validator

from qmcsim.memories.base import DeviceParams, register
from qmcsim.memories.queued import QueuedMemory


class ReramParams(DeviceParams):
    volatile: bool = False
    array_rows: int = Field(gt=0)
    array_cols: int = Field(gt=0)
    level_means: list[float] | None = Field(default=None, description="normalised conductance")
    level_sigmas: list[float] | None = None
    level_thresholds: list[float] | None = Field(
        default=None, description="read thresholds (levels - 1, ascending); default: where "
                                  "neighbouring level Gaussians cross")
    level_confusion: list[list[float]] | None = Field(
        default=None, description="measured P(read level j | programmed level i), rows sum to 1; "
                                  "replaces the Gaussians when given")
    read_noise_sigma: float = Field(0.0, ge=0, description="normalised conductance, per read")
    drift_nu: float = Field(0.0, ge=0, description="drift exponent: G(t) = G(t0) (t/t0)^-nu")
    drift_t0_s: float = Field(1.0, gt=0, description="time after programming of the level data")
    stuck_at_low_fraction: float = Field(0.0, ge=0, le=1, description="cells stuck at level 0")
    stuck_at_high_fraction: float = Field(0.0, ge=0, le=1, description="cells stuck at the top")

    @field_validator("level_sigmas")
    @classmethod
    def _positive_sigmas(cls, v: list[float] | None) -> list[float] | None:
        if v is not None and any(s <= 0 for s in v):
            raise ValueError("level_sigmas must all be > 0")
        return v

    @field_validator("level_means")
    @classmethod
    def _ascending_means(cls, v: list[float] | None) -> list[float] | None:
        if v is not None and any(b <= a for a, b in zip(v[:-1], v[1:], strict=True)):
            raise ValueError("level_means must be strictly ascending")
        return v

    @field_validator("level_confusion")
    @classmethod
    def _stochastic(cls, v: list[list[float]] | None) -> list[list[float]] | None:
        if v is not None and (any(x < 0 for r in v for x in r)
                              or any(abs(sum(r) - 1) > 1e-6 for r in v)):
            raise ValueError("level_confusion rows must be probabilities summing to 1")
        return v

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
        th = self.level_thresholds
        if th is not None and (len(th) != levels - 1 or any(
                b <= a for a, b in zip(th[:-1], th[1:], strict=True))):
            raise ValueError(f"level_thresholds must be {levels - 1} ascending values")
        if self.level_confusion is not None:
            rows = self.level_confusion
            if len(rows) != levels or any(len(r) != levels for r in rows):
                raise ValueError(f"level_confusion must be {levels} x {levels}")
        if self.stuck_at_low_fraction + self.stuck_at_high_fraction > 1:
            raise ValueError("stuck_at_low_fraction + stuck_at_high_fraction must be <= 1")
        return self


@register
class ReramMemory(QueuedMemory):
    kind = "reram"
    params_class: ClassVar[type[DeviceParams]] = ReramParams
