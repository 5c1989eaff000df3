"""Design-space sweeps: a base run config, parameters to vary, one tidy row per point x system.

Points run in parallel on local processes by default, or on a Dask cluster. Every point is
validated (config, presets, capacity) before any is simulated, so a bad point fails the sweep
at once with the usual one-line error.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from qmcsim.config.loader import load_run
from qmcsim.config.yamlio import read_yaml_mapping, validation_to_config_error
from qmcsim.errors import ConfigError


class Parameter(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str = Field(min_length=1, description="a --set path into the base run config")
    values: list[Any] = Field(min_length=1)


class SweepConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "sweep"
    base: str = Field(description="run config to start from (relative to this file)")
    mode: Literal["grid", "zip"] = Field("grid", description="grid: every combination; "
                                         "zip: the i-th value of every parameter together")
    parameters: list[Parameter] = Field(min_length=1)


def load_sweep(path: Path) -> tuple[SweepConfig, Path]:
    raw = read_yaml_mapping(path)
    try:
        cfg = SweepConfig.model_validate(raw)
    except ValidationError as exc:
        raise validation_to_config_error(exc, str(path)) from None
    base = (path.parent / cfg.base).resolve()
    if cfg.mode == "zip" and len({len(p.values) for p in cfg.parameters}) > 1:
        raise ConfigError(str(path), "parameters", "zip mode needs equally long value lists")
    return cfg, base


def points(cfg: SweepConfig) -> Iterator[dict[str, Any]]:
    paths = [p.path for p in cfg.parameters]
    combos = (zip(*(p.values for p in cfg.parameters), strict=True) if cfg.mode == "zip"
              else itertools.product(*(p.values for p in cfg.parameters)))
    for combo in combos:
        yield dict(zip(paths, combo, strict=True))


def overrides_of(point: dict[str, Any]) -> list[str]:
    import yaml

    def text(value: Any) -> str:
        return yaml.safe_dump(value, default_flow_style=True).removesuffix("...\n").strip()

    return [f"{path}={text(value)}" for path, value in point.items()]


def resolve_points(cfg: SweepConfig, base: Path) -> list[dict[str, Any]]:
    """Every point's resolved config, each checked for capacity; raises on the first bad one."""
    from qmcsim.runner import prepare, resolved_config

    resolved = []
    for point in points(cfg):
        run = load_run(base, overrides_of(point))
        resolved.append(resolved_config(run, prepare(run)))
    return resolved


def run_point(index: int, base: str, point: dict[str, Any]) -> pd.DataFrame:
    """Simulate one point (in a worker process): the summary table plus the point's values."""
    from qmcsim.pipeline import run

    summary = run(Path(base), overrides_of(point)).summary
    summary.insert(0, "point", index)
    for i, (path, value) in enumerate(point.items()):
        summary.insert(1 + i, path, value if not isinstance(value, (list, dict)) else str(value))
    return summary


def run_sweep(cfg: SweepConfig, base: Path, *, workers: int = 1,
              dask_address: str | None = None,
              on_point: Callable[[], None] | None = None) -> pd.DataFrame:
    todo = list(enumerate(points(cfg)))
    frames: dict[int, pd.DataFrame] = {}
    if dask_address is not None:
        try:
            from dask.distributed import Client, as_completed
        except ImportError:
            raise ConfigError("--dask", "", "dask.distributed is not installed: "
                              "pip install -e '.[cluster]'") from None
        with Client(dask_address) as client:
            futures = {client.submit(run_point, i, str(base), p, pure=False): i for i, p in todo}
            for future in as_completed(futures):
                frames[futures[future]] = future.result()
                if on_point:
                    on_point()
    elif workers <= 1:
        for i, p in todo:
            frames[i] = run_point(i, str(base), p)
            if on_point:
                on_point()
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(run_point, i, str(base), p): i for i, p in todo}
            from concurrent.futures import as_completed as done
            for future in done(futures):
                frames[futures[future]] = future.result()
                if on_point:
                    on_point()
    return pd.concat([frames[i] for i in sorted(frames)], ignore_index=True)
