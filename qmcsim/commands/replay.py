"""`replay`: a plain memory request trace through one memory preset."""

from __future__ import annotations

import argparse
import io
import os
import stat
from dataclasses import asdict
from pathlib import Path
from typing import Any

import yaml

from qmcsim.errors import ConfigError

NAME = "replay"
HELP = "replay a plain memory request trace (LD/ST text or CSV) through one memory"
DESCRIPTION = (
    "Replay a plain request trace through one memory preset, as a front end of other DRAM "
    "simulators does, and print simulated time, achieved bandwidth, read latency (mean, p50, "
    "p95, p99, max), row-buffer outcomes and requests/s of wall time. Formats: Ramulator's "
    "LoadStoreTrace (`LD 0x1f40` / `ST 0x1f80`, one request per line) or CSV "
    "(address,R|W[,arrival]); arrivals are in memory clock (CK) cycles for DRAM presets and "
    "in ns otherwise. Request size: every line is one request of --request-bytes (default 64 "
    "B, a LoadStoreTrace cache line) for every memory kind; DRAM splits it into the preset's "
    "bursts (32 B on LPDDR5 x16). Admission: a DRAM request enters the controller's read or "
    "write queue when the queue has room and its arrival has come; with --outstanding N the "
    "front end also keeps at most N requests in flight. Memories without a request queue "
    "model (ReRAM, MRAM, SRAM, Flash) admit at most --outstanding requests (default 32, the "
    "LPDDR5 presets' read queue). Read latency runs from admission to the last data beat; "
    "the wait before admission is reported apart. The trace streams: it never needs to fit "
    "in memory. docs/replay.md compares this with other simulators on the same trace.")
GENERIC_OUTSTANDING = 32


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("trace", type=Path, help="trace file (.csv for CSV, else LD/ST text)")
    p.add_argument("--memory", required=True, metavar="PRESET",
                   help="device preset, e.g. lpddr5-6400-x16, qmc-mram (hw_configs/devices/)")
    p.add_argument("--channels", type=int, default=1, metavar="N",
                   help="channels / units of the preset; addresses interleave over them by "
                        "the preset's address mapping (default 1)")
    p.add_argument("--request-bytes", type=int, default=None, metavar="BYTES",
                   help="bytes per trace line, for every memory kind (default 64); on DRAM a "
                        "multiple of the burst")
    p.add_argument("--outstanding", type=int, default=None, metavar="N",
                   help="at most N requests in flight (issued, not completed); default: DRAM "
                        f"limited by its queues only, other memories {GENERIC_OUTSTANDING}")
    p.add_argument("--set", dest="overrides", action="append", default=[],
                   metavar="FIELD=VALUE",
                   help="override a preset field (repeatable), e.g. "
                        "controller.page_policy=closed, controller.address_mapping=ChRaBaRoCoBg "
                        "(each of Ch Ra Bg Ba Ro Co once, most significant first), "
                        "controller.read_queue_size=64, controller.refresh=per_bank")
    p.add_argument("--out", type=Path, default=None, metavar="STEM",
                   help="also write STEM.yaml (every printed figure, the resolved preset, "
                        "per-bank counters) and STEM.csv (one row per channel x bank); each "
                        "file appears whole")


CLI = "command line"
MAX_CHANNELS = 1024          # units of one preset in a replay
MAX_REQUEST_BYTES = 1 << 30
DEFAULT_REQUEST_BYTES = 64     # a LoadStoreTrace cache line, every memory kind
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


def _ns(v: float) -> str:
    return f"{v:,.2f}"


def run(args: argparse.Namespace) -> int:
    from qmcsim.config.checks import unit_count_problem
    from qmcsim.config.devices import load_device
    from qmcsim.memories.base import technology_of
    from qmcsim.results import check_output_file

    if not 1 <= args.channels <= MAX_CHANNELS:
        raise ConfigError(CLI, "--channels", f"an integer in 1 .. {MAX_CHANNELS} expected, "
                          f"got {args.channels}")
    if args.request_bytes is not None and not 1 <= args.request_bytes <= MAX_REQUEST_BYTES:
        raise ConfigError(CLI, "--request-bytes", f"an integer in 1 .. {MAX_REQUEST_BYTES} "
                          f"expected, got {args.request_bytes}")
    if args.outstanding is not None and not 1 <= args.outstanding <= MAX_REQUEST_BYTES:
        raise ConfigError(CLI, "--outstanding", f"an integer in 1 .. {MAX_REQUEST_BYTES} "
                          f"expected, got {args.outstanding}")
    if args.out is not None:   # both stats files, before any replay
        for suffix in (".yaml", ".csv"):
            check_output_file(args.out.with_suffix(suffix), "--out")
    params = load_device(args.memory, device_overrides(args.overrides), file="command line",
                         field_path="--memory")
    problem = unit_count_problem(params, args.channels)
    if problem:
        raise ConfigError(CLI, "--channels", f"{problem} ({params.name})")
    request_bytes = args.request_bytes or DEFAULT_REQUEST_BYTES
    org = getattr(params, "org", None)   # a DRAM organisation: requests are whole bursts
    if org is not None:
        bb = org.organisation().burst_bytes
        if args.request_bytes is None and request_bytes % bb:
            request_bytes = bb * -(-request_bytes // bb)
        if request_bytes % bb:
            raise ConfigError(CLI, "--request-bytes", f"a multiple of the {bb}-byte burst "
                              f"expected, got {args.request_bytes}")
    check_trace(args.trace, params.capacity_bytes * args.channels, request_bytes)
    r = technology_of(params).replay_trace(args.trace, params, channels=args.channels,
                                           request_bytes=request_bytes,
                                           outstanding=args.outstanding)
    stats = replay_stats(r)
    config = {"request_queue": "none modelled; at most "
              f"{getattr(r, 'outstanding', None) or GENERIC_OUTSTANDING} in flight"}
    controller = getattr(params, "controller", None)
    if controller is not None:   # a queued controller: what another simulator must match
        timing, org = params.timing, params.org  # type: ignore[attr-defined]
        config = {"address_mapping": controller.address_mapping,
                  "read_queue_size": controller.read_queue_size,
                  "write_queue_size": controller.write_queue_size,
                  "page_policy": controller.page_policy, "refresh": controller.refresh,
                  "t_ck_ns": timing.t_ck_ns,
                  "burst_bytes": org.organisation().burst_bytes}
    banks = [asdict(b) for b in getattr(r, "banks", ())]
    print(f"{args.trace} through {args.channels} x {params.name} ({params.kind})")
    shown = render(stats)
    width = max(map(len, shown))
    for key, value in shown.items():
        print(f"  {key:<{width}}  {value}")
    if args.out is not None:
        write_stats(args.out, args, params, stats, config, banks)
        print(f"\nstats: {args.out.with_suffix('.yaml')}, {args.out.with_suffix('.csv')}")
    return 0


LABELS = {
    "requests": "requests", "reads": "reads", "writes": "writes",
    "request_bytes": "request size (B)", "bytes": "bytes", "outstanding": "outstanding limit",
    "simulated_ns": "simulated time (ns)", "bandwidth_gb_per_s": "achieved bandwidth (GB/s)",
    "mean_read_latency_ns": "mean read latency (ns)",
    "p50_read_latency_ns": "p50 read latency (ns)", "p95_read_latency_ns": "p95 read latency (ns)",
    "p99_read_latency_ns": "p99 read latency (ns)", "max_read_latency_ns": "max read latency (ns)",
    "mean_frontend_wait_ns": "mean wait before admission (ns)",
    "row_hit_rate": "row-buffer hit rate", "row_hits": "row hits (bursts)",
    "row_misses": "row misses (bursts)", "row_conflicts": "row conflicts (bursts)",
    "activates": "activates", "refreshes": "refreshes", "requests_per_s_wall": "requests/s (wall)",
}


def render(stats: dict[str, Any]) -> dict[str, str]:
    out = {}
    for key, value in stats.items():
        if value is None:
            text = "none (controller queues only)"
        elif isinstance(value, str):
            text = value
        elif key.endswith("_ns"):
            text = _ns(value)
        elif key == "row_hit_rate":
            text = f"{value:.4f}" if value == value else "n/a (no row buffer)"
        elif key == "bandwidth_gb_per_s":
            text = f"{value:.3f}"
        else:
            text = f"{value:,.0f}"
        out[LABELS.get(key, key)] = text
    return out


def write_stats(stem: Path, args: argparse.Namespace, params: Any, stats: dict[str, Any],
                config: dict[str, Any], banks: list[dict[str, int]]) -> None:
    """STEM.yaml and STEM.csv, each written to a temporary file and renamed."""
    import pandas as pd

    from qmcsim.commands.plot import write_atomically

    doc = {"trace": str(args.trace), "memory": params.name, "kind": params.kind,
           "channels": args.channels, "overrides": list(args.overrides),
           "controller": config, "stats": {k: (float(v) if isinstance(v, float) else v)
                                           for k, v in stats.items()},
           "banks": banks}
    # tidy: one row per figure; scope 'total' (what is printed) or 'bank' (per channel x bank)
    rows: list[dict[str, Any]] = [{"scope": "total", "channel": "", "bank": "", "metric": k,
                                   "value": v} for k, v in stats.items()]
    for b in banks:
        rows += [{"scope": "bank", "channel": b["channel"], "bank": b["bank"], "metric": k,
                  "value": v} for k, v in b.items() if k not in ("channel", "bank")]
    buf = io.StringIO()
    pd.DataFrame(rows).to_csv(buf, index=False, lineterminator="\n", float_format="%.10g")
    folder = stem.parent if str(stem.parent) else Path(".")
    write_atomically(folder, {stem.with_suffix(".yaml").name:
                              yaml.safe_dump(doc, sort_keys=False).encode(),
                              stem.with_suffix(".csv").name: buf.getvalue().encode()})


# what every replay reports, then what only some technologies measure (row buffers, queues)
STAT_FIELDS = ("requests", "reads", "writes", "request_bytes", "bytes", "outstanding",
               "simulated_ns", "bandwidth_gb_per_s", "mean_read_latency_ns",
               "p50_read_latency_ns", "p95_read_latency_ns", "p99_read_latency_ns",
               "max_read_latency_ns", "mean_frontend_wait_ns", "row_hit_rate", "row_hits",
               "row_misses", "row_conflicts", "activates", "refreshes")


def replay_stats(r: Any) -> dict[str, Any]:
    """Every figure a technology's replay measured, in one order (absent ones left out)."""
    stats = {k: getattr(r, k) for k in STAT_FIELDS if hasattr(r, k)}
    if stats.get("row_hit_rate", 0) is None:
        stats["row_hit_rate"] = float("nan")
    stats["requests_per_s_wall"] = r.requests_per_s
    return stats
