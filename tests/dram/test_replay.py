"""Replaying plain request traces (Ramulator LoadStoreTrace text and CSV)."""

from __future__ import annotations

from pathlib import Path

import pytest
from dram_helpers import load

from qmcsim.errors import TraceError
from qmcsim.memories.dram.params import timing_cycles
from qmcsim.memories.dram.replay import replay


def test_sequential_loadstore_trace_reaches_refresh_limited_peak(tmp_path: Path) -> None:
    p = load()
    trace = tmp_path / "seq.trace"
    trace.write_text("".join(f"LD {i * 32:#x}\n" for i in range(20_000)))
    r = replay(trace, p, request_bytes=32)
    v = timing_cycles(p)
    peak = p.read_bandwidth_gb_per_s * (1 - v["nRFCab"] / v["nREFI"])
    assert r.requests == 20_000 and r.bytes == 640_000
    assert r.bandwidth_gb_per_s == pytest.approx(peak, rel=0.03)
    assert r.row_hit_rate > 0.95 and r.requests_per_s > 0


def test_csv_with_arrivals_gives_unloaded_latency(tmp_path: Path) -> None:
    p = load()
    v = timing_cycles(p)
    trace = tmp_path / "t.csv"
    # far apart in time: one idle-bank read, then a row hit, then a conflict
    trace.write_text("address,op,arrival_cycle\n0x0,R,0\n0x80,R,1000\n0x2000000,R,2000\n")
    r = replay(trace, p, request_bytes=32)
    expect = ((v["nRCD"] + v["nCL"] + v["nBL"]) + (v["nCL"] + v["nBL"])
              + (v["nRPpb"] + v["nRCD"] + v["nCL"] + v["nBL"])) / 3 * p.timing.t_ck_ns
    assert r.mean_read_latency_ns == pytest.approx(expect)
    assert r.row_hit_rate == pytest.approx(1 / 3)


def test_writes_count_as_bytes_not_read_latency(tmp_path: Path) -> None:
    trace = tmp_path / "w.trace"
    trace.write_text("ST 0x0\nST 0x20\nLD 0x40\n")
    r = replay(trace, load(), request_bytes=64)
    assert r.requests == 3 and r.bytes == 192 and r.mean_read_latency_ns > 0


@pytest.mark.parametrize(("name", "text", "row", "column"), [
    ("bad.trace", "LD 0x0\nLOAD 0x20\n", 2, "op"),
    ("bad2.trace", "LD 0x0\nLD zz\n", 2, "address"),
    ("bad.csv", "address,op\n0x0,R\n0x20,X\n", 3, "op"),
    ("bad2.csv", "0x0,R,5\n0x20,R,3\n", 2, "arrival_cycle"),
])
def test_bad_lines_name_file_row_column(tmp_path: Path, name: str, text: str, row: int,
                                        column: str) -> None:
    trace = tmp_path / name
    trace.write_text(text)
    with pytest.raises(TraceError) as exc:
        replay(trace, load())
    assert exc.value.row == row and exc.value.column == column and name in str(exc.value)


def test_batched_one_burst_replay_equals_push_per_request(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # replay feeds one-burst requests per channel through push_each; the same trace through
    # one push call per request (interpreted controller) must give the same result
    import random
    from dataclasses import asdict

    from qmcsim.memories.dram import memory
    from qmcsim.memories.dram.controller import PythonChannelController

    rng = random.Random(5)
    t = 0
    lines = ["address,op,arrival_cycle"]
    for _ in range(3000):
        t += rng.choice((0, 0, 1, 4))
        lines.append(f"{rng.randrange(1 << 24) // 32 * 32:#x},{rng.choice('RRW')},{t}")
    trace = tmp_path / "mixed.csv"
    trace.write_text("\n".join(lines) + "\n")

    class PerRequest(PythonChannelController):
        def push_each(self, tags, arrivals, banks, rows, cols, writes):  # type: ignore[no-untyped-def]
            for i in range(len(tags)):
                self.push(tags[i], arrivals[i], ((banks[i], rows[i], cols[i]),), writes[i])

    batched = asdict(replay(trace, load(), channels=2))
    monkeypatch.setattr(memory, "ChannelController", PerRequest)
    single = asdict(replay(trace, load(), channels=2))
    for d in (batched, single):
        del d["wall_s"], d["requests_per_s"]
    assert batched == single
    assert batched["requests"] == 3000 and 0 < batched["row_hit_rate"] < 1
