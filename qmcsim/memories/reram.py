"""Multi-level-cell ReRAM crossbar arrays (rows x cols cells of `bits_per_cell` bits each).

Reading a multi-level cell takes several sensing steps: one per bit with successive
approximation (`sar`), or one per reference level (`sequential`, 2**bits - 1). Writing programs
each cell by program-and-verify pulses until it lands in its target level's window; the mean
pulse count differs per level. When a preset gives these MLC fields, the summary figures the
engine uses (read latency; write latency, bandwidth and energy) are derived from them — one
source of truth — and a preset that states both must agree.

Noise fields (used by qmcsim.noise, not by the timing model): per-level conductance Gaussians
(`level_means`, `level_sigmas`, normalised conductance, the programmed-state spread), extra
read noise, power-law drift G(t) = G(t0) * (t / t0)**-nu, stuck-at-low/high cell fractions,
or a measured level confusion matrix that replaces the Gaussians.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from qmcsim.memories.base import DeviceParams, params_as, register
from qmcsim.memories.queued import QueuedMemory

if TYPE_CHECKING:
    from qmcsim.noise.inject import NoiseModel
    from qmcsim.noise.mapping import Mapping


def sensing_steps(bits_per_cell: int, scheme: str) -> int:
    return bits_per_cell if scheme == "sar" else 2**bits_per_cell - 1


def mlc_read_latency_ns(bits_per_cell: int, scheme: str, step_ns: float,
                        periphery_ns: float) -> float:
    return periphery_ns + sensing_steps(bits_per_cell, scheme) * step_ns


def mlc_write(pulses_per_level: list[float], pulse_ns: float, verify_ns: float,
              pulse_energy_pj: float, bits_per_cell: int, parallel_cells: int
              ) -> tuple[float, float, float]:
    """(latency ns, bandwidth GB/s per array, energy pJ/bit) of program-and-verify writes,
    for codes spread evenly over the levels."""
    pulses = sum(pulses_per_level) / len(pulses_per_level)
    latency = pulses * (pulse_ns + verify_ns)
    bandwidth = parallel_cells * bits_per_cell / 8 / latency if latency > 0 else float("inf")
    return latency, bandwidth, pulses * pulse_energy_pj / bits_per_cell


class ReramParams(DeviceParams):
    volatile: bool = False
    array_rows: int = Field(gt=0)
    array_cols: int = Field(gt=0)
    level_means: list[float] | None = Field(default=None, description="normalised conductance")
    level_sigmas: list[float] | None = None
    # MLC read and write mechanics (optional; when given, summary figures derive from them)
    sensing: Literal["sar", "sequential"] | None = None
    sense_step_ns: float | None = Field(default=None, gt=0)
    read_periphery_ns: float | None = Field(default=None, ge=0)
    program_pulses_per_level: list[float] | None = None
    program_pulse_ns: float | None = Field(default=None, gt=0)
    program_verify_ns: float | None = Field(default=None, ge=0)
    program_pulse_energy_pj: float | None = Field(default=None, ge=0)
    write_parallel_cells: int | None = Field(default=None, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _derive(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        sources = dict(data.get("sources", {}))
        bits = data.get("bits_per_cell")
        derived: dict[str, tuple[float, str]] = {}
        if data.get("sensing") and data.get("sense_step_ns") is not None and bits:
            periphery = data.get("read_periphery_ns") or 0.0
            latency = mlc_read_latency_ns(bits, data["sensing"], data["sense_step_ns"], periphery)
            derived["read_latency_ns"] = (latency, f"derived: read_periphery_ns + "
                                          f"{sensing_steps(bits, data['sensing'])} "
                                          f"{data['sensing']} sensing steps x sense_step_ns")
        write_keys = ("program_pulses_per_level", "program_pulse_ns", "program_verify_ns",
                      "program_pulse_energy_pj", "write_parallel_cells")
        if bits and all(data.get(k) is not None for k in write_keys):
            latency, bandwidth, energy = mlc_write(
                data["program_pulses_per_level"], data["program_pulse_ns"],
                data["program_verify_ns"], data["program_pulse_energy_pj"], bits,
                data["write_parallel_cells"])
            why = "derived: program-and-verify, mean pulses over levels"
            derived["write_latency_ns"] = (latency, f"{why} x (pulse + verify)")
            derived["write_bandwidth_gb_per_s"] = (bandwidth, f"{why}; write_parallel_cells x "
                                                   "bits_per_cell per write latency")
            derived["write_energy_pj_per_bit"] = (energy, f"{why} x pulse energy / bits_per_cell")
        for key, (value, why) in derived.items():
            given = data.get(key)
            if given is None:
                data[key] = value
                sources[key] = why
            elif abs(given - value) > 0.01 * abs(value):
                raise ValueError(f"{key} = {given} disagrees with the MLC fields, which give "
                                 f"{value:.6g}; state one or the other")
        data["sources"] = sources
        return data

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
        for name in ("level_means", "level_sigmas", "program_pulses_per_level"):
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
    area_role = "nvm"

    @classmethod
    def noise_model(cls, params: DeviceParams, *, mapping: Mapping = "binary",
                    read_time_s: float | None = None) -> NoiseModel | None:
        """Codes packed into multi-level cells, read back through the level model
        (programming spread, read noise, drift at `read_time_s`, stuck cells)."""
        from qmcsim.noise.inject import LevelNoise
        from qmcsim.noise.levels import LevelModel

        return LevelNoise(model=LevelModel.from_params(params_as(params, ReramParams),
                                                       read_time_s), mapping=mapping)
