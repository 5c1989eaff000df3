"""`qmcsim replay` as a user runs it."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from qmcsim.config.devices import load_device
from qmcsim.memories.dram.params import timing_cycles


def _trace(tmp_path, lines):
    path = tmp_path / "t.trace"
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


def _field(stdout: str, name: str) -> str:
    line = next(x for x in stdout.splitlines() if x.strip().startswith(name))
    return line.split("  ")[-1].strip()


def test_dram_replay_reports_the_metrics(run_cli, tmp_path):
    path = _trace(tmp_path, [f"LD 0x{i * 32:x}" for i in range(2000)])
    out = run_cli("replay", str(path), "--memory", "lpddr5-6400-x16")
    assert out.returncode == 0, out.stderr
    assert _field(out.stdout, "requests") == "2,000"
    # a sequential stream through one x16 channel: close to 12.8 GB/s, almost all row hits
    assert 10.0 < float(_field(out.stdout, "achieved bandwidth")) <= 12.8
    assert float(_field(out.stdout, "row-buffer hit rate")) > 0.9


def test_other_memories_replay_through_the_engine_interface(run_cli, tmp_path):
    path = _trace(tmp_path, [f"LD 0x{i * 64:x}" for i in range(1000)])
    out = run_cli("replay", str(path), "--memory", "qmc-mram", "--channels", "2")
    assert out.returncode == 0, out.stderr
    # 64 kB through 2 x 39.27 GB/s, all queued at once: bytes / bandwidth + one latency
    assert float(_field(out.stdout, "simulated time").replace(",", "")) == \
        round(64_000 / (2 * 39.27) + 3.5, 2)


def test_bad_trace_line_is_one_line_exit_2(run_cli, tmp_path):
    path = _trace(tmp_path, ["LD 0x40", "LD zzz"])
    out = run_cli("replay", str(path), "--memory", "lpddr5-6400-x16")
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1 and "row 2" in out.stderr


def test_bad_override_is_one_line_exit_2(run_cli, tmp_path):
    path = _trace(tmp_path, ["LD 0x40"])
    out = run_cli("replay", str(path), "--memory", "lpddr5-6400-x16",
                  "--set", "controller.page_policy=sideways")
    assert out.returncode == 2 and "page_policy" in out.stderr


def test_dram_replay_runs_every_standard(run_cli, tmp_path):
    # a sequential stream of whole bursts through one channel of each standard's preset
    for preset, burst_bytes, peak_gb_per_s in (("ddr5-4800-x16", 64, 19.2),
                                               ("hbm3-6400-pc", 32, 25.6)):
        path = _trace(tmp_path, [f"LD 0x{i * burst_bytes:x}" for i in range(3000)])
        out = run_cli("replay", str(path), "--memory", preset)
        assert out.returncode == 0, out.stderr
        assert 0.8 * peak_gb_per_s < float(_field(out.stdout, "achieved bandwidth")) \
            <= peak_gb_per_s
        assert float(_field(out.stdout, "row-buffer hit rate")) > 0.9


def test_dram_replay_partial_refresh_modes_of_the_standard(run_cli, tmp_path):
    path = _trace(tmp_path, [f"LD 0x{i * 64:x}" for i in range(500)])
    ok = run_cli("replay", str(path), "--memory", "ddr5-4800-x16",
                 "--set", "controller.refresh=same_bank")
    assert ok.returncode == 0, ok.stderr
    bad = run_cli("replay", str(path), "--memory", "ddr5-4800-x16",
                  "--set", "controller.refresh=per_bank")  # LPDDR5's and HBM3's, not DDR5's
    assert bad.returncode == 2 and "same_bank" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def _ns(stdout: str, name: str) -> float:
    return float(_field(stdout, name).replace(",", ""))


def test_sequential_stream_latency_is_a_loaded_access_not_the_backlog(run_cli, tmp_path):
    # 4,000 x 64 B all at cycle 0: the trace backlog is ~20 us deep, but each read is
    # measured from the moment the 32-entry read queue admits it to its last data beat
    path = _trace(tmp_path, [f"LD 0x{i * 64:x}" for i in range(4000)])
    out = run_cli("replay", str(path), "--memory", "lpddr5-6400-x16")
    assert out.returncode == 0, out.stderr
    mean, p50, p99 = (_ns(out.stdout, f"{k} read latency") for k in ("mean", "p50", "p99"))
    # a full 32-entry queue of 2-burst reads at 12.8 GB/s drains in 32 x 5 ns = 160 ns
    assert 60 < p50 <= mean < 200 and p99 < 500
    assert _ns(out.stdout, "mean wait before admission") > 50 * mean   # the backlog, apart
    few = run_cli("replay", str(path), "--memory", "lpddr5-6400-x16", "--outstanding", "4")
    assert few.returncode == 0, few.stderr
    assert _ns(few.stdout, "mean read latency") < mean      # fewer in flight, less queueing


@pytest.mark.parametrize("request_bytes", [32, 64])
def test_unloaded_read_latency_equals_the_closed_form(run_cli, tmp_path, request_bytes):
    params = load_device("lpddr5-6400-x16", {}, file="test", field_path="memory")
    v = timing_cycles(params)
    # one read to an idle bank: ACT, tRCD, RD, CL, burst; a 64-byte line spans two bank
    # groups under RoBaRaCoBgCh, whose second ACT follows the first after tRRD_S
    cycles = v["nRCD"] + v["nCL"] + v["nBL"] + (v["nRRD_S"] if request_bytes == 64 else 0)
    out = run_cli("replay", str(_trace(tmp_path, ["LD 0x0"])), "--memory", "lpddr5-6400-x16",
                  "--request-bytes", str(request_bytes))
    assert out.returncode == 0, out.stderr
    for k in ("mean", "p50", "p99", "max"):
        assert _ns(out.stdout, f"{k} read latency") == round(cycles * params.timing.t_ck_ns, 2)


def test_out_writes_stats_yaml_and_csv_with_bank_counters(run_cli, tmp_path):
    path = _trace(tmp_path, [f"LD 0x{i * 64:x}" for i in range(300)] + ["ST 0x0"])
    out = run_cli("replay", str(path), "--memory", "lpddr5-6400-x16", "--out", "stats")
    assert out.returncode == 0, out.stderr
    doc = yaml.safe_load((tmp_path / "stats.yaml").read_text())
    assert doc["stats"]["requests"] == 301 and doc["stats"]["writes"] == 1
    assert doc["controller"]["address_mapping"] == "RoBaRaCoBgCh"
    assert _ns(out.stdout, "p95 read latency") == round(doc["stats"]["p95_read_latency_ns"], 2)
    banks = pd.DataFrame(doc["banks"])
    assert banks.reads.sum() == 600 and banks.writes.sum() == 2      # bursts of 32 B
    assert (banks.row_hits + banks.row_misses + banks.row_conflicts).sum() == 602
    table = pd.read_csv(tmp_path / "stats.csv")
    assert set(table.scope) == {"total", "bank"}
    assert table[(table.scope == "bank") & (table.metric == "reads")].value.sum() == 600
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]   # no temp files left


def test_address_mapping_example_of_the_help_is_accepted(run_cli, tmp_path):
    help_text = run_cli("replay", "--help").stdout
    assert "controller.address_mapping=ChRaBaRoCoBg" in " ".join(help_text.split())
    path = _trace(tmp_path, [f"LD 0x{i * 64:x}" for i in range(64)])
    out = run_cli("replay", str(path), "--memory", "lpddr5-6400-x16",
                  "--set", "controller.address_mapping=ChRaBaRoCoBg")
    assert out.returncode == 0, out.stderr
    bad = run_cli("replay", str(path), "--memory", "lpddr5-6400-x16",
                  "--set", "controller.address_mapping=RoBaRaCoCh")
    assert bad.returncode == 2 and "missing Bg" in bad.stderr and "got dict" not in bad.stderr
