"""`--set path.to.field=value` on the raw YAML mapping, before validation.

Paths use dots; list items by index (`systems[1]` or `systems.1`) or by their `name`
(`systems.qmc-3bit.format.rho=0.4`). Values are parsed as YAML scalars or flow collections.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import yaml

from qmcsim.config.yamlio import MAX_DEPTH, parse_yaml, yaml_problem
from qmcsim.errors import ConfigError

_INDEX = re.compile(r"\[(\d+)\]")


def parse_path(path: str) -> list[str]:
    return [p for p in _INDEX.sub(r".\1", path).split(".") if p]


def parse_value(text: str, where: str, file: str = "--set") -> Any:
    """A `--set` value: one YAML scalar or flow collection, through the strict loader."""
    try:
        return parse_yaml(text)
    except yaml.YAMLError as exc:
        _, problem = yaml_problem(exc)
        raise ConfigError(file, where, f"a YAML value expected ({problem})") from None
    except RecursionError:
        raise ConfigError(file, where, "a YAML value expected (nested too deeply)") from None


def _child(node: Any, key: str, where: str) -> tuple[Any, Any]:
    if isinstance(node, list):
        if key.isdigit() and int(key) < len(node):
            return node, int(key)
        for i, item in enumerate(node):
            if isinstance(item, dict) and item.get("name") == key:
                return node, i
        raise ConfigError("--set", where, f"no list item {key!r} (index < {len(node)} or a name)")
    if isinstance(node, dict):
        return node, key
    raise ConfigError("--set", where, "cannot descend into a scalar")


def apply_overrides(raw: dict[str, Any], assignments: list[str]) -> dict[str, Any]:
    out = copy.deepcopy(raw)
    for assignment in assignments:
        path, sep, text = assignment.partition("=")
        if not sep or not path.strip():
            raise ConfigError("--set", assignment[:60], "expected path.to.field=value")
        parts = parse_path(path.strip())
        rest = _INDEX.sub("", path)
        if not parts or len(parts) > MAX_DEPTH or "[" in rest or "]" in rest or \
                any(p != p.strip() for p in parts):
            raise ConfigError("--set", path.strip()[:60], "a dotted field path expected "
                              "(e.g. systems.qmc.format.rho or systems[1].name)")
        value = parse_value(text, path)
        node: Any = out
        for depth, key in enumerate(parts[:-1]):
            where = ".".join(parts[: depth + 1])
            container, slot = _child(node, key, where)
            if isinstance(container, dict) and slot not in container:
                container[slot] = {}
            node = container[slot]
        container, slot = _child(node, parts[-1], path)
        container[slot] = value
    return out
