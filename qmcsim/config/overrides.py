"""`--set path.to.field=value` on the raw YAML mapping, before validation.

Paths use dots; list items by index (`systems[1]` or `systems.1`) or by their `name`
(`systems.qmc-3bit.format.rho=0.4`). Values are parsed as YAML scalars or flow collections.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import yaml

from qmcsim.errors import ConfigError

_INDEX = re.compile(r"\[(\d+)\]")


def parse_path(path: str) -> list[str]:
    return [p for p in _INDEX.sub(r".\1", path).split(".") if p]


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
            raise ConfigError("--set", assignment, "expected path.to.field=value")
        parts = parse_path(path.strip())
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            raise ConfigError("--set", path, f"a YAML value expected, got {text!r}") from None
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
