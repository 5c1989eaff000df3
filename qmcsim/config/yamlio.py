"""YAML reading with errors that name the file and place, and pydantic errors as field paths."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from qmcsim.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), "", "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), "", f"cannot read file ({exc.__class__.__name__})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "<file>"
        problem = getattr(exc, "problem", None) or "malformed YAML"
        raise ConfigError(str(path), where, f"valid YAML expected ({problem})") from None
    if not isinstance(data, dict):
        raise ConfigError(str(path), "", "expected a YAML mapping at the top level")
    return data


def format_loc(loc: tuple[Any, ...], prefix: str = "") -> str:
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _describe(err: Any) -> str:
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        return "unknown field (check spelling and units in the name)"
    if kind == "missing":
        return "required field is missing"
    value = err.get("input")
    if kind == "value_error" and isinstance(value, (dict, list)):
        return str(err.get("msg", "invalid value"))   # a record's own check names the value
    shown = repr(value) if not isinstance(value, (dict, list)) else type(value).__name__
    return f"{err.get('msg', 'invalid value')}, got {shown}"


def validation_to_config_error(exc: ValidationError, file: str, prefix: str = "",
                               drop_loc: frozenset[str] = frozenset()) -> ConfigError:
    """The first pydantic error, as one line: file, field path, what was expected."""
    err = exc.errors()[0]
    loc = tuple(p for p in err["loc"] if p not in drop_loc)
    return ConfigError(file, format_loc(loc, prefix), _describe(err))


def load_validated(path: Path, model: type[M], overrides: list[str] | None = None,
                   drop_loc: frozenset[str] = frozenset()) -> M:
    """A YAML file, `--set` overrides applied, validated into `model`; errors as ConfigError."""
    from qmcsim.config.overrides import apply_overrides

    raw = apply_overrides(read_yaml_mapping(path), overrides or [])
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise validation_to_config_error(exc, str(path), drop_loc=drop_loc) from None
