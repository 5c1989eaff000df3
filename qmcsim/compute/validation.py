"""Published real-hardware measurements against qmcsim's prediction (`python -m qmcsim validate`).

A validation file (hw_configs/validation/*.yaml) lists cases: model preset, storage format,
phase, context, the measured value with its source, and whether the case belongs to the
calibration set (used to fit the accelerator model) or the held-out set (never fitted to).
A decode case gives the measured decode rate with `context` tokens in the KV cache; a prefill
case gives the measured time to process a prompt of `context` tokens (the context phase up to
the first token's logits). Each case is simulated with the file's memory preset and compute
preset, or the kernel profile of its `runtime` (and the ideal roofline beside it); a run
simulates only the phase its cases predict.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from qmcsim.config.presets import PACKAGE_ROOT
from qmcsim.config.sourced import unwrap_sourced
from qmcsim.config.yamlio import read_yaml_mapping
from qmcsim.errors import ConfigError, InternalError

DEFAULT_FILE = PACKAGE_ROOT / "hw_configs" / "validation" / "jetson-orin.yaml"
Split = Literal["calibration", "held-out"]
Phase = Literal["decode", "prefill"]
_FROZEN = ConfigDict(frozen=True, extra="forbid")
MEMORY = "main"   # the one memory instance of every validation system
MEASURED = {"decode": "tokens_per_s", "prefill": "prefill_ms"}
PREFILL_GOAL = "prefill"   # goals key of the per-case prefill goal
# Runtimes whose kernels are the calibrated preset's TensorRT weight-only kernels: their
# profiles only state sourced library properties (TensorRT-Edge-LLM: its INT4 GEMM tile), so
# their cases are fitted together with the cases without a runtime (fit_accelerator step 4).
TENSORRT_RUNTIMES = frozenset({"trt-edge"})


class Case(BaseModel):
    model_config = _FROZEN

    id: str
    split: Split
    model: str
    format: str
    phase: Phase = "decode"
    runtime: str | None = Field(None, description="the runtime whose kernels ran the case (a "
                                                  "key of the file's runtimes); default: the "
                                                  "file's compute preset")
    context: int = Field(ge=1, description="decode: tokens in the KV cache; prefill: prompt "
                                           "tokens")
    tokens_per_s: float | None = Field(None, gt=0, description="measured decode rate")
    prefill_ms: float | None = Field(None, gt=0, description="measured prompt processing time")

    @model_validator(mode="after")
    def _one_measurement(self) -> Case:
        field = MEASURED[self.phase]
        other = MEASURED["prefill" if self.phase == "decode" else "decode"]
        if getattr(self, field) is None:
            raise ValueError(f"a {self.phase} case needs {field}")
        if getattr(self, other) is not None:
            raise ValueError(f"a {self.phase} case gives {field}, not {other}")
        return self

    @property
    def measured_ms(self) -> float:
        """Decode: time per token; prefill: time to process the prompt."""
        if self.phase == "prefill":
            if self.prefill_ms is None:
                raise InternalError(f"prefill case {self.id!r} has no prefill_ms")
            return self.prefill_ms
        if self.tokens_per_s is None:
            raise InternalError(f"decode case {self.id!r} has no tokens_per_s")
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
    runtimes: dict[str, str] = Field(
        default_factory=dict, description="runtime -> compute preset holding that runtime's "
                                          "kernel profile on this device")
    upper_bound: str
    decode_tokens: int = Field(ge=1)
    formats: dict[str, dict[str, Any]]
    goals: dict[str, float]
    sources: dict[str, str]
    context_tokens_source: str
    power: str = Field("", description="why power is or is not compared")
    cases: tuple[Case, ...]
    excluded: tuple[dict[str, Any], ...] = Field(
        (), description="published figures left out, each with its reason")
    case_sources: dict[str, str] = Field(default_factory=dict)

    def goal(self, case: Case) -> float:
        """Absolute error goal of a case, percent: per format for decode, one for prefill."""
        return self.goals[PREFILL_GOAL if case.phase == "prefill" else case.format]


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
        for field in MEASURED.values():
            if sources.get(f"cases[{i}].{field}"):
                case_sources[str(case.get("id"))] = sources[f"cases[{i}].{field}"]
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
        if case.runtime is not None and case.runtime not in vf.runtimes:
            raise ConfigError(file, f"cases[{i}].runtime",
                              f"one of {sorted(vf.runtimes)} expected, got {case.runtime!r}")
        goal = PREFILL_GOAL if case.phase == "prefill" else case.format
        if goal not in vf.goals:
            raise ConfigError(file, "goals", f"a goal for {goal!r} expected")
        if case.id not in vf.case_sources:
            raise ConfigError(file, f"cases[{i}].{MEASURED[case.phase]}",
                              "{value: ..., source: \"<citation>\"} expected")
    for i, item in enumerate(vf.excluded):
        if not isinstance(item, dict) or not item.get("id") or not item.get("reason"):
            raise ConfigError(file, f"excluded[{i}]", "a mapping with id and reason expected")
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


def within_goal(result: CaseResult, vf: ValidationFile) -> bool:
    return abs(result.error_pct) <= vf.goal(result.case)


def run_config(vf: ValidationFile, model: str, prompt: int, formats: list[str],
               roofline: bool = False, compute: str | None = None) -> dict[str, Any]:
    """One run config per (model, prompt): each format on the calibrated accelerator (and on
    the ideal roofline), the whole prompt in one prefill step, then `decode_tokens` decode
    steps."""
    compute = compute or vf.compute
    computes = [("cal", compute)] + ([("roof", vf.upper_bound)] if roofline else [])
    systems = []
    for fmt in formats:
        for tag, compute in computes:
            systems.append({
                "name": f"{fmt}-{tag}", "format": dict(vf.formats[fmt]), "compute": compute,
                "memories": {MEMORY: {"preset": vf.memory.preset, "count": vf.memory.count}},
                "placement": {"codes": MEMORY, "scales": MEMORY, "kv_cache": MEMORY,
                              "activations": MEMORY}})
    return {"name": f"validate-{model}", "model": model, "accounting": "full", "seed": 0,
            "compute": compute, "baseline": systems[0]["name"],
            "workload": {"prompt_tokens": prompt, "generate_tokens": vf.decode_tokens,
                         "batch": 1},
            "systems": systems}


def simulated_prompt(vf: ValidationFile, case: Case) -> int:
    """Prompt tokens of the run that predicts `case`: a prefill case's prompt; for a decode
    case, the context less the decode steps simulated after it."""
    if case.phase == "prefill":
        return case.context
    return max(case.context - vf.decode_tokens, 1)


def _uses_scales(fmt: dict[str, Any]) -> bool:
    return fmt.get("kind") != "fp16"


def _phase_times_ms(path: Path, phase: Phase) -> dict[str, float]:
    """Simulate only the steps of `phase` of every system of a run config: a decode case needs
    no simulated prefill (the trace already places its KV cache), a prefill case no decode
    step. Returns each system's time of that phase, ms (prefill: the step; decode: the mean
    of the decode steps). No report tables are built: validate reads step times only."""
    import simpy

    from qmcsim.config.checks import check_prepared
    from qmcsim.config.loader import load_run
    from qmcsim.engine.sampling import decode_stride
    from qmcsim.engine.simulate import Replay
    from qmcsim.memories.base import build_memories
    from qmcsim.runner import check_stored_trace, onchip_capacity_bytes, prepare
    from qmcsim.trace.generate import TraceBuilder

    resolved = load_run(path)
    prepared = prepare(resolved)
    check_prepared(resolved, prepared, check_stored_trace(resolved))
    workload = resolved.config.workload
    out: dict[str, float] = {}
    for system, placement in prepared:
        memories = build_memories(simpy.Environment(), placement.hardware)
        steps = (s for s in TraceBuilder(resolved.model, placement, workload,
                                         resolved.config.accounting,
                                         onchip_capacity_bytes(system, placement)).steps()
                 if s.phase == phase)
        replay = Replay(memories, system.compute, system.config.format.compute_precision,
                        system.config.merge_sync_ns, onchip_buffer=system.config.onchip_buffer,
                        batch=workload.batch, include_static=resolved.config.accounting == "full",
                        decode_stride=decode_stride(workload))
        times = [r.time_ns for r in replay.run(steps).steps if r.phase == phase]
        per = sum(times) if phase == "prefill" else sum(times) / len(times)
        out[system.name] = per / 1e6
    return out


def case_compute(vf: ValidationFile, case: Case) -> str:
    """The compute preset that predicts `case`: its runtime's kernel profile, else the file's."""
    return vf.runtimes[case.runtime] if case.runtime is not None else vf.compute


def run_cases(vf: ValidationFile, cases: Iterable[Case], roofline: bool = False,
              on_case: Callable[[CaseResult], None] | None = None) -> list[CaseResult]:
    """Simulate every case (grouped per model, prompt, phase and runtime, one run each); with
    `roofline`, also on the ideal roofline preset. A prefill case is predicted by the prefill
    step, a decode case by the mean of the decode steps."""
    groups: dict[tuple[str, int, Phase, str], list[Case]] = {}
    for case in cases:
        key = (case.model, simulated_prompt(vf, case), case.phase, case_compute(vf, case))
        groups.setdefault(key, []).append(case)
    results: list[CaseResult] = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, ((model, prompt, phase, compute), group) in enumerate(groups.items()):
            formats = list(dict.fromkeys(c.format for c in group))
            cfg = run_config(vf, model, prompt, formats, roofline, compute=compute)
            for system in cfg["systems"]:
                if not _uses_scales(system["format"]):
                    del system["placement"]["scales"]
            path = Path(tmp) / f"{model}-{prompt}-{i}.yaml"
            path.write_text(yaml.safe_dump(cfg, sort_keys=False))
            predicted = _phase_times_ms(path, phase)
            for case in group:
                res = CaseResult(case=case, predicted_ms=predicted[f"{case.format}-cal"],
                                 upper_bound_ms=predicted.get(f"{case.format}-roof",
                                                              float("nan")))
                results.append(res)
                if on_case is not None:
                    on_case(res)
    order = {c.id: i for i, c in enumerate(vf.cases)}
    return sorted(results, key=lambda r: order.get(r.case.id, len(order)))
