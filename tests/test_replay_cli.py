"""`qmcsim replay` as a user runs it."""

from __future__ import annotations


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
        round(64_000 / (2 * 39.27) + 3.5, 1)


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
