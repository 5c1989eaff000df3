"""The sweep config: a base run config, parameters to vary and how to sample them, fixed
overrides, constraints (budgets) and objectives."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from qmcsim.config.yamlio import read_yaml_mapping, validation_to_config_error
from qmcsim.errors import ConfigError

Mode = Literal["grid", "zip", "random", "lhs", "sobol"]
SAMPLED_MODES = ("random", "lhs", "sobol")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Range(_Frozen):
    """A numeric range: sampled modes draw from [low, high]; grid and zip take `steps` values."""

    low: float
    high: float
    scale: Literal["linear", "log"] = "linear"
    type: Literal["float", "int"] = "float"
    steps: int | None = Field(None, ge=1, description="grid/zip: evenly spaced values")

    @model_validator(mode="after")
    def _check(self) -> Range:
        if self.high < self.low:
            raise ValueError("high must be >= low")
        if self.scale == "log" and self.low <= 0:
            raise ValueError("a log range needs low > 0")
        return self


class Parameter(_Frozen):
    path: str = Field(min_length=1, description="a --set path into the base run config")
    values: list[Any] | None = Field(None, min_length=1)
    range: Range | None = None
    link: str | None = Field(None, description="parameters with the same link move together "
                             "(zipped in a grid, one shared coordinate when sampled)")

    @model_validator(mode="after")
    def _one_of(self) -> Parameter:
        if (self.values is None) == (self.range is None):
            raise ValueError("give either values or range")
        return self


class Constraint(_Frozen):
    """A budget on one metric of one system (every non-baseline system if none is named)."""

    metric: str
    max: float | None = None
    min: float | None = None
    system: str | None = None

    @model_validator(mode="after")
    def _bound(self) -> Constraint:
        if self.max is None and self.min is None:
            raise ValueError("give max, min or both")
        return self


class Objective(_Frozen):
    metric: str
    goal: Literal["min", "max"] = "min"


class Sourced(_Frozen):
    value: float = Field(ge=0)
    source: str = Field(min_length=1)


class SweepConfig(_Frozen):
    name: str = "sweep"
    kind: Literal["run", "accuracy"] = Field("run", description="run: the base is a run config; "
                                             "accuracy: an accuracy config")
    base: str = Field(description="run config to start from (relative to this file)")
    mode: Mode = Field("grid", description="grid: every combination; zip: the i-th value of "
                       "every parameter together; random / lhs / sobol: `samples` draws")
    samples: int | None = Field(None, ge=1, description="points drawn by random, lhs and sobol")
    seed: int = 0
    seeds: list[int] | None = Field(None, min_length=1, description="accuracy: the noise "
                                    "seeds of every point (default: the base config's)")
    fixed: dict[str, Any] = Field(default_factory=dict,
                                  description="--set overrides applied to every point")
    parameters: list[Parameter] = Field(min_length=1)
    constraints: list[Constraint] = Field(default_factory=list)
    objectives: list[Objective] = Field(
        default_factory=lambda: [Objective(metric="decode_ms_per_token"),
                                 Objective(metric="energy_per_token_uj")])
    network_energy_pj_per_bit: Sourced = Field(
        default_factory=lambda: Sourced(
            value=0.5, source="assumption: UCIe 1.0 advanced-package target of 0.5 pJ/bit "
                              "(the QMC study gives no E_network)"),
        description="E_network of Eq. 4, per bit moved from a weight memory to the compute")


def load_sweep(path: Path) -> tuple[SweepConfig, Path]:
    """The validated sweep config and the absolute path of its base run config."""
    raw = read_yaml_mapping(path)
    try:
        cfg = SweepConfig.model_validate(raw)
    except ValidationError as exc:
        raise validation_to_config_error(exc, str(path)) from None
    check_sweep(cfg, str(path))
    return cfg, (path.parent / cfg.base).resolve()


def check_sweep(cfg: SweepConfig, file: str) -> None:
    from qmcsim.sweep.sampling import listed

    if cfg.seeds is not None and cfg.kind != "accuracy":
        raise ConfigError(file, "seeds", "noise seeds are for kind: accuracy")
    if cfg.mode in SAMPLED_MODES and cfg.samples is None:
        raise ConfigError(file, "samples", f"mode {cfg.mode!r} draws points: give samples: N")
    if cfg.mode not in SAMPLED_MODES and cfg.samples is not None:
        raise ConfigError(file, "samples", f"mode {cfg.mode!r} enumerates its values; "
                          "samples is for random, lhs and sobol")
    for i, p in enumerate(cfg.parameters):
        if cfg.mode not in SAMPLED_MODES and p.range is not None and p.range.steps is None:
            raise ConfigError(file, f"parameters[{i}].range.steps",
                              f"mode {cfg.mode!r} needs steps: N to enumerate a range")
    if cfg.mode == "zip" and len({len(listed(p)) for p in cfg.parameters}) > 1:
        raise ConfigError(file, "parameters", "zip mode needs equally long value lists")
    if cfg.mode == "grid":
        for i, p in enumerate(cfg.parameters):
            first = next(q for q in cfg.parameters if q.link is not None and q.link == p.link) \
                if p.link is not None else p
            if len(listed(p)) != len(listed(first)):
                raise ConfigError(file, f"parameters[{i}]", f"linked parameters (link: "
                                  f"{p.link!r}) need equally long value lists")
    paths = [p.path for p in cfg.parameters]
    for i, path in enumerate(paths):
        if paths.index(path) != i or path in cfg.fixed:
            raise ConfigError(file, f"parameters[{i}].path", f"{path!r} is set twice")
