"""Golden test: paper accounting reproduces the QMC study's headline ratios for Hymba-1.5B."""

from __future__ import annotations

import pytest

import qmcsim

from tests.conftest import ROOT


@pytest.fixture(scope="module")
def summary():
    return qmcsim.run(ROOT / "hw_configs" / "hymba-qmc-paper.yaml",
                      ["workload.generate_tokens=1", "workload.prompt_tokens=8"]
                      ).summary.set_index("system")


@pytest.mark.parametrize("system, metric, published", [
    ("qmc-3bit", "weight_cells", 7.27),
    ("qmc-2bit", "weight_cells", 6.27),
    ("qmc-3bit", "external_bytes_per_token", 7.62),
    ("qmc-2bit", "external_bytes_per_token", 7.62),
    ("qmc-3bit", "energy_per_token_uj", 11.7),
])
def test_paper_ratio_within_one_percent(summary, system, metric, published):
    ratio = summary.loc[system, f"{metric}_vs_fp16"]
    assert ratio == pytest.approx(published, rel=0.01)


def test_paper_nvm_area_matches_study(summary):
    # QMC: ReRAM + MRAM take 133.66 mm^2 for Hymba-1.5B (3-bit cells)
    assert summary.loc["qmc-3bit", "weight_area_mm2"] == pytest.approx(133.66, rel=0.01)
