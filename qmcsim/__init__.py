"""qmcsim: a heterogeneous memory simulator for small-language-model inference on edge devices.

Python API: `qmcsim.run(config_or_path, overrides=[...]) -> qmcsim.RunResult` (see README).
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["RunResult", "run"]


def __getattr__(name: str) -> Any:
    # lazy: `import qmcsim` stays light (the CLI imports only what a command needs)
    if name in ("run", "RunResult"):
        from qmcsim import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'qmcsim' has no attribute {name!r}")
