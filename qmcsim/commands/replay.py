"""`replay`: a plain memory request trace through one memory preset."""

from __future__ import annotations

import argparse
import os
import stat
from pathlib import Path
from typing import Any

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


CLI = "command line"
MAX_CHANNELS = 1024          # units of one preset in a replay
MAX_REQUEST_BYTES = 1 << 30
MAX_ARRIVAL = 1 << 40        # cycles (DRAM) or ns (others): about 18 minutes at 1 GHz


def device_overrides(assignments: list[str]) -> dict[str, Any]:
    from qmcsim.config.overrides import parse_value
    from qmcsim.config.yamlio import MAX_DEPTH

    out: dict[str, Any] = {}
    for a in assignments:
        path, sep, text = a.partition("=")
        keys = path.split(".")
        if not sep or not path or len(keys) > MAX_DEPTH or \
                any(not k or k != k.strip() for k in keys):
            raise ConfigError("--set", a[:60], "expected field=value (e.g. "
                              "controller.page_policy=closed)")
        node = out
        for depth, key in enumerate(keys[:-1]):
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise ConfigError("--set", ".".join(keys[:depth + 1]),
                                  "a value was already set here; cannot set a field inside it")
        node[keys[-1]] = parse_value(text, path)
    return out


def check_trace(path: Path, capacity_bytes: int, request_bytes: int) -> None:
    """One streaming pass over the trace before any replay: lines, text, addresses, arrivals."""
    from qmcsim.errors import TraceError
    from qmcsim.memories.dram.replay import read_trace

    try:
        regular = stat.S_ISREG(os.stat(path).st_mode)
    except OSError as exc:
        raise TraceError(str(path), None, None, f"cannot open trace ({exc.strerror})") from None
    if not regular:   # not /dev/zero, a FIFO or a folder
        raise TraceError(str(path), None, None, "a regular file expected")
    row = 0
    try:
        for row, (address, _, arrival) in enumerate(read_trace(path), start=1):
            if address + request_bytes > capacity_bytes:
                raise TraceError(str(path), row, "address", f"an address below the memory's "
                                 f"{capacity_bytes:,} bytes expected, got {address:#x}")
            if arrival is not None and arrival > MAX_ARRIVAL:
                raise TraceError(str(path), row, "arrival", f"at most 2**40 expected, got "
                                 f"{arrival:,}")
    except UnicodeDecodeError:
        raise TraceError(str(path), row + 1, None, "UTF-8 text expected (a binary "
                         "file?)") from None


def run(args: argparse.Namespace) -> int:
    from qmcsim.config.checks import unit_count_problem
    from qmcsim.config.devices import load_device
    from qmcsim.memories.base import technology_of

    if not 1 <= args.channels <= MAX_CHANNELS:
        raise ConfigError(CLI, "--channels", f"an integer in 1 .. {MAX_CHANNELS} expected, "
                          f"got {args.channels}")
    if args.request_bytes is not None and not 1 <= args.request_bytes <= MAX_REQUEST_BYTES:
        raise ConfigError(CLI, "--request-bytes", f"an integer in 1 .. {MAX_REQUEST_BYTES} "
                          f"expected, got {args.request_bytes}")
    params = load_device(args.memory, device_overrides(args.overrides), file="command line",
                         field_path="--memory")
    problem = unit_count_problem(params, args.channels)
    if problem:
        raise ConfigError(CLI, "--channels", f"{problem} ({params.name})")
    request_bytes = args.request_bytes or 64
    org = getattr(params, "org", None)   # a DRAM organisation: requests are whole bursts
    if org is not None:
        bb = org.organisation().burst_bytes
        if args.request_bytes is not None and args.request_bytes % bb:
            raise ConfigError(CLI, "--request-bytes", f"a multiple of the {bb}-byte burst "
                              f"expected, got {args.request_bytes}")
        request_bytes = args.request_bytes or bb
    check_trace(args.trace, params.capacity_bytes * args.channels, request_bytes)
    result = technology_of(params).replay_trace(args.trace, params, channels=args.channels,
                                                request_bytes=request_bytes)
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
