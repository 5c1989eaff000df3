"""Safe outputs under concurrency and signals, as users hit them: separate processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from qmcsim.cli import main
from qmcsim.trace.store import read_steps, scan_trace
from tests.conftest import DATA, ROOT

TRACE = ["trace", "--model", "smollm2-135m", "--prompt", "8", "--generate", "2"]
RUN = ["run", str(DATA / "tiny.yaml"), "--set", "workload.prompt_tokens=4",
       "--set", "workload.generate_tokens=1", "--no-progress"]


def start(cwd: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "qmcsim", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_concurrent_trace_and_run_into_the_same_place(tmp_path: Path) -> None:
    """Two `trace -o same.parquet` (one Parquet, one CSV) and two `run --out res` at once:
    every process succeeds, the trace is one whole file, and the runs get their own folders."""
    procs = [start(tmp_path, *TRACE, "-o", "same.parquet"),
             start(tmp_path, *TRACE, "--csv", "-o", "same.parquet"),
             start(tmp_path, *RUN, "--out", "res"),
             start(tmp_path, *RUN, "--out", "res")]
    results = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, results, strict=True):
        assert p.returncode == 0, err
    # whichever rename came last, the file is complete and self-consistent
    info = scan_trace(tmp_path / "same.parquet")
    assert info.steps == 3 and info.memories == {"dram"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["res", "same.parquet"]
    assert sorted(p.name for p in (tmp_path / "res").iterdir()) == ["tiny-001", "tiny-002"]
    a, b = ((tmp_path / "res" / f"tiny-00{i}" / "summary.csv").read_bytes() for i in (1, 2))
    assert a == b


def test_sigterm_during_trace_leaves_no_temporary_file(tmp_path: Path, capsys) -> None:
    """A killed `trace` (SIGTERM) removes its temporary file and keeps the earlier trace."""
    assert main([*TRACE, "-o", str(tmp_path / "t.parquet")]) == 0
    before = list(read_steps(tmp_path / "t.parquet"))
    proc = _long_trace_writing(tmp_path)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert [p.name for p in tmp_path.iterdir()] == ["t.parquet"]
    assert list(read_steps(tmp_path / "t.parquet")) == before


def test_results_folders_and_files_get_ordinary_permissions(tmp_path):
    """tempfile makes 0700 folders and 0600 files; after the rename, results must be readable
    as the umask allows (here 022), like any other file the user writes."""
    import os

    from qmcsim.results import atomic_file, write_results_folder

    old = os.umask(0o022)
    try:
        folder = write_results_folder(tmp_path, "perm", {"a.csv": b"x\n"})
        with atomic_file(tmp_path / "single.csv") as tmp:
            tmp.write_bytes(b"y\n")
    finally:
        os.umask(old)
    assert folder.stat().st_mode & 0o777 == 0o755
    assert (folder / "a.csv").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "single.csv").stat().st_mode & 0o777 == 0o644


def test_sigkill_leftovers_are_removed_by_the_next_write(tmp_path: Path) -> None:
    """SIGKILL leaves a process no chance to remove its temporary file; the next write into
    the same folder removes it (its writer is gone) and keeps a live writer's."""
    from qmcsim.results import write_results_folder

    proc = _long_trace_writing(tmp_path)
    proc.kill()
    proc.communicate(timeout=60)
    left = [p.name for p in tmp_path.iterdir()]
    assert len(left) == 1 and left[0].endswith(".part")   # what SIGKILL leaves
    assert main([*TRACE, "-o", str(tmp_path / "t.parquet")]) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["t.parquet"]

    # results folders: a dead writer's partial folder goes, a live one's stays
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    stale = tmp_path / "res" / f".partial-{int(dead.stdout)}-abc"
    live = tmp_path / "res" / f".partial-{os.getpid()}-def"
    for folder in (stale, live):
        folder.mkdir(parents=True)
        (folder / "summary.csv").write_bytes(b"half\n")
    write_results_folder(tmp_path / "res", "run", {"a.csv": b"x\n"})
    assert sorted(p.name for p in (tmp_path / "res").iterdir()) == [live.name, "run-001"]


def _long_trace_writing(tmp_path: Path) -> subprocess.Popen[str]:
    """A `trace` long enough to be caught mid-write: returns once its temporary file exists."""
    proc = start(tmp_path, "trace", "--model", "smollm2-135m", "--prompt", "64",
                 "--generate", "4000", "-o", "t.parquet")
    deadline = time.monotonic() + 120
    while not any(p.name.endswith(".part") for p in tmp_path.iterdir()):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    return proc
