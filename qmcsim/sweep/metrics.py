"""What a point costs before it runs (unit counts, area, capacity, the study's Eq. 4 power),
and which points meet the budgets and sit on the Pareto front. Pure functions of the resolved
config and the results table."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from qmcsim.config.loader import ResolvedSystem
from qmcsim.memories.base import DeviceParams
from qmcsim.placement import Placement
from qmcsim.sweep.config import Constraint, Objective
from qmcsim.units import BITS_PER_BYTE, MEBIBIT


def peak_read_gb_per_s(device: DeviceParams, units: int) -> float:
    """`units` in parallel, capped by the memory's shared interface (bus) if it has one."""
    raw = device.read_bandwidth_gb_per_s * units
    cap = device.interface_bandwidth_gb_per_s
    return raw if cap is None else min(raw, cap)


def eq4_power_mw(bandwidths_gb_per_s: dict[str, float], read_energy_pj_per_bit: dict[str, float],
                 network_energy_pj_per_bit: float) -> float:
    """The QMC study's Eq. 4: P = sum over weight memories of BW (E_read + E_network).
    1 GB/s x 1 pJ/bit = 8 mW."""
    return sum(bw * BITS_PER_BYTE * (read_energy_pj_per_bit[m] + network_energy_pj_per_bit)
               for m, bw in bandwidths_gb_per_s.items())


def provisioned_area_mm2(device: DeviceParams, units: int) -> float:
    """Area of every cell of `units` units (used or not): capacity / density."""
    return device.capacity_bytes * units * BITS_PER_BYTE / MEBIBIT / device.density_mb_per_mm2


def weight_memories(placement: Placement) -> list[str]:
    """Memories the decode reads weights from (the persistent copy is not read per token)."""
    return sorted({c.memory for comps in placement.weights.values() for c in comps})


def point_costs(system: ResolvedSystem, placement: Placement,
                network_energy_pj_per_bit: float) -> dict[str, Any]:
    """One system's pre-run columns: units and area per memory, totals, Eq. 4 power."""
    row: dict[str, Any] = {}
    for mem in system.devices:
        row[f"units.{mem}"] = placement.counts[mem]
    for mem, device in system.devices.items():
        row[f"area_mm2.{mem}"] = provisioned_area_mm2(device, placement.counts[mem])
    row["memory_area_mm2"] = sum(v for k, v in row.items() if k.startswith("area_mm2."))
    row["capacity_bytes"] = sum(units.capacity_bytes for units in placement.hardware.values())
    weights = weight_memories(placement)
    bw = {m: peak_read_gb_per_s(system.devices[m], placement.counts[m]) for m in weights}
    row["weight_read_gb_per_s"] = sum(bw.values())
    row["eq4_power_mw"] = eq4_power_mw(
        bw, {m: system.devices[m].read_energy_pj_per_bit for m in weights},
        network_energy_pj_per_bit)
    return row


def feasible(table: pd.DataFrame, constraints: list[Constraint], baseline: str) -> pd.Series:
    """Per row: every constraint that applies to its system holds. Constraints without a
    system apply to every system but the baseline."""
    ok = pd.Series(True, index=table.index)
    for c in constraints:
        applies = (table.system == c.system) if c.system else (table.system != baseline)
        value = table[c.metric]
        good = pd.Series(True, index=table.index)
        if c.max is not None:
            good &= value <= c.max
        if c.min is not None:
            good &= value >= c.min
        ok &= ~applies | good
    return ok


def non_dominated(values: np.ndarray) -> np.ndarray:
    """Rows of `values` (all objectives to minimise) that no other row dominates."""
    n = len(values)
    keep = np.ones(n, dtype=bool)
    for i in range(n):
        no_worse = np.all(values <= values[i], axis=1)
        better = np.any(values < values[i], axis=1)
        if np.any(no_worse & better):
            keep[i] = False
    return keep


def pareto(table: pd.DataFrame, objectives: list[Objective], candidates: pd.Series,
           baseline: str) -> pd.Series:
    """Per row: on the Pareto front of its system's feasible points (baseline excluded)."""
    front = pd.Series(False, index=table.index)
    signs = np.array([1.0 if o.goal == "min" else -1.0 for o in objectives])
    for _, rows in table[candidates & (table.system != baseline)].groupby("system"):
        values = rows[[o.metric for o in objectives]].to_numpy(dtype=float) * signs
        finite = np.all(np.isfinite(values), axis=1)
        keep = np.zeros(len(rows), dtype=bool)
        keep[finite] = non_dominated(values[finite])
        front[rows.index[keep]] = True
    return front
