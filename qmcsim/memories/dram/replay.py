"""Replay a plain memory request trace through one DRAM memory (burst fidelity).

Formats, read line by line (a trace never has to fit in memory):
- Ramulator LoadStoreTrace text: `LD 0x1f40` / `ST 0x1f80`, one request per line;
- CSV: `address,R|W[,arrival_cycle]` (an optional header line starting with "address"),
  addresses decimal or 0x-hex, arrival in memory clock cycles (without it: all at cycle 0,
  back-pressured by the controller queues).
Each line is one request of `request_bytes` (default: one burst).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qmcsim.errors import TraceError
from qmcsim.memories.dram.memory import build_controllers
from qmcsim.memories.dram.params import DramParams

CHUNK = 4096


@dataclass(frozen=True, kw_only=True)
class ReplayResult:
    requests: int
    bytes: int
    simulated_ns: float  # last data beat of the last request
    bandwidth_gb_per_s: float  # bytes / simulated time
    mean_read_latency_ns: float  # arrival to last data beat, reads only
    row_hit_rate: float  # row hits / bursts
    wall_s: float
    requests_per_s: float  # wall-clock simulation speed


def _parse_int(text: str, file: str, row: int, column: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise TraceError(file, row, column, f"expected an integer, got {text!r}") from None
    if value < 0:
        raise TraceError(file, row, column, f"expected a non-negative integer, got {value}")
    return value


def read_trace(path: str | Path) -> Iterator[tuple[int, bool, int | None]]:
    """(address, is_write, arrival cycle or None) per line, streaming."""
    file = str(path)
    is_csv = file.lower().endswith(".csv")
    try:
        fh = open(path, encoding="utf-8")  # noqa: SIM115 (closed by the with below)
    except OSError as exc:
        raise TraceError(file, None, None, f"cannot open trace ({exc.strerror})") from None
    with fh:
        for row, line in enumerate(fh, start=1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            if is_csv:
                cols = [c.strip() for c in text.split(",")]
                if row == 1 and cols[0].lower() == "address":
                    continue
                if len(cols) not in (2, 3):
                    raise TraceError(file, row, None, "expected address,R|W[,arrival_cycle]")
                addr = _parse_int(cols[0], file, row, "address")
                op = cols[1].upper()
                if op not in ("R", "W"):
                    raise TraceError(file, row, "op", f"expected R or W, got {cols[1]!r}")
                arrival = _parse_int(cols[2], file, row, "arrival_cycle") if len(cols) == 3 \
                    else None
                yield addr, op == "W", arrival
            else:
                parts = text.split()
                if len(parts) != 2:
                    raise TraceError(file, row, None, "expected 'LD <address>' or 'ST <address>'")
                op = parts[0].upper()
                if op not in ("LD", "ST"):
                    raise TraceError(file, row, "op", f"expected LD or ST, got {parts[0]!r}")
                yield _parse_int(parts[1], file, row, "address"), op == "ST", None


def replay(path: str | Path, params: DramParams, *, channels: int = 1,
           request_bytes: int | None = None) -> ReplayResult:
    """Replay a trace through `channels` channels of a DRAM preset."""
    mapping, ctrls, _ = build_controllers(params, channels)
    bb = mapping.org.burst_bytes
    size = request_bytes or bb
    if size % bb:
        raise ValueError(f"request_bytes ({size}) must be a multiple of the burst ({bb} bytes)")
    n_bursts = size // bb
    cap = mapping.capacity_bytes
    t_ck = params.timing.t_ck_ns
    arrivals: dict[int, int] = {}
    writes: set[int] = set()
    n = 0
    lat_sum = 0.0
    n_reads = hits = bursts = 0
    last_done = 0
    wall0 = time.perf_counter()

    def harvest(final: bool) -> None:
        nonlocal lat_sum, n_reads, hits, bursts, last_done
        for c in ctrls:
            c.run(final=final)
            for tag, _first, done, h, mi, co in c.finished:
                hits += h
                bursts += h + mi + co
                last_done = max(last_done, done)
                key = tag
                if key in pending:
                    pending[key] -= 1
                    latest[key] = max(latest.get(key, 0), done)
                    if pending[key] == 0:
                        del pending[key]
                        if key not in writes:
                            lat_sum += latest[key] - arrivals[key]
                            n_reads += 1
                        writes.discard(key)
                        arrivals.pop(key, None)
                        latest.pop(key, None)
            c.finished.clear()

    pending: dict[int, int] = {}
    latest: dict[int, int] = {}
    batch: list[tuple[int, bool, int]] = []
    clock = 0

    def flush() -> None:
        if not batch:
            return
        addrs = np.array([a for a, _, _ in batch], dtype=np.int64)
        offs = np.arange(n_bursts, dtype=np.int64) * bb
        ch_a, bank_a, row_a, col_a = mapping.decode((addrs[:, None] + offs[None, :]).ravel())
        if n_bursts == 1:  # one burst per request: each channel's share in one push_each
            tags = np.arange(base, base + len(batch))
            arr_a = np.array([arr for _, _, arr in batch], dtype=np.int64)
            w_a = np.array([w for _, w, _ in batch], dtype=bool)
            pending.update(dict.fromkeys(tags.tolist(), 1))
            arrivals.update(zip(tags.tolist(), arr_a.tolist(), strict=True))
            writes.update(tags[w_a].tolist())
            for c_id in np.unique(ch_a).tolist():
                m = ch_a == c_id
                ctrls[c_id].push_each(tags[m].tolist(), arr_a[m].tolist(), bank_a[m].tolist(),
                                      row_a[m].tolist(), col_a[m].tolist(), w_a[m].tolist())
        else:
            ch, bank, row, col = ch_a.tolist(), bank_a.tolist(), row_a.tolist(), col_a.tolist()
            for k, (_, w, arr) in enumerate(batch):
                tag = base + k
                per_ch: dict[int, list[tuple[int, int, int]]] = {}
                for j in range(k * n_bursts, (k + 1) * n_bursts):
                    per_ch.setdefault(ch[j], []).append((bank[j], row[j], col[j]))
                pending[tag] = len(per_ch)
                arrivals[tag] = arr
                if w:
                    writes.add(tag)
                for c_id, bl in per_ch.items():
                    ctrls[c_id].push(tag, arr, bl, w)
        batch.clear()
        harvest(final=False)

    base = 0
    for addr, is_write, arrival in read_trace(path):
        if addr + size > cap:
            raise TraceError(str(path), n + 1, "address",
                             f"address {addr:#x} + {size} B beyond the memory ({cap} B)")
        if arrival is not None:
            if arrival < clock:
                raise TraceError(str(path), n + 1, "arrival_cycle",
                                 f"arrival {arrival} before the previous one ({clock})")
            clock = arrival
        batch.append((addr - addr % bb, is_write, clock))
        n += 1
        if len(batch) == CHUNK:
            flush()
            base = n
    flush()
    harvest(final=True)
    wall = time.perf_counter() - wall0
    sim_ns = last_done * t_ck
    return ReplayResult(
        requests=n, bytes=n * size, simulated_ns=sim_ns,
        bandwidth_gb_per_s=n * size / sim_ns if sim_ns else 0.0,
        mean_read_latency_ns=lat_sum / n_reads * t_ck if n_reads else 0.0,
        row_hit_rate=hits / bursts if bursts else 0.0, wall_s=wall,
        requests_per_s=n / wall if wall > 0 else float("inf"))
