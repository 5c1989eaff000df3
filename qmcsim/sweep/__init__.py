"""Design-space sweeps: a base run config, parameters to vary (grid, zip, random, Latin
hypercube, Sobol), budgets and objectives; resumable, one stored file per finished point.

    config.py    the sweep YAML schema
    sampling.py  points from value lists and ranges
    metrics.py   unit counts, area, Eq. 4 power; feasibility and the Pareto front
    store.py     the sweep folder: one atomic Parquet file per point, keyed by its resolved config
    execute.py   validation of every point, then local processes or a Dask cluster
"""

from qmcsim.sweep.config import Constraint, Objective, Parameter, Range, SweepConfig, load_sweep
from qmcsim.sweep.execute import (
    PointError,
    SweepPoint,
    SweepResult,
    resolve_points,
    run_sweep,
    simulate_point,
)
from qmcsim.sweep.sampling import overrides_of, points

__all__ = ["Constraint", "Objective", "Parameter", "PointError", "Range", "SweepConfig",
           "SweepPoint", "SweepResult", "load_sweep", "overrides_of", "points",
           "resolve_points", "run_sweep", "simulate_point"]
