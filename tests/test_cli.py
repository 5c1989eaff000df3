"""The CLI as a user runs it: a subprocess, its output, its exit code, its results folder."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
import yaml

from tests.conftest import DATA, ROOT

FAST = ["--set", "workload.generate_tokens=2", "--no-progress"]


def test_help(run_cli):
    top = run_cli("--help")
    assert top.returncode == 0 and "run" in top.stdout
    sub = run_cli("run", "--help")
    assert sub.returncode == 0 and "--set" in sub.stdout and "--out" in sub.stdout


def test_run_with_one_job_or_several_writes_the_same_bytes(run_cli, tmp_path):
    for jobs in ("1", "2"):
        out = run_cli("run", str(DATA / "tiny.yaml"), "--out", f"j{jobs}", "--jobs", jobs, *FAST)
        assert out.returncode == 0, out.stderr
    one, two = (next((tmp_path / f"j{j}").iterdir()) for j in ("1", "2"))
    assert sorted(p.name for p in one.iterdir()) == sorted(p.name for p in two.iterdir())
    for path in one.iterdir():   # the figures too: drawn from the same tables
        assert path.read_bytes() == (two / path.name).read_bytes(), path.name
    bad = run_cli("run", str(DATA / "tiny.yaml"), "--out", "j0", "--jobs", "0", *FAST)
    assert bad.returncode == 2 and "--jobs" in bad.stderr and "got '0'" in bad.stderr
    assert not (tmp_path / "j0").exists()


def test_run_prints_report_and_writes_a_new_folder_each_time(run_cli, tmp_path):
    first = run_cli("run", str(DATA / "tiny.yaml"), "--out", "res", *FAST)
    assert first.returncode == 0, first.stderr
    assert "decode time / token (ms)" in first.stdout and "qmc" in first.stdout
    second = run_cli("run", str(DATA / "tiny.yaml"), "--out", "res", *FAST)
    assert second.returncode == 0
    folders = sorted(p.name for p in (tmp_path / "res").iterdir())
    assert folders == ["tiny-001", "tiny-002"]
    files = {p.name for p in (tmp_path / "res" / "tiny-001").iterdir()}
    assert {"resolved_config.yaml", "summary.csv", "per_step.csv", "traffic.csv",
            "footprint.csv", "per_memory.csv", "contention.csv"} <= files
    contention = pd.read_csv(tmp_path / "res" / "tiny-001" / "contention.csv")
    kv = contention[(contention.system == "fp16") & (contention.traffic_class == "kv_cache")]
    assert len(kv) == 1 and kv.achieved_gb_per_s.iloc[0] > 0
    # same config, same bytes
    for name in files:
        a = (tmp_path / "res" / "tiny-001" / name).read_bytes()
        assert a == (tmp_path / "res" / "tiny-002" / name).read_bytes(), name


def test_resolved_config_carries_sources_and_overrides(run_cli, tmp_path):
    out = run_cli("run", str(DATA / "tiny.yaml"), "--out", "res", *FAST,
                  "--set", "systems.qmc.format.rho=0.25")
    assert out.returncode == 0, out.stderr
    resolved = yaml.safe_load((tmp_path / "res" / "tiny-001" / "resolved_config.yaml").read_text())
    assert resolved["systems"][1]["format"]["rho"] == 0.25
    assert resolved["workload"]["generate_tokens"] == 2
    dram = resolved["resolved_presets"]["fp16"]["memories"]["dram"]
    assert "Table 1" in dram["read_energy_pj_per_bit"]["source"]


def test_run_with_ddr5_and_hbm3_presets(run_cli, tmp_path):
    out = run_cli("run", str(DATA / "tiny.yaml"), "--out", "res", *FAST,
                  "--set", "systems.fp16.memories.dram.preset=ddr5-4800-x16",
                  "--set", "systems.qmc.memories.dram.preset=hbm3-6400-pc")
    assert out.returncode == 0, out.stderr
    folder = tmp_path / "res" / "tiny-001"
    presets = yaml.safe_load((folder / "resolved_config.yaml").read_text())["resolved_presets"]
    assert presets["fp16"]["memories"]["dram"]["standard"] == "ddr5"
    assert presets["qmc"]["memories"]["dram"]["standard"] == "hbm3"
    contention = pd.read_csv(folder / "contention.csv")
    weights = contention[(contention.system == "fp16") & (contention.memory == "dram")
                         & (contention.traffic_class == "weights")]
    # 16 DDR5-4800 sub-channels: 307.2 GB/s peak, less refresh and row misses
    assert 250 < weights.achieved_gb_per_s.iloc[0] < 307.2


def _write(tmp_path, text: str):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    return path


def _tiny_with(**edits) -> str:
    cfg = yaml.safe_load((DATA / "tiny.yaml").read_text())
    for dotted, value in edits.items():
        node = cfg
        keys = dotted.split("/")
        for k in keys[:-1]:
            node = node[int(k)] if isinstance(node, list) else node[k]
        if value is _DELETE:
            del node[keys[-1]]
        else:
            node[keys[-1]] = value
    return yaml.safe_dump(cfg)


_DELETE = object()

BAD_INPUTS = {
    "malformed YAML": ("name: [unclosed\nmodel: x", "line 2, column 6: valid YAML expected"),
    "unknown key": (_tiny_with(**{"workload/prompt_tokenz": 3}), "workload.prompt_tokenz"),
    "missing field": (_tiny_with(**{"workload/prompt_tokens": _DELETE}),
                      "workload.prompt_tokens: required field is missing"),
    "wrong type": (_tiny_with(**{"workload/batch": "four"}), "workload.batch"),
    "wrong unit": (_tiny_with(**{"systems/0/memories/dram/params": {"read_latency_us": 4}}),
                   "systems[0].memories.dram.params.read_latency_us: unknown field"),
    "negative size": (_tiny_with(**{"systems/1/memories/reram/count": -5}),
                      "systems[1].memories.reram.count"),
    "unknown preset": (_tiny_with(**{"systems/0/memories/dram/preset": "lpddr9"}),
                       "systems[0].memories.dram.preset: unknown devices preset 'lpddr9'"),
    "model does not fit": (_tiny_with(**{"systems/1/memories/reram/count": 10}),
                           "systems[1].memories.reram.count: at least"),
    "unknown placement": (_tiny_with(**{"systems/1/placement/scales": "hbm"}),
                          "systems[1].placement.scales"),
    "missing placement": (_tiny_with(**{"systems/1/placement/outlier_values": _DELETE}),
                          "systems[1].placement.outlier_values"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_one_line_exit_2_nothing_written(run_cli, tmp_path, case):
    text, expected = BAD_INPUTS[case]
    path = _write(tmp_path, text)
    out = run_cli("run", str(path), "--out", "res", "--no-progress")
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith(f"error: {path}: ") and expected in lines[0], lines[0]
    assert "Traceback" not in out.stderr and out.stdout == ""
    assert not (tmp_path / "res").exists()


def test_bad_override_names_the_path(run_cli, tmp_path):
    out = run_cli("run", str(DATA / "tiny.yaml"), "--out", "res",
                  "--set", "systems.nosuch.format.rho=0.2")
    assert out.returncode == 2 and "systems.nosuch" in out.stderr
    assert not (tmp_path / "res").exists()


def test_bad_preset_file_names_the_preset_and_field(run_cli, tmp_path):
    presets = tmp_path / "presets"
    shutil.copytree(ROOT / "hw_configs", presets)
    dev = presets / "devices" / "lpddr5-orin.yaml"
    dev.write_text(dev.read_text().replace(
        'read_latency_ns: {value: 40.0, source: "JESD209-5B via Ramulator 2 lpddr5.py: '
        'idle-bank read (nRCD 15 + nCL 17) x tCK 1.25 ns"}', "read_latency_ns: 40.0"))
    import os
    os.environ["QMCSIM_HW_CONFIGS"] = str(presets)
    try:
        out = run_cli("run", str(DATA / "tiny.yaml"), "--out", "res")
    finally:
        del os.environ["QMCSIM_HW_CONFIGS"]
    assert out.returncode == 2
    assert f"{dev}: read_latency_ns: expected {{value: 40.0, source:" in out.stderr


def test_bench_reports_requests_per_second_and_the_controller_build(run_cli):
    out = run_cli("bench", "--requests", "3000", "--repeats", "1")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("controller: ")
    assert [ln.split(":")[0] for ln in lines[1:]] == ["sequential", "random"]
    assert all("requests/s" in ln and "of peak" in ln for ln in lines[1:])


def test_bench_model_reports_wall_per_token_and_error_vs_exhaustive(run_cli):
    out = run_cli("bench", "--model", str(ROOT / "hw_configs/hymba-qmc.yaml"),
                  "--system", "qmc-3bit", "--set", "workload.prompt_tokens=8",
                  "--set", "workload.generate_tokens=9", "--set",
                  f"model={ROOT / 'hw_configs/bench/hymba-1.5b-2layers.json'}")
    assert out.returncode == 0, out.stderr
    (line,) = out.stdout.splitlines()
    assert line.startswith("qmc-3bit: 9 decode tokens (5 simulated), wall ")
    assert "ms per decode token; exhaustive: " in line
    errors = line.split("error vs exhaustive: ")[1].split(", ")
    assert [e.rsplit(" ", 1)[0] for e in errors] == ["decode time/token", "TTFT",
                                                     "energy/token"]
    assert all(abs(float(e.rsplit(" ", 1)[1].rstrip("%"))) < 0.5 for e in errors)


@pytest.mark.parametrize("args, field", [
    (("--preset", "qmc-mram"), "--preset: a DRAM preset expected"),
    (("--requests", "0"), "--requests: an integer >= 1 expected"),
])
def test_bench_bad_input_is_one_line_and_exit_2(run_cli, args, field):
    out = run_cli("bench", *args)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and field in out.stderr


@pytest.mark.parametrize("command, said", [
    ("run", "interrupted; no results written"),
    ("sweep", "interrupted; the points finished so far are kept"),
])
def test_interrupt_says_what_the_command_leaves_behind(monkeypatch, capsys, command, said):
    from qmcsim import cli

    def interrupted(_args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli.commands()[command], "run", interrupted)
    assert cli.main([command, "x.yaml"]) == 130
    assert capsys.readouterr().err.startswith(said)


def test_start_up_imports_only_what_a_run_needs():
    """The CLI and the run pipeline import no heavy library they do not use (scipy, torch,
    transformers, tqdm without a progress bar; matplotlib only when the figure is drawn)."""
    import subprocess
    import sys

    code = ("import sys, qmcsim.cli as c; c.build_parser(); import qmcsim.pipeline, "
            "qmcsim.config.loader, qmcsim.results, qmcsim.commands.run; "
            "print(sorted(m for m in ('scipy', 'torch', 'transformers', 'tqdm', 'matplotlib', "
            "'dask') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
