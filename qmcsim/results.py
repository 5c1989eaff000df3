"""Results folders: written whole into a temporary folder, then renamed; never overwritten."""

from __future__ import annotations

import io
import os
import re
import shutil
import tempfile
from pathlib import Path

import pandas as pd


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "run"


def write_results_folder(parent: Path, run_name: str, files: dict[str, bytes]) -> Path:
    """Create parent/<run name>-NNN with `files`; the number is the first unused one."""
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".partial-", dir=parent))
    try:
        for name, data in files.items():
            (tmp / name).write_bytes(data)
        stem = _slug(run_name)
        for n in range(1, 100000):
            target = parent / f"{stem}-{n:03d}"
            if target.exists():
                continue
            try:
                os.rename(tmp, target)   # atomic; fails if another run took the name
                return target
            except OSError:
                if not target.exists():
                    raise
        raise FileExistsError(f"no free results folder name under {parent}")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def csv_bytes(df: pd.DataFrame) -> bytes:
    """A table as CSV, byte-for-byte reproducible (fixed float format and line ends)."""
    buf = io.StringIO()
    df.to_csv(buf, index=False, float_format="%.10g", lineterminator="\n")
    return buf.getvalue().encode()
