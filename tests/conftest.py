from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture
def run_cli(tmp_path):
    """Run `python -m qmcsim ...` as a subprocess from a scratch working directory."""

    def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        return subprocess.run([sys.executable, "-m", "qmcsim", *args], cwd=cwd or tmp_path,
                              env=env, capture_output=True, text=True, timeout=300)

    return _run
