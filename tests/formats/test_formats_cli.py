"""The `formats` command, run as the user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]


def qmcsim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "qmcsim", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_formats_table_on_smollm2(tmp_path: Path):
    out = tmp_path / "f.csv"
    r = qmcsim("formats", "--model", "smollm2-135m", "--csv", str(out))
    assert r.returncode == 0, r.stderr
    assert "MXFP4" in r.stdout and "SpQR" in r.stdout and "relative" in r.stdout
    table = pd.read_csv(out).set_index("format")
    assert table.loc["FP16", "bits/weight"] == 16
    parts = table[["codes", "scales", "outlier_values", "outlier_indices"]].sum(axis=1)
    assert (parts - table["bits/weight"]).abs().max() < 1e-5
    # the study's 3.6 bits + 1 bit of bitmap, on this model
    bitmap = table.loc["QMC rho 0.3, bitmap"]
    assert abs(bitmap["outlier_indices"] - 1.0) < 1e-3
    # the size column says its unit: decimal megabytes of the stored bits
    assert table.loc["FP16", "MB (10^6 bytes)"] == pytest.approx(134_515_008 * 2 / 1e6)


def test_formats_paper_accounting_drops_metadata():
    r = qmcsim("formats", "--model", "smollm2-135m", "--accounting", "paper")
    assert r.returncode == 0, r.stderr
    line = next(s for s in r.stdout.splitlines() if "QMC rho 0.3, bitmap" in s)
    assert line.split()[4] == "3.6000"       # bits/weight, no scales, no index


def test_bad_model_exits_2_with_one_line():
    r = qmcsim("formats", "--model", "no-such-model")
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "no-such-model" in r.stderr


def test_bad_weights_exits_2_with_one_line(tmp_path: Path):
    r = qmcsim("formats", "--model", "smollm2-135m", "--weights", str(tmp_path / "x.gguf"))
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "x.gguf" in r.stderr
