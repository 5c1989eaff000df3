"""Device presets -> typed parameter records of the class their `kind:` registers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from qmcsim.config.presets import load_raw_preset
from qmcsim.config.sourced import unwrap_sourced
from qmcsim.config.checks import check_device
from qmcsim.config.yamlio import format_loc, plain_number_problem, validation_to_config_error
from qmcsim.errors import ConfigError
from qmcsim.lru import LastUsed
from qmcsim.memories.base import DeviceParams, technology


# Validated presets, keyed by everything validation reads: the preset's merged mapping (so its
# files' content), its path, the overrides and where they are written. A sweep resolves the
# same presets for every point; a preset file that changes is a new key, never a stale hit.
DEVICES_KEPT = 256
_VALIDATED: LastUsed[str, DeviceParams] = LastUsed(DEVICES_KEPT)


def load_device(name: str, overrides: dict[str, Any] | None = None, *, file: str,
                field_path: str) -> DeviceParams:
    """Resolve a device preset by name, apply a run config's overrides, validate."""
    raw, path = load_raw_preset("devices", name, file=file, field_path=f"{field_path}.preset")
    key = json.dumps([raw, str(path), overrides, file, field_path], sort_keys=True,
                     default=repr)
    return _VALIDATED.get_or_build(
        key, lambda: _validate(raw, path, overrides, file=file, field_path=field_path))


def _validate(raw: dict[str, Any], path: Path, overrides: dict[str, Any] | None, *,
              file: str, field_path: str) -> DeviceParams:
    values, sources = unwrap_sourced(raw, file=str(path))
    kind = values.get("kind")
    if not isinstance(kind, str):
        raise ConfigError(str(path), "kind", f"a memory kind expected, got {kind!r}")
    params_class = technology(kind, file=str(path), field_path="kind").params_class
    if overrides:
        over_values, over_sources = unwrap_sourced(
            overrides, file=file, prefix="", require_sources=False,
            default_source=f"override in {file} ({field_path}.params)")
        values = _deep_merge(values, over_values)
        sources.update(over_sources)
    values["sources"] = sources
    try:
        params = params_class.model_validate(values)
    except ValidationError as exc:
        if overrides and exc.errors()[0]["loc"] and exc.errors()[0]["loc"][0] in overrides:
            raise validation_to_config_error(exc, file, f"{field_path}.params") from None
        raise validation_to_config_error(exc, str(path)) from None
    found = plain_number_problem(values, params.model_dump())
    if found:
        loc, expected = found
        overridden = bool(overrides) and bool(loc) and loc[0] in (overrides or {})
        raise ConfigError(file if overridden else str(path),
                          format_loc(loc, f"{field_path}.params" if overridden else ""),
                          expected)
    check_device(params, preset_file=str(path), run_file=file,
                 params_path=f"{field_path}.params", overridden=frozenset(overrides or {}))
    return params


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        out[key] = _deep_merge(out[key], value) if isinstance(value, dict) and \
            isinstance(out.get(key), dict) else value
    return out
