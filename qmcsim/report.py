"""Tidy tables from simulated systems, and the ratios against the baseline system.

Ratios are baseline / system for quantities where lower is better, so "7.3" reads
"7.3x fewer cells than FP16" and "12.5" reads "12.5x faster".
"""

from __future__ import annotations

import pandas as pd

from qmcsim.area import weight_area_mm2
from qmcsim.runner import SystemResult

RATIO_METRICS = ("weight_cells", "weight_bytes", "weight_area_mm2", "external_bytes_per_token",
                 "energy_per_token_uj", "ttft_ms", "decode_ms_per_token")
PJ_PER_UJ = 1e6
NS_PER_MS = 1e6


def steps_table(results: list[SystemResult]) -> pd.DataFrame:
    rows = [{"system": r.system.name, **vars(s)} for r in results for s in r.trace.steps]
    return pd.DataFrame(rows, columns=["system", "step", "phase", "tokens", "context",
                                       "time_ns", "simulated"])


def traffic_table(results: list[SystemResult]) -> pd.DataFrame:
    rows = [{"system": r.system.name, **vars(t), "external": t.memory in r.external_memories}
            for r in results for t in r.trace.traffic]
    return pd.DataFrame(rows, columns=["system", "step", "memory", "traffic_class",
                                       "read_bytes", "write_bytes", "requests", "energy_pj",
                                       "busy_ns", "queue_ns", "row_hits", "row_misses",
                                       "row_conflicts", "external"])


def footprint_table(results: list[SystemResult]) -> pd.DataFrame:
    rows = []
    for r in results:
        for f in r.placement.footprints:
            rows.append({"system": r.system.name, "memory": f.memory,
                         "preset": r.system.devices[f.memory].name, "units": f.units,
                         "weight_bytes": f.weight_bits / 8, "weight_cells": f.weight_cells,
                         "weight_area_mm2": f.weight_area_mm2, "used_bytes": f.used_bytes,
                         "capacity_bytes": f.capacity_bytes, "is_copy": f.is_copy})
    return pd.DataFrame(rows)


def per_memory_table(traffic: pd.DataFrame, steps: pd.DataFrame) -> pd.DataFrame:
    """Mean per decode token, per system and memory: bytes, dynamic and static energy."""
    decode = steps.loc[steps.phase == "decode", ["system", "step"]]
    t = traffic.merge(decode, on=["system", "step"])
    n_tokens = decode.groupby("system").size()
    t = t.assign(bytes=t.read_bytes + t.write_bytes,
                 dynamic_pj=t.energy_pj.where(t.traffic_class != "static", 0.0),
                 static_pj=t.energy_pj.where(t.traffic_class == "static", 0.0))
    g = t.groupby(["system", "memory"], sort=False)[["bytes", "dynamic_pj", "static_pj"]].sum()
    g = g.div(n_tokens, axis=0, level="system")
    return pd.DataFrame({"bytes_per_token": g.bytes,
                         "dynamic_uj_per_token": g.dynamic_pj / PJ_PER_UJ,
                         "static_uj_per_token": g.static_pj / PJ_PER_UJ}).reset_index()


SECONDS_PER_YEAR = 365.25 * 24 * 3600


def lifetime_table(results: list[SystemResult], per_memory: pd.DataFrame,
                   steps: pd.DataFrame, traffic: pd.DataFrame) -> pd.DataFrame:
    """`per_memory` plus write endurance: years until the memory's cells wear out when decoding
    without pause, writes spread evenly over its whole capacity (ideal wear levelling)."""
    decode = steps[steps.phase == "decode"]
    t = traffic[traffic.traffic_class != "static"].merge(decode[["system", "step"]],
                                                         on=["system", "step"])
    written = t.groupby(["system", "memory"]).write_bytes.sum()
    rows = []
    for r in results:
        seconds = decode[decode.system == r.system.name].time_ns.sum() / 1e9
        for mem, units in r.placement.hardware.items():
            endurance = units.technology.endurance_cycles(units.params)
            rate = written.get((r.system.name, mem), 0) / seconds if seconds else 0.0
            years = float("inf") if rate == 0 else \
                (endurance or float("inf")) * units.capacity_bytes / rate / SECONDS_PER_YEAR
            rows.append({"system": r.system.name, "memory": mem, "endurance_cycles": endurance,
                         "lifetime_years": years if endurance else float("nan")})
    return per_memory.merge(pd.DataFrame(rows), on=["system", "memory"], how="left")


def contention_table(traffic: pd.DataFrame, steps: pd.DataFrame) -> pd.DataFrame:
    """Per system, memory and traffic class over the decode steps: bytes per token, achieved
    bandwidth (bytes over the decode time), row-buffer hit rate, mean queueing delay."""
    decode = steps.loc[steps.phase == "decode", ["system", "step", "time_ns"]]
    t = traffic[~traffic.traffic_class.isin(("static", "compute"))].merge(
        decode[["system", "step"]], on=["system", "step"])
    g = t.groupby(["system", "memory", "traffic_class"], sort=False).agg(
        read_bytes=("read_bytes", "sum"), write_bytes=("write_bytes", "sum"),
        requests=("requests", "sum"), queue_ns=("queue_ns", "sum"),
        row_hits=("row_hits", "sum"), row_misses=("row_misses", "sum"),
        row_conflicts=("row_conflicts", "sum")).reset_index()
    time_ns = decode.groupby("system").time_ns.sum()
    tokens = decode.groupby("system").size()
    moved = g.read_bytes + g.write_bytes
    bursts = g.row_hits + g.row_misses + g.row_conflicts
    return pd.DataFrame({
        "system": g.system, "memory": g.memory, "traffic_class": g.traffic_class,
        "bytes_per_token": moved / g.system.map(tokens),
        "achieved_gb_per_s": moved / g.system.map(time_ns),
        "row_hit_rate": (g.row_hits / bursts).where(bursts > 0),
        "mean_queue_ns": (g.queue_ns / g.requests).where(g.requests > 0),
    })


def summary_table(results: list[SystemResult], baseline: str) -> pd.DataFrame:
    steps, traffic, footprint = steps_table(results), traffic_table(results), \
        footprint_table(results)
    rows = []
    for r in results:
        name = r.system.name
        fp = footprint[(footprint.system == name) & ~footprint.is_copy]
        st = steps[steps.system == name]
        decode_steps = st[st.phase == "decode"]
        tr = traffic[(traffic.system == name) & traffic.step.isin(decode_steps.step)]
        n = len(decode_steps)
        ext = tr[tr.external]
        rows.append({
            "system": name,
            "format": r.system.config.format.kind,
            "weight_bytes": fp.weight_bytes.sum(),
            "weight_cells": fp.weight_cells.sum(),
            "weight_area_mm2": weight_area_mm2(r.placement),
            "external_bytes_per_token": (ext.read_bytes + ext.write_bytes).sum() / n,
            "energy_per_token_uj": tr.energy_pj.sum() / n / PJ_PER_UJ,
            "static_energy_per_token_uj":
                tr.energy_pj[tr.traffic_class == "static"].sum() / n / PJ_PER_UJ,
            "ttft_ms": st.time_ns[st.phase == "prefill"].sum() / NS_PER_MS,
            "decode_ms_per_token": decode_steps.time_ns.mean() / NS_PER_MS,
            "cold_start_ms": r.cold_start.time_ns / NS_PER_MS,
            "cold_start_energy_mj": r.cold_start.energy_pj / 1e9,
        })
    summary = pd.DataFrame(rows).set_index("system")
    if baseline not in summary.index:   # a subset of the systems: no ratios
        return summary.reset_index()
    base = summary.loc[baseline]
    for metric in RATIO_METRICS:
        summary[f"{metric}_vs_{baseline}"] = base[metric] / summary[metric]
    return summary.reset_index()
