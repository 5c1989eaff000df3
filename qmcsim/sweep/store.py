"""A sweep's folder: one Parquet file per finished point, named by the point's key, written
whole to a temporary file and renamed, so a SIGKILL at any moment leaves each point either
finished (its file exists) or not (at most a temporary file, removed on the next start).

    OUT/sweep.json                the sweep config (a different sweep in the same OUT is refused)
    OUT/points/<key>.parquet      one per finished point (rows, or the point's one-line error)
    OUT/points.parquet, .csv      the combined table, rewritten at the end of every run
    OUT/failures.csv              points that failed, with their error
    OUT/resolved/point-NNNN.json  every point's resolved config (JSON, which YAML readers read)
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
from pathlib import Path
from typing import Any

import pandas as pd

from qmcsim import __version__
from qmcsim.errors import ConfigError

TMP_PREFIX = ".tmp-"
KILL_HOOK = "QMCSIM_SWEEP_KILL_AT"   # tests: "start", "stored:N" or "writing:N" -> SIGKILL self


def point_key(resolved: dict[str, Any]) -> str:
    """Hash of the fully resolved config (presets, counts) and the simulator version."""
    blob = json.dumps({"qmcsim": __version__, "config": resolved}, sort_keys=True,
                      separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def kill_hook(stage: str, n: int | None = None) -> None:
    """Die by SIGKILL at a chosen moment, so tests can interrupt deterministically."""
    want = os.environ.get(KILL_HOOK)
    if want and want == (stage if n is None else f"{stage}:{n}"):
        os.kill(os.getpid(), signal.SIGKILL)


def atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f"{TMP_PREFIX}{path.name}.{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _manifest_text(sweep: dict[str, Any]) -> str:
    return json.dumps(sweep, sort_keys=True, indent=1)


def check_manifest(folder: Path, sweep: dict[str, Any], *, file: str = "--out") -> None:
    """Refuse a folder that holds a different sweep (creates nothing)."""
    manifest = folder / "sweep.json"
    if manifest.exists() and manifest.read_text() != _manifest_text(sweep):
        raise ConfigError(file, "", f"{str(folder)!r} holds a different sweep "
                          "(its sweep.json differs); choose another --out")


class PointStore:
    def __init__(self, folder: Path, sweep: dict[str, Any], *, file: str = "--out") -> None:
        check_manifest(folder, sweep, file=file)
        self.folder = folder
        self.points = folder / "points"
        self.points.mkdir(parents=True, exist_ok=True)
        self.written = 0
        self.clean()
        manifest = folder / "sweep.json"
        if not manifest.exists():
            atomic_write(manifest, _manifest_text(sweep).encode())

    def clean(self) -> None:
        """Remove temporary files a killed run left behind."""
        for folder in (self.folder, self.points, self.folder / "resolved"):
            for tmp in folder.glob(f"{TMP_PREFIX}*"):
                tmp.unlink(missing_ok=True)

    def path(self, key: str) -> Path:
        return self.points / f"{key}.parquet"

    def finished(self, key: str) -> bool:
        return self.path(key).is_file()

    def read(self, key: str) -> pd.DataFrame:
        return pd.read_parquet(self.path(key))

    def write(self, key: str, rows: pd.DataFrame) -> None:
        target = self.path(key)
        tmp = target.with_name(f"{TMP_PREFIX}{key}.{os.getpid()}.parquet")
        rows.to_parquet(tmp, index=False)
        self.written += 1
        kill_hook("writing", self.written)
        os.replace(tmp, target)
        kill_hook("stored", self.written)
