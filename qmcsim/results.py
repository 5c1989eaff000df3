"""Safe outputs: results folders written whole into a temporary folder, then renamed, never
overwritten; single files written to a unique temporary name in their folder, then renamed
over the target only if that is a regular file (never a device, FIFO or folder).

A temporary name carries the writing process's id; a later write into the same folder removes
the temporaries of processes that no longer exist (a run killed with SIGKILL mid-write cannot
clean up after itself), so no hidden leftovers accumulate.

`check_output_folder` / `check_output_file` refuse an unusable destination (a file where a
folder is needed, a path under a file, an unwritable or read-only place, a name too long for
the filesystem) before any work is done, leaving nothing behind.
"""

from __future__ import annotations

import errno
import io
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from qmcsim.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

CLI = "command line"
RESULTS_SUFFIX = "-000"   # the run number appended to a run's name


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "run"


def _name_max(folder: Path) -> int:
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255


def _existing_ancestor(path: Path, option: str) -> Path:
    """The deepest existing folder on the way to `path`; refuses a file on the way and names
    too long for the filesystem."""
    path = Path(os.path.abspath(path))
    for candidate in (path, *path.parents):
        try:
            mode = os.stat(candidate).st_mode
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.ENAMETOOLONG):
                continue
            raise ConfigError(CLI, option, f"a usable location expected; {str(candidate)!r}: "
                              f"{exc.strerror}") from None
        if not stat.S_ISDIR(mode):
            raise ConfigError(CLI, option, f"a folder expected, {str(candidate)!r} is a file"
                              if candidate == path else f"a path under a folder expected, "
                              f"{str(candidate)!r} is a file")
        limit = _name_max(candidate)
        for part in path.relative_to(candidate).parts:
            if len(part.encode()) > limit:
                raise ConfigError(CLI, option, f"folder and file names of at most {limit} "
                                  f"bytes expected, got one of {len(part.encode())}")
        return candidate
    raise ConfigError(CLI, option, f"an existing root folder expected for {str(path)!r}")


def _probe_writable(folder: Path, option: str, target: Path) -> None:
    """Create and remove a folder in `folder`: the only test that also holds for root,
    read-only mounts and pseudo-filesystems such as /proc."""
    try:
        probe = tempfile.mkdtemp(prefix=".qmcsim-probe-", dir=folder)
    except OSError as exc:
        raise ConfigError(CLI, option, f"a writable location expected for {str(target)!r} "
                          f"({str(folder)!r}: {exc.strerror or exc})") from None
    os.rmdir(probe)


def check_output_folder(parent: Path, run_name: str = "run", option: str = "--out") -> None:
    """Refuse a results parent folder that could not receive a new results folder."""
    parent = Path(parent)
    base = _existing_ancestor(parent, option)
    limit = _name_max(base)
    if len((_slug(run_name) + RESULTS_SUFFIX).encode()) > limit:
        raise ConfigError(CLI, option, f"a run name of at most {limit - len(RESULTS_SUFFIX)} "
                          f"characters expected (the results folder's name)")
    _probe_writable(base, option, parent)


def check_output_file(path: Path, option: str = "-o") -> None:
    """Refuse a single-file destination that could not be written safely."""
    path = Path(path)
    ancestor = _existing_ancestor(path.parent, option)   # a file on the way, long names
    limit = _name_max(ancestor)
    if len(path.name.encode()) + 16 > limit:   # room for the temporary name's affixes
        raise ConfigError(CLI, option, f"a file name of at most {limit - 16} bytes expected, "
                          f"got {len(path.name.encode())}")
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise ConfigError(CLI, option, f"a usable file path expected; {str(path)!r}: "
                          f"{exc.strerror}") from None
    if mode is not None and stat.S_ISDIR(mode):
        raise ConfigError(CLI, option, f"a file path expected, {str(path)!r} is a directory")
    if mode is not None and stat.S_ISLNK(mode):
        raise ConfigError(CLI, option, f"a regular file expected, {str(path)!r} is a symbolic "
                          "link (never replaced)")
    if mode is not None and not stat.S_ISREG(mode):
        raise ConfigError(CLI, option, f"a regular file expected, {str(path)!r} is a device, "
                          "FIFO or socket (never replaced)")
    folder = path.parent
    if not folder.is_dir():
        raise ConfigError(CLI, option, f"an existing folder expected for {str(path)!r}")
    _probe_writable(folder, option, path)


_STALE = re.compile(r"^\.(?:partial|.+\.tmp)-(\d+)-")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # another user's process
        return True
    except OverflowError:     # not a process id at all
        return False
    return True


def remove_stale_temporaries(folder: Path) -> None:
    """Remove the temporary files and folders that dead processes left in `folder`."""
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        m = _STALE.match(name)
        if m is None or _pid_alive(int(m.group(1))):
            continue
        path = folder / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            try:
                path.unlink()
            except OSError:
                pass


def umasked(mode: int) -> int:
    """`mode` as the process's umask leaves it: the permissions an ordinary open() or mkdir()
    would give. tempfile makes private (0600 / 0700) files and folders, which a rename would
    otherwise carry over to the results."""
    mask = os.umask(0)
    os.umask(mask)
    return mode & ~mask


@contextmanager
def atomic_file(path: Path, option: str = "-o") -> Iterator[Path]:
    """A unique temporary path beside `path`; renamed onto `path` when the block succeeds,
    removed when it fails (or is interrupted). Never replaces a non-regular file."""
    path = Path(path)
    remove_stale_temporaries(path.parent)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name[:100]}.tmp-{os.getpid()}-",
                                    suffix=".part", dir=path.parent)
    os.fchmod(fd, umasked(0o666))
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            mode = None
        if mode is not None and not stat.S_ISREG(mode):
            raise ConfigError(CLI, option, f"a regular file expected, {str(path)!r} is not "
                              "one (never replaced)")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_results_folder(parent: Path, run_name: str, files: dict[str, bytes]) -> Path:
    """Create parent/<run name>-NNN with `files`; the number is the first unused one."""
    parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".partial-{os.getpid()}-", dir=parent))
    tmp.chmod(umasked(0o777))
    try:
        for name, data in files.items():
            (tmp / name).write_bytes(data)
        stem = _slug(run_name)
        for n in range(1, 100000):
            target = parent / f"{stem}-{n:03d}"
            if target.exists() or target.is_symlink():
                continue
            try:
                os.rename(tmp, target)   # atomic; fails if another run took the name
                return target
            except OSError as exc:
                if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY) and not target.exists():
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

