"""The shipped run configs give byte-identical results folders to the blessed ones in
tests/golden/ (a refactor must not move a number; a model change re-blesses on purpose)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
CONFIGS = sorted(p.name for p in GOLDEN.iterdir() if p.is_dir())
FIGURES = ["summary.png", "summary.svg"]


def _run(name: str, out: Path) -> Path:
    subprocess.run([sys.executable, "-m", "qmcsim", "run",
                    str(ROOT / "hw_configs" / f"{name}.yaml"),
                    "--out", str(out), "--no-progress"], check=True, capture_output=True,
                   cwd=ROOT)
    (folder,) = out.iterdir()
    return folder


@pytest.mark.parametrize("name", CONFIGS)
def test_results_folder_matches_golden(name: str, tmp_path: Path) -> None:
    folder = _run(name, tmp_path)
    expected = sorted(p.name for p in (GOLDEN / name).iterdir())
    # the tables and config are golden; the figures drawn from them must be present (their
    # bytes follow the matplotlib version, so they are not compared)
    assert sorted(p.name for p in folder.iterdir()) == sorted(expected + FIGURES)
    for file in expected:
        got, want = (folder / file).read_bytes(), (GOLDEN / name / file).read_bytes()
        assert got == want, f"{name}/{file} differs from tests/golden (re-bless only on purpose)"


if __name__ == "__main__" and sys.argv[1:] == ["--bless"]:
    import tempfile

    for name in CONFIGS:
        with tempfile.TemporaryDirectory() as tmp:
            folder = _run(name, Path(tmp))
            shutil.rmtree(GOLDEN / name)
            shutil.copytree(folder, GOLDEN / name,
                            ignore=lambda _d, names: [n for n in names if n in FIGURES])
        print(f"blessed tests/golden/{name}")
