"""The compiled build of the controller (setup.py): present after the README's install, built
from the current source, and switched off by QMCSIM_PURE_PYTHON."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qmcsim.memories.dram import controller


def _can_compile() -> bool:
    try:
        import Cython  # noqa: F401
    except ImportError:
        return False
    return any(shutil.which(cc) for cc in ("cc", "gcc", "clang"))


@pytest.mark.skipif(not _can_compile(), reason="no Cython or no C compiler: pure Python only")
@pytest.mark.skipif(bool(os.environ.get("QMCSIM_PURE_PYTHON")), reason="QMCSIM_PURE_PYTHON set")
def test_install_built_the_current_source() -> None:
    # fails after an edit of controller.py until `pip install -e .` rebuilds it
    assert controller.IMPLEMENTATION == "compiled", controller.IMPLEMENTATION
    from qmcsim.memories.dram import _ccontroller  # type: ignore[attr-defined]

    source = Path(controller.__file__).read_bytes()
    assert _ccontroller.SOURCE_SHA256 == hashlib.sha256(source).hexdigest()
    assert controller.ChannelController is _ccontroller.FrFcfsController
    assert controller.PythonChannelController is controller.FrFcfsController


def test_environment_variable_selects_pure_python() -> None:
    code = ("from qmcsim.memories.dram import controller as c; "
            "print(c.IMPLEMENTATION); print(c.ChannelController is c.PythonChannelController)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "QMCSIM_PURE_PYTHON": "1"}).stdout
    assert out.split("\n")[:2] == ["python (QMCSIM_PURE_PYTHON is set)", "True"]
