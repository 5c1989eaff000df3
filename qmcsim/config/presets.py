"""Named presets in hw_configs/: devices, compute engines and models.

A preset may `extends:` another of its folder and state only what differs (as Ramulator's
variants do). Presets are looked up in the folders $QMCSIM_HW_CONFIGS names (if set; several
separated by os.pathsep, the first that has the preset wins), then in the hw_configs/ folder
next to the installed package. A technology from outside the package ships its presets in a
folder added this way.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from qmcsim.config.yamlio import read_yaml_mapping
from qmcsim.errors import ConfigError

PACKAGE_ROOT = Path(__file__).resolve().parent.parent.parent
# A preset is named, never addressed: no separators, no "..", no hidden files.
PRESET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,99}")


def preset_roots() -> list[Path]:
    roots: list[Path] = []
    env = os.environ.get("QMCSIM_HW_CONFIGS", "")
    roots.extend(Path(folder) for folder in env.split(os.pathsep) if folder)
    roots.append(PACKAGE_ROOT / "hw_configs")
    return roots


def available(folder: str) -> list[str]:
    names: set[str] = set()
    for root in preset_roots():
        names.update(p.stem for p in (root / folder).glob("*.yaml"))
    return sorted(names)


def check_preset_name(folder: str, name: object, *, file: str, field_path: str) -> str:
    """A preset name (letters, digits, . _ + -), not a path: it cannot leave the preset folders."""
    if not isinstance(name, str) or not PRESET_NAME.fullmatch(name) or ".." in name:
        shown = repr(name) if len(repr(name)) <= 60 else repr(name)[:57] + "..."
        raise ConfigError(file, field_path, f"a {folder} preset name expected (letters, digits, "
                          f"'.', '_', '+', '-'; no paths), got {shown}")
    return name


def preset_path(folder: str, name: str, *, file: str, field_path: str) -> Path:
    check_preset_name(folder, name, file=file, field_path=field_path)
    for root in preset_roots():
        candidate = root / folder / f"{name}.yaml"
        if candidate.is_file():
            return candidate
    known = ", ".join(available(folder)) or "none"
    raise ConfigError(file, field_path, f"unknown {folder} preset {name!r}; known: {known}")


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and \
                set(value) != {"value", "source"}:
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def load_raw_preset(folder: str, name: str, *, file: str, field_path: str,
                    _seen: tuple[str, ...] = ()) -> tuple[dict[str, Any], Path]:
    """The preset's raw mapping with its `extends:` chain merged in, and its path."""
    if name in _seen:
        chain = " -> ".join((*_seen, name))
        raise ConfigError(file, field_path, f"preset {name!r} extends itself ({chain})")
    path = preset_path(folder, name, file=file, field_path=field_path)
    raw = read_yaml_mapping(path)
    own_name = raw.pop("name", name)
    if own_name != name:
        raise ConfigError(str(path), "name", f"expected {name!r} (the file name)")
    parent = raw.pop("extends", None)
    if parent is not None:
        if not isinstance(parent, str):
            raise ConfigError(str(path), "extends", "expected a preset name")
        base, _ = load_raw_preset(folder, parent, file=str(path), field_path="extends",
                                  _seen=(*_seen, name))
        raw = _merge(base, raw)
    raw["name"] = name
    return raw, path
