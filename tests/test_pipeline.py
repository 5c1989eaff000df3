"""`qmcsim.run`: the one pipeline behind `run`, `sweep`, `bench` and the notebooks."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import qmcsim
from qmcsim.errors import ConfigError

TINY = Path(__file__).resolve().parent / "data" / "tiny.yaml"
SHORT = ["workload.generate_tokens=2", "workload.prompt_tokens=4"]


def test_run_returns_frozen_tidy_tables_and_writes_what_the_cli_writes(run_cli, tmp_path):
    started: list[int] = []
    stepped: list[object] = []
    result = qmcsim.run(TINY, SHORT, on_start=started.append, on_step=stepped.append)
    assert isinstance(result, qmcsim.RunResult)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.summary = None  # type: ignore[misc]
    assert list(result.summary.system) == ["fp16", "qmc"]
    assert started == [len(stepped)] == [2 * 3]      # prefill + 2 decode steps, 2 systems
    assert set(result.per_step.system) == set(result.traffic.system) == {"fp16", "qmc"}
    assert result.resolved_config["resolved_counts"]["qmc"]["reram"] == 2000
    out = run_cli("run", str(TINY), *[a for s in SHORT for a in ("--set", s)],
                  "--out", str(tmp_path / "r"), "--no-progress")
    assert out.returncode == 0, out.stderr
    (folder,) = (tmp_path / "r").iterdir()
    files = result.files()
    # the CLI adds the summary figure drawn from these tables (tests/test_plot.py)
    assert sorted(files) == sorted(p.name for p in folder.iterdir()
                                   if p.name not in ("summary.png", "summary.svg"))
    assert (folder / "summary.png").is_file() and (folder / "summary.svg").is_file()
    assert all((folder / name).read_bytes() == data for name, data in files.items())


def test_a_subset_of_systems_and_its_errors():
    only = qmcsim.run(TINY, SHORT, systems=["qmc"])
    assert list(only.summary.system) == ["qmc"]
    assert not any(c.endswith("_vs_fp16") for c in only.summary.columns)   # no baseline
    for bad in (["nope"], []):
        with pytest.raises(ConfigError, match="systems"):
            qmcsim.run(TINY, SHORT, systems=bad)


def test_systems_in_worker_processes_give_the_same_tables():
    serial = qmcsim.run(TINY, SHORT, jobs=1)
    seen: list[tuple[str, int]] = []
    forked = qmcsim.run(TINY, SHORT, jobs=2, on_system=lambda n, k: seen.append((n, k)))
    assert seen == [("fp16", 3), ("qmc", 3)]
    assert forked.files() == serial.files()   # every table, byte for byte


def test_a_worker_s_typed_error_reaches_the_caller(monkeypatch):
    from qmcsim import runner
    from qmcsim.errors import SimulationError

    real = runner.simulate_inference

    def failing(run, system, placement, memories, on_step=None):
        if system.name == "qmc":
            raise SimulationError("qmc: a transfer no memory completed")
        return real(run, system, placement, memories, on_step)

    monkeypatch.setattr(runner, "simulate_inference", failing)   # inherited by forked workers
    with pytest.raises(SimulationError, match="qmc: a transfer no memory completed"):
        qmcsim.run(TINY, SHORT, jobs=2)
    with pytest.raises(ConfigError, match="jobs"):
        qmcsim.run(TINY, SHORT, jobs=0)


def test_power_on_and_inference_in_separate_workers_give_the_same_tables():
    """With jobs > 1 a system's cold start (a weight load from Flash into DRAM) and its
    inference run as separate tasks: every table must match the one-process run."""
    config = Path(__file__).resolve().parents[1] / "hw_configs" / "hymba-qmc.yaml"
    small = ["model=smollm2-135m", "workload.prompt_tokens=8", "workload.generate_tokens=2"]
    serial = qmcsim.run(config, small, jobs=1)
    forked = qmcsim.run(config, small, jobs=2)
    loads = serial.summary.set_index("system")["cold_start_ms"]
    assert loads["fp16"] > 0   # the FP16 system does load its weights
    assert forked.files() == serial.files()



def test_summary_figure_encoded_in_two_processes_matches_one(monkeypatch):
    """`run` encodes the PNG here and the SVG in a forked child: the same bytes as encoding
    both in one process, and the SVG is drawn here after all if the child fails."""
    import io
    import os

    import pandas as pd

    from qmcsim.commands import run as run_cmd
    from qmcsim.plot import config_title, figure_files, run_summary, style

    files = qmcsim.run(TINY, SHORT).files()
    tables = {n.removesuffix(".csv"): pd.read_csv(io.BytesIO(d))
              for n, d in files.items() if n.endswith(".csv")}
    title = config_title(files["resolved_config.yaml"]) or ""
    serial = figure_files({"summary": run_summary(tables, title)})
    both = run_cmd.summary_figure_files(files)
    assert list(both) == ["summary.png", "summary.svg"] and both == serial

    parent, real = os.getpid(), style.save_figure

    def child_fails(fig, stem, formats=("png", "svg")):
        if os.getpid() != parent:
            raise OSError("no space left on device")
        return real(fig, stem, formats)

    monkeypatch.setattr(style, "save_figure", child_fails)
    assert run_cmd.summary_figure_files(files) == serial
