"""Every number in a preset carries its source: `field: {value: 3.5, source: "QMC Table 1"}`.

Presets are unwrapped into plain values (for the typed record) and a flat map from dotted field
name to citation (kept on the record and written back into the resolved config).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qmcsim.errors import ConfigError

SOURCED_KEYS = frozenset({"value", "source"})


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _is_numeric_list(x: Any) -> bool:
    return isinstance(x, list) and bool(x) and all(_is_number(v) or _is_numeric_list(v) for v in x)


def unwrap_sourced(raw: Mapping[str, Any], *, file: str, prefix: str = "",
                   require_sources: bool = True,
                   default_source: str = "") -> tuple[dict[str, Any], dict[str, str]]:
    """Split `{value, source}` pairs into values and a dotted-name -> source map.

    With `require_sources`, a bare number (or list of numbers) is an error naming its field.
    Without it, bare numbers are accepted and attributed to `default_source`.
    """
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for key, item in raw.items():
        path = f"{prefix}{key}"
        if isinstance(item, Mapping) and set(item) == SOURCED_KEYS:
            src = item["source"]
            if not isinstance(src, str) or not src.strip():
                raise ConfigError(file, f"{path}.source", "expected a non-empty citation string")
            values[key] = item["value"]
            sources[path] = src.strip()
        elif isinstance(item, Mapping) and key != "sources":
            sub_values, sub_sources = unwrap_sourced(
                item, file=file, prefix=f"{path}.", require_sources=require_sources,
                default_source=default_source)
            values[key] = sub_values
            sources.update(sub_sources)
        elif _is_number(item) or _is_numeric_list(item):
            if require_sources:
                raise ConfigError(file, path,
                                  f"expected {{value: {item!r}, source: \"<citation>\"}}"
                                  " (every number in a preset needs a source)")
            values[key] = item
            sources[path] = default_source
        else:
            values[key] = item
    return values, sources


def rewrap_sourced(values: Mapping[str, Any], sources: Mapping[str, str],
                   prefix: str = "") -> dict[str, Any]:
    """Inverse of unwrap_sourced, for writing resolved presets back out."""
    out: dict[str, Any] = {}
    for key, item in values.items():
        path = f"{prefix}{key}"
        if key == "sources":
            continue
        if isinstance(item, Mapping):
            out[key] = rewrap_sourced(item, sources, prefix=f"{path}.")
        elif path in sources:
            out[key] = {"value": item, "source": sources[path]}
        else:
            out[key] = item
    return out
