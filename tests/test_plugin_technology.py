"""A memory technology from outside the package: the PCM example in tests/plugins/qmcsim_pcm,
installed as a distribution with a `qmcsim.memories` entry point (a dist-info folder in a
temporary site directory) and presets named by QMCSIM_HW_CONFIGS. It works in `run`, in the
accuracy noise path and in the area comparison with no edit under qmcsim/."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from qmcsim.memories import base

ROOT = Path(__file__).resolve().parent.parent
PLUGINS = Path(__file__).resolve().parent / "plugins"
PRESETS = PLUGINS / "qmcsim_pcm" / "hw_configs"

CONFIG = """
name: pcm-example
model: smollm2-135m
workload: {prompt_tokens: 8, generate_tokens: 2, batch: 1}
accounting: full
compute: jetson-agx-orin
systems:
  - name: fp16
    format: {kind: fp16}
    memories:
      dram: {preset: lpddr5-orin, count: 16}
      flash: {preset: ufs4-nand, count: 1}
    placement: {codes: dram, kv_cache: dram, activations: dram, weights_copy: flash}
  - name: rtn4-pcm
    format: {kind: rtn, bits: 4}
    memories:
      pcm: {preset: pcm-mlc-2b, count: auto}
      dram: {preset: lpddr5-orin, count: 16}
    placement: {codes: pcm, scales: pcm, kv_cache: dram, activations: dram}
"""


def install_dist(site: Path) -> None:
    """What `pip install` of a package declaring the entry point leaves on sys.path."""
    info = site / "qmcsim_pcm-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: qmcsim-pcm\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[qmcsim.memories]\npcm = qmcsim_pcm\n")


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    site = tmp_path / "site"
    install_dist(site)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.syspath_prepend(str(PLUGINS))
    monkeypatch.setenv("QMCSIM_HW_CONFIGS", str(PRESETS))
    (tmp_path / "run.yaml").write_text(CONFIG)
    yield site
    base._REGISTRY.pop("pcm", None)   # leave the registry as other tests expect it
    sys.modules.pop("qmcsim_pcm", None)


def test_the_example_lives_outside_the_package():
    assert "pcm" not in base.registry()
    assert not any("pcm" in p.read_text().lower() for p in (ROOT / "qmcsim").rglob("*.py"))


def test_run_command_simulates_the_outside_technology(plugin: Path, tmp_path: Path):
    env = {**os.environ, "QMCSIM_HW_CONFIGS": str(PRESETS),
           "PYTHONPATH": os.pathsep.join([str(ROOT), str(plugin), str(PLUGINS)])}
    out = subprocess.run([sys.executable, "-m", "qmcsim", "run", str(tmp_path / "run.yaml"),
                          "--out", str(tmp_path / "results"), "--no-progress"], env=env,
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    (folder,) = (tmp_path / "results").iterdir()
    with open(folder / "per_memory.csv") as fh:
        rows = {(r["system"], r["memory"]): r for r in csv.DictReader(fh)}
    pcm = rows[("rtn4-pcm", "pcm")]
    assert float(pcm["bytes_per_token"]) > 0 and float(pcm["dynamic_uj_per_token"]) > 0
    assert float(pcm["endurance_cycles"]) == 1e9
    with open(folder / "summary.csv") as fh:
        summary = {r["system"]: r for r in csv.DictReader(fh)}
    assert float(summary["rtn4-pcm"]["decode_ms_per_token"]) > 0


def test_noise_path_uses_the_technologys_drift(plugin: Path):
    from qmcsim.config.devices import load_device
    from qmcsim.noise.inject import LevelNoise, noise_of_device, perturb_codes

    params = load_device("pcm-mlc-2b", file="test", field_path="preset")
    fresh = noise_of_device(params)
    aged = noise_of_device(params, read_time_s=3e7)   # about a year after programming
    assert isinstance(fresh, LevelNoise) and isinstance(aged, LevelNoise)
    assert aged.model.error_rate().mean() > 10 * fresh.model.error_rate().mean()
    codes = np.random.default_rng(0).integers(0, 16, size=20_000, dtype=np.uint8)
    flipped = [np.mean(perturb_codes(codes, 4, n, np.random.default_rng(1)) != codes)
               for n in (fresh, aged)]
    assert flipped[1] > flipped[0]


def test_an_accuracy_config_places_codes_on_the_technology(plugin: Path):
    from qmcsim.accuracy.config import load_accuracy
    from qmcsim.noise.inject import LevelNoise

    example = ROOT / "hw_configs" / "accuracy-smollm2.yaml"
    at = {t: {v.name: v for v in load_accuracy(example, [
        "variants.qmc-reram-3b.placement.codes=pcm-mlc-2b",
        f"variants.qmc-reram-3b.read_time_s={t}"]).variants} for t in (1, 3e7)}
    fresh, aged = (at[t]["qmc-reram-3b"].noise["codes"] for t in (1, 3e7))
    assert isinstance(fresh, LevelNoise) and fresh.cell_bits == 2
    assert aged.model.error_rate().mean() > fresh.model.error_rate().mean()


def test_area_comparison_counts_the_technology_as_nvm(plugin: Path, tmp_path: Path):
    from qmcsim.area import area_comparison
    from qmcsim.config.loader import load_run
    from qmcsim.runner import prepare
    from qmcsim.units import MEBIBIT

    run = load_run(tmp_path / "run.yaml")
    placed = {s.name: (s, p) for s, p in prepare(run)}
    a = area_comparison(*placed["rtn4-pcm"], *placed["fp16"])
    bits = placed["rtn4-pcm"][1].footprint("pcm").weight_bits
    assert a.nvm_mm2 == {"pcm": pytest.approx(bits / (40.0 * MEBIBIT))}
    assert set(a.replaced_mm2) == {"dram", "flash (copy)"}


def test_preset_folders_are_searched_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from qmcsim.config.presets import load_raw_preset

    first, second = tmp_path / "a", tmp_path / "b"
    for folder, latency in ((first, 1.0), (second, 2.0)):
        (folder / "devices").mkdir(parents=True)
        (folder / "devices" / "both.yaml").write_text(f"read_latency_ns: {latency}\n")
    (second / "devices" / "only-b.yaml").write_text("read_latency_ns: 3.0\n")
    monkeypatch.setenv("QMCSIM_HW_CONFIGS", os.pathsep.join([str(first), str(second)]))
    assert load_raw_preset("devices", "both", file="t", field_path="p")[0]["read_latency_ns"] == 1
    assert load_raw_preset("devices", "only-b", file="t", field_path="p")[1].parent.parent \
        == second
