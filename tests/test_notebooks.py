"""Every notebook runs top to bottom in a fresh Jupyter kernel (nbclient), shows its figures
inline and saves them (short settings: QMCSIM_NOTEBOOK_FAST)."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_the_five_notebooks_are_there():
    assert {p.stem for p in NOTEBOOKS} == {"quickstart", "paper-reproduction", "design-space",
                                           "noise", "dram-contention"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_in_a_kernel_and_saves_its_figures(path, tmp_path, monkeypatch):
    if path.stem == "noise":   # perplexity on SmolLM2-135M (torch, the offline GGUF package)
        pytest.importorskip("torch")
        from qmcsim.accuracy.model import smollm2_gguf_path
        from qmcsim.errors import ConfigError

        try:
            smollm2_gguf_path(file="notebooks/noise.ipynb")
        except ConfigError as exc:
            pytest.skip(str(exc))
    figures = tmp_path / "figures"
    monkeypatch.setenv("PYTHONPATH", str(ROOT))        # the kernel imports this checkout
    monkeypatch.setenv("QMCSIM_NOTEBOOK_FAST", "1")
    monkeypatch.setenv("QMCSIM_FIGURES", str(figures))
    monkeypatch.delenv("MPLBACKEND", raising=False)
    book = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(book, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    shown = [o for cell in book.cells if cell.cell_type == "code" for o in cell.outputs
             if "image/png" in o.get("data", {})]
    saved = sorted(figures.glob("*.png"))
    assert saved, "the notebook saved no figure"
    # every saved figure is also shown inline (the library leaves the inline backend alone)
    assert len(shown) >= len(saved)
