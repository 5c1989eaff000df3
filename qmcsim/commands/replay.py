"""`replay`: a plain memory request trace through one memory preset."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import yaml

from qmcsim.errors import ConfigError

NAME = "replay"
HELP = "replay a plain memory request trace (LD/ST text or CSV) through one memory"
DESCRIPTION = ("Replay a plain request trace through one memory preset and print simulated "
               "time, achieved bandwidth, mean read latency, row-buffer hit rate and "
               "requests/s of wall time. Formats: Ramulator's LoadStoreTrace (`LD 0x1f40` / "
               "`ST 0x1f80`, one per line) or CSV (address,R|W[,arrival]); arrivals are in "
               "memory clock cycles for DRAM presets and in ns otherwise. The trace streams: "
               "it never needs to fit in memory.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("trace", type=Path, help="trace file (.csv for CSV, else LD/ST text)")
    p.add_argument("--memory", required=True, metavar="PRESET",
                   help="device preset, e.g. lpddr5-6400-x16")
    p.add_argument("--channels", type=int, default=1,
                   help="channels / units of the preset (default 1)")
    p.add_argument("--request-bytes", type=int, default=None,
                   help="bytes per request (default: one burst for DRAM, 64 otherwise)")
    p.add_argument("--set", dest="overrides", action="append", default=[],
                   metavar="FIELD=VALUE",
                   help="override a preset field, e.g. controller.page_policy=closed, "
                        "controller.address_mapping=RoBaRaCoCh, controller.read_queue_size=64")


def device_overrides(assignments: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for a in assignments:
        path, sep, text = a.partition("=")
        if not sep or not path:
            raise ConfigError("--set", a, "expected field=value")
        node = out
        keys = path.split(".")
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = yaml.safe_load(text)
    return out


def run(args: argparse.Namespace) -> int:
    from qmcsim.config.devices import load_device
    from qmcsim.memories.base import technology_of

    if args.channels < 1:
        raise ConfigError("--channels", "", f"an integer >= 1 expected, got {args.channels}")
    params = load_device(args.memory, device_overrides(args.overrides), file="command line",
                         field_path="--memory")
    result = technology_of(params).replay_trace(args.trace, params, channels=args.channels,
                                                request_bytes=args.request_bytes)
    rows = {"requests": f"{result.requests:,}", "bytes": f"{result.bytes:,}",
            "simulated time (ns)": f"{result.simulated_ns:,.1f}",
            "achieved bandwidth (GB/s)": f"{result.bandwidth_gb_per_s:.3f}",
            "mean read latency (ns)": f"{result.mean_read_latency_ns:.2f}",
            "row-buffer hit rate": "n/a (no row buffer)" if result.row_hit_rate is None
            else f"{result.row_hit_rate:.4f}",
            "requests/s (wall)": f"{result.requests_per_s:,.0f}"}
    width = max(map(len, rows))
    print(f"{args.trace} through {args.channels} x {params.name} ({params.kind})")
    for key, value in rows.items():
        print(f"  {key:<{width}}  {value}")
    return 0
