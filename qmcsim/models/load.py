"""A model named by preset (hw_configs/models/<name>.yaml) or by a config.json path."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from qmcsim.config.presets import load_raw_preset
from qmcsim.errors import ConfigError
from qmcsim.lru import LastUsed
from qmcsim.models.hf import UnsupportedModel, build_model
from qmcsim.models.shape import ModelShape

MAX_CONFIG_JSON_BYTES = 4 << 20   # Hugging Face config.json files are a few kB

# Built shapes, keyed by what building reads: the preset's merged mapping or the config.json
# bytes, and the path. A sweep loads the same model for every point; a file whose content
# changes is a new key, never a stale hit.
MODELS_KEPT = 16
_BUILT: LastUsed[str, ModelShape] = LastUsed(MODELS_KEPT)


def load_model(spec: str, *, file: str, field_path: str,
               base_dir: Path | None = None) -> ModelShape:
    path = Path(spec)
    if not path.is_absolute() and base_dir is not None and (base_dir / path).is_file():
        path = base_dir / path
    if spec.endswith(".json") or path.is_file():
        return _from_config_json(path, file=file, field_path=field_path)
    raw, preset_file = load_raw_preset("models", spec, file=file, field_path=field_path)
    key = json.dumps(["preset", spec, str(preset_file), raw], sort_keys=True, default=repr)
    return _BUILT.get_or_build(key, lambda: _from_preset(raw, spec, preset_file))


def _from_preset(raw: dict[str, Any], spec: str, preset_file: Path) -> ModelShape:
    cfg = raw.get("config")
    if not isinstance(cfg, dict):
        raise ConfigError(str(preset_file), "config", "expected the config.json mapping")
    published = raw.get("published_parameters")
    try:
        return build_model(cfg, name=spec, source=str(raw.get("source", preset_file)),
                           published_parameters=published if isinstance(published, int) else None)
    except UnsupportedModel as exc:
        raise ConfigError(str(preset_file), f"config.{exc.field}", exc.expected) from None
    except (ValueError, TypeError) as exc:   # a dimension no builder can lay out
        raise ConfigError(str(preset_file), "config", f"a buildable model expected "
                          f"({str(exc)[:120]})") from None


def _from_config_json(path: Path, *, file: str, field_path: str) -> ModelShape:
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_CONFIG_JSON_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(file, field_path, f"model preset name or config.json path expected; "
                          f"{str(path)!r} does not exist") from None
    except OSError as exc:
        raise ConfigError(str(path), "", f"a readable file expected ({exc.strerror})") from None
    if len(data) > MAX_CONFIG_JSON_BYTES:
        raise ConfigError(str(path), "", f"a config.json of at most {MAX_CONFIG_JSON_BYTES:,} "
                          "bytes expected")
    try:
        cfg = json.loads(data.decode("utf-8"), parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        reason = str(exc).splitlines()[0][:100] if isinstance(exc, ValueError) else \
            "nested too deeply"
        raise ConfigError(str(path), "", f"valid JSON expected ({reason})") from None
    if not isinstance(cfg, dict):
        raise ConfigError(str(path), "", "expected a JSON object")
    name = path.parent.name if path.name == "config.json" else path.stem
    key = json.dumps(["config.json", str(path), hashlib.sha256(data).hexdigest()])
    return _BUILT.get_or_build(key, lambda: _from_mapping(cfg, name, path))


def _from_mapping(cfg: dict[str, Any], name: str, path: Path) -> ModelShape:
    try:
        return build_model(cfg, name=name, source=str(path))
    except UnsupportedModel as exc:
        raise ConfigError(str(path), exc.field, exc.expected) from None
    except (ValueError, TypeError) as exc:   # a dimension no builder can lay out
        raise ConfigError(str(path), "", f"a buildable model expected ({str(exc)[:120]})") \
            from None


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")
