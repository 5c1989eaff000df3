"""Points of a sweep: grid and zip enumerate; random, Latin hypercube and Sobol draw `samples`
points from the unit cube (seeded) and map each coordinate onto a value list or a range."""

from __future__ import annotations

import itertools
import math
import warnings
from typing import Any

import numpy as np

from qmcsim.errors import InternalError
from qmcsim.sweep.config import Parameter, Range, SweepConfig


def range_value(r: Range, u: float) -> float | int:
    """The value at unit coordinate u in [0, 1) of a linear or log range."""
    if r.type == "int":
        lo, hi = math.ceil(r.low), math.floor(r.high)
        if r.scale == "log":
            edges = np.log(lo), np.log(hi + 1)
            return min(hi, int(math.exp(edges[0] + u * (edges[1] - edges[0]))))
        return min(hi, lo + int(u * (hi - lo + 1)))
    if r.scale == "log":
        return float(math.exp(math.log(r.low) + u * (math.log(r.high) - math.log(r.low))))
    return float(r.low + u * (r.high - r.low))


def range_steps(r: Range) -> list[Any]:
    """`steps` evenly spaced values (geometrically for log), both ends included."""
    n = r.steps or 1
    grid = (np.geomspace(r.low, r.high, n) if r.scale == "log" else np.linspace(r.low, r.high, n))
    if r.type == "int":
        return list(dict.fromkeys(int(round(v)) for v in grid))
    return [float(v) for v in grid]


def listed(p: Parameter) -> list[Any]:
    return list(p.values) if p.values is not None else range_steps(p.range)  # type: ignore[arg-type]


def latin_hypercube(n: int, d: int, seed: int) -> np.ndarray:
    """`scipy.stats.qmc.LatinHypercube(d, rng=seed).random(n)`, the same numbers (tested),
    without importing scipy.stats: that import is ~0.8 CPU-s of a sweep's client, most of
    the sampling's cost. scipy draws from a child of `default_rng(seed)`: a jitter per cell,
    then one shuffle of the strata per dimension."""
    rng = np.random.default_rng(seed).spawn(1)[0]
    jitter = rng.uniform(size=(n, d))
    strata = np.tile(np.arange(1, n + 1), (d, 1))
    for i in range(d):
        rng.shuffle(strata[i, :])
    return (strata.T - jitter) / n


def unit_samples(mode: str, n: int, d: int, seed: int) -> np.ndarray:
    """n points in [0, 1)^d."""
    if mode == "random":
        return np.random.default_rng(seed).random((n, d))
    if mode == "lhs":
        return latin_hypercube(n, d, seed)
    from scipy.stats import qmc

    with warnings.catch_warnings():   # balance needs 2**m points; other counts are allowed
        warnings.simplefilter("ignore", UserWarning)
        return qmc.Sobol(d, scramble=True, rng=seed).random(n)


def _pick(p: Parameter, u: float) -> Any:
    if p.values is not None:
        return p.values[min(len(p.values) - 1, int(u * len(p.values)))]
    if p.range is None:
        raise InternalError(f"sweep parameter {p.path!r} has neither values nor a range")
    return range_value(p.range, u)


def groups(cfg: SweepConfig) -> list[list[Parameter]]:
    """Parameters that move together: one group per link name, else one per parameter."""
    out: dict[str, list[Parameter]] = {}
    for i, p in enumerate(cfg.parameters):
        out.setdefault(p.link if p.link is not None else f"#{i}", []).append(p)
    return list(out.values())


def points(cfg: SweepConfig) -> list[dict[str, Any]]:
    """Every point as {path: value}, in sweep order (deterministic for a given seed)."""
    if cfg.mode == "zip":
        lists = [listed(p) for p in cfg.parameters]
        return [dict(zip((p.path for p in cfg.parameters), c, strict=True))
                for c in zip(*lists, strict=True)]
    gs = groups(cfg)
    if cfg.mode == "grid":
        zipped = [list(zip(*(listed(p) for p in g), strict=True)) for g in gs]
        return [{p.path: v for g, vs in zip(gs, combo, strict=True)
                 for p, v in zip(g, vs, strict=True)}
                for combo in itertools.product(*zipped)]
    if cfg.samples is None:
        raise InternalError(f"sweep mode {cfg.mode!r} needs 'samples'")
    cube = unit_samples(cfg.mode, cfg.samples, len(gs), cfg.seed)
    return [{p.path: _pick(p, float(u)) for g, u in zip(gs, row, strict=True) for p in g}
            for row in cube]


def overrides_of(point: dict[str, Any]) -> list[str]:
    import yaml

    def text(value: Any) -> str:
        return yaml.safe_dump(value, default_flow_style=True).removesuffix("...\n").strip()

    return [f"{path}={text(value)}" for path, value in point.items()]
