"""The papercuts of issue #13, each with a check: help texts, one number format, units in
column names, a stored trace that disagrees with the workload, implausible `count: auto`."""

from __future__ import annotations

import argparse

import pandas as pd
import pytest
import yaml

from qmcsim.cli import build_parser
from qmcsim.commands._format import number, unit_for
from qmcsim.commands.run import build_warnings, render_report
from tests.conftest import DATA, ROOT


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser, _ = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


@pytest.mark.parametrize("name", sorted(_subparsers()))
def test_every_option_of_every_command_has_help(name):
    p = _subparsers()[name]
    for action in p._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        assert action.help and action.help.strip(), f"{name} {action.option_strings or action.dest}"
    text = p.format_help()
    assert "%%" not in text and "%(" not in text


def test_accuracy_set_examples_are_accuracy_fields():
    text = " ".join(_subparsers()["accuracy"].format_help().split())
    assert "systems." not in text and "workload." not in text and "tokens=" in text


@pytest.mark.parametrize("value, text", [
    (1e15, "1.000e+15"), (1e6, "1.000e+06"), (3069.747, "3,069.747"), (0.0, "0.000"),
    (float("nan"), "-"), (float("inf"), "inf"), (2.5e-5, "2.500e-05")])
def test_one_number_format(value, text):
    assert number(value) == text


def test_units_keep_numbers_short():
    assert unit_for([220_743.2, 16_411.3], "uJ") == ("mJ", 1e-3)
    assert unit_for([8_286.5], "uJ") == ("uJ", 1.0)
    assert unit_for([3_069.7], "MB") == ("MB", 1.0)


def test_report_columns_carry_units_and_energy_switches_unit():
    summary = pd.DataFrame([
        {"system": "fp16", "weight_bytes": 3.0e9, "weight_cells": 2.4e10, "weight_area_mm2": 110.7,
         "external_bytes_per_token": 3.07e9, "energy_per_token_uj": 220_743.2,
         "static_energy_per_token_uj": 9_939.7, "ttft_ms": 18.96, "decode_ms_per_token": 16.08,
         "cold_start_ms": 1161.9, "cold_start_energy_mj": 2099.7,
         "energy_per_token_uj_vs_fp16": 1.0}])
    per_memory = pd.DataFrame([{"system": "fp16", "memory": "flash", "bytes_per_token": 0,
                                "dynamic_uj_per_token": 0.0, "static_uj_per_token": 0.0,
                                "endurance_cycles": 1e15, "lifetime_years": float("inf")}])
    contention = pd.DataFrame([{"system": "fp16", "memory": "dram", "traffic_class": "weights",
                                "bytes_per_token": 3.0e9, "achieved_gb_per_s": 189.4,
                                "row_hit_rate": 0.98, "mean_queue_ns": 2.8}])
    text = render_report("x", "m", 10**9, "full", "fp16", summary, per_memory, contention)
    assert "energy / token (mJ)" in text and "220.743 (1.00x)" in text
    assert "MB_per_token" in text and " MB\n" not in text and "1.000e+15" in text
    assert "1,000,000,000,000,000" not in text


def test_sweep_prints_traffic_in_mb_like_run():
    from qmcsim.commands.sweep import render_points

    table = pd.DataFrame({"point": [0], "systems.q.format.rho": [0.3], "system": ["q"],
                          "external_bytes_per_token": [3.069e9], "decode_ms_per_token": [2.0]})
    text = render_points(table, ["systems.q.format.rho"])
    assert "external_MB_per_token" in text and "3,069.000" in text and "e+09" not in text


def test_workload_that_disagrees_with_the_stored_trace_is_said(run_cli, tmp_path):
    trace = ROOT / "traces" / "smollm2-135m-p32-g8-fp16.parquet"
    out = run_cli("run", str(DATA / "tiny.yaml"), "--out", "res", "--no-progress",
                  "--set", f"trace={trace}", "--set", "workload.prompt_tokens=32",
                  "--set", "workload.generate_tokens=16")
    assert out.returncode == 0, out.stderr
    assert "workload follows the stored trace" in out.stderr and "8 of them decode" in out.stderr
    resolved = yaml.safe_load(next((tmp_path / "res").iterdir()).joinpath(
        "resolved_config.yaml").read_text())
    assert any("follows the stored trace" in w for w in resolved["warnings"])
    agree = run_cli("run", str(DATA / "tiny.yaml"), "--out", "res", "--no-progress",
                    "--set", f"trace={trace}", "--set", "workload.prompt_tokens=32",
                    "--set", "workload.generate_tokens=8")
    assert agree.returncode == 0 and "warning" not in agree.stderr


def test_count_auto_on_chip_banks_at_chiplet_volume_warns():
    from qmcsim.config.loader import load_run
    from qmcsim.runner import prepare

    config = ROOT / "hw_configs" / "hymba-qmc.yaml"
    shipped = load_run(config)
    assert build_warnings(shipped, prepare(shipped)) == []   # thousands of ReRAM arrays: fine
    sot = load_run(config, ["systems.qmc-3bit.memories.mram.preset=sot-mram"])
    (line,) = build_warnings(sot, prepare(sot))
    assert "qmc-3bit" in line and "sot-mram" in line and "on-chip" in line
    assert "count: auto resolved to" in line and "mm^2" in line
