"""The plotting notebooks run top to bottom (their code cells, in order, fast settings)."""

from __future__ import annotations

import json

import matplotlib
import pytest

from tests.conftest import ROOT

matplotlib.use("Agg")

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, monkeypatch):
    import matplotlib.pyplot as plt

    monkeypatch.setenv("QMCSIM_NOTEBOOK_FAST", "1")
    cells = json.loads(path.read_text())["cells"]
    namespace: dict[str, object] = {}
    for cell in cells:
        if cell["cell_type"] == "code":
            exec(compile("".join(cell["source"]), f"{path.name}", "exec"), namespace)
    assert plt.get_fignums(), "the notebook drew no figure"
    plt.close("all")
