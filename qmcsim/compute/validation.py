"""Published real-hardware measurements against qmcsim's prediction (`python -m qmcsim validate`).

A validation file (hw_configs/validation/*.yaml) lists cases: model preset, storage format,
context, the measured decode rate with its source, and whether the case belongs to the
calibration set (used to fit the accelerator model) or the held-out set (never fitted to).
Each case is simulated with the file's memory and compute presets (and the ideal roofline
beside it) over a short workload: the prompt fills the context, then a few decode tokens.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from qmcsim.config.presets import PACKAGE_ROOT
from qmcsim.config.sourced import unwrap_sourced
from qmcsim.config.yamlio import read_yaml_mapping
from qmcsim.errors import ConfigError

DEFAULT_FILE = PACKAGE_ROOT / "hw_configs" / "validation" / "jetson-orin.yaml"
Split = Literal["calibration", "held-out"]
_FROZEN = ConfigDict(frozen=True, extra="forbid")
MEMORY = "main"   # the one memory instance of every validation system


class Case(BaseModel):
    model_config = _FROZEN

    id: str
    split: Split
    model: str
    format: str
    context: int = Field(ge=1, description="tokens in the KV cache while decoding")
    tokens_per_s: float = Field(gt=0, description="measured decode rate")

    @property
    def measured_ms(self) -> float:
        return 1e3 / self.tokens_per_s


class MemorySpec(BaseModel):
    model_config = _FROZEN

    preset: str
    count: int = Field(ge=1)


class ValidationFile(BaseModel):
    model_config = _FROZEN

    device: str
    memory: MemorySpec
    compute: str
    upper_bound: str
    decode_tokens: int = Field(ge=1)
    formats: dict[str, dict[str, Any]]
    goals: dict[str, float]
    sources: dict[str, str]
    context_tokens_source: str
    cases: tuple[Case, ...]
    case_sources: dict[str, str] = Field(default_factory=dict)


def load_validation(path: str | Path = DEFAULT_FILE) -> ValidationFile:
    """Read and check a validation file; every measured value carries its source."""
    file = str(path)
    raw = read_yaml_mapping(Path(path))
    cases = raw.get("cases")
    if not isinstance(cases, list) or not cases:
        raise ConfigError(file, "cases", "a non-empty list of cases expected")
    plain, case_sources = [], {}
    for i, case in enumerate(cases):
        if not isinstance(case, dict):
            raise ConfigError(file, f"cases[{i}]", "a mapping expected")
        values, sources = unwrap_sourced(case, file=file, prefix=f"cases[{i}].",
                                         require_sources=False)
        plain.append(values)
        if sources.get(f"cases[{i}].tokens_per_s"):
            case_sources[str(case.get("id"))] = sources[f"cases[{i}].tokens_per_s"]
    try:
        vf = ValidationFile.model_validate({**raw, "cases": plain, "case_sources": case_sources})
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise ConfigError(file, where, err["msg"]) from None
    seen: set[str] = set()
    for i, case in enumerate(vf.cases):
        if case.id in seen:
            raise ConfigError(file, f"cases[{i}].id", f"unique ids expected, {case.id!r} repeats")
        seen.add(case.id)
        if case.format not in vf.formats:
            raise ConfigError(file, f"cases[{i}].format",
                              f"one of {sorted(vf.formats)} expected, got {case.format!r}")
        if case.format not in vf.goals:
            raise ConfigError(file, "goals", f"a goal for format {case.format!r} expected")
        if case.id not in vf.case_sources:
            raise ConfigError(file, f"cases[{i}].tokens_per_s",
                              "{value: ..., source: \"<citation>\"} expected")
    return vf


@dataclass(frozen=True, kw_only=True)
class CaseResult:
    case: Case
    predicted_ms: float                 # calibrated accelerator
    upper_bound_ms: float = float("nan")  # ideal roofline (when run)

    @property
    def error_pct(self) -> float:
        return error_pct(self.predicted_ms, self.case.measured_ms)

    @property
    def upper_bound_error_pct(self) -> float:
        return error_pct(self.upper_bound_ms, self.case.measured_ms)


def error_pct(predicted: float, measured: float) -> float:
    """Signed relative error of a prediction, percent (negative: predicted faster)."""
    return 100.0 * (predicted - measured) / measured


def mean_absolute_pct(errors: Iterable[float]) -> float:
    values = [abs(e) for e in errors]
    return sum(values) / len(values) if values else float("nan")


def within_goal(result: CaseResult, goals: dict[str, float]) -> bool:
    return abs(result.error_pct) <= goals[result.case.format]


def run_config(vf: ValidationFile, model: str, context: int, formats: list[str],
               roofline: bool = False) -> dict[str, Any]:
    """One run config per (model, context): each format on the calibrated accelerator (and
    on the ideal roofline), the prompt filling the context, then `decode_tokens` decode
    steps."""
    computes = [("cal", vf.compute)] + ([("roof", vf.upper_bound)] if roofline else [])
    systems = []
    for fmt in formats:
        for tag, compute in computes:
            systems.append({
                "name": f"{fmt}-{tag}", "format": dict(vf.formats[fmt]), "compute": compute,
                "memories": {MEMORY: {"preset": vf.memory.preset, "count": vf.memory.count}},
                "placement": {"codes": MEMORY, "scales": MEMORY, "kv_cache": MEMORY,
                              "activations": MEMORY}})
    return {"name": f"validate-{model}", "model": model, "accounting": "full", "seed": 0,
            "compute": vf.compute, "baseline": systems[0]["name"],
            "workload": {"prompt_tokens": max(context - vf.decode_tokens, 1),
                         "generate_tokens": vf.decode_tokens, "batch": 1},
            "systems": systems}


def _uses_scales(fmt: dict[str, Any]) -> bool:
    return fmt.get("kind") != "fp16"


def run_cases(vf: ValidationFile, cases: Iterable[Case], roofline: bool = False,
              on_case: Callable[[CaseResult], None] | None = None) -> list[CaseResult]:
    """Simulate every case (grouped per model and context, one run each); with `roofline`,
    also on the ideal roofline preset."""
    from qmcsim.pipeline import run

    groups: dict[tuple[str, int], list[Case]] = {}
    for case in cases:
        groups.setdefault((case.model, case.context), []).append(case)
    results: list[CaseResult] = []
    with tempfile.TemporaryDirectory() as tmp:
        for (model, context), group in groups.items():
            formats = list(dict.fromkeys(c.format for c in group))
            cfg = run_config(vf, model, context, formats, roofline)
            for system in cfg["systems"]:
                if not _uses_scales(system["format"]):
                    del system["placement"]["scales"]
            path = Path(tmp) / f"{model}-{context}.yaml"
            path.write_text(yaml.safe_dump(cfg, sort_keys=False))
            decode_ms = {}
            for r in run(path).systems:
                times = [s.time_ns for s in r.trace.steps if s.phase == "decode"]
                decode_ms[r.system.name] = sum(times) / len(times) / 1e6
            for case in group:
                res = CaseResult(case=case, predicted_ms=decode_ms[f"{case.format}-cal"],
                                 upper_bound_ms=decode_ms.get(f"{case.format}-roof",
                                                              float("nan")))
                results.append(res)
                if on_case is not None:
                    on_case(res)
    order = {c.id: i for i, c in enumerate(vf.cases)}
    return sorted(results, key=lambda r: order.get(r.case.id, len(order)))
