"""Refit the fitted numbers of the compute presets on decode CALIBRATION cases (held-out cases
are not read; prefill cases fit nothing): the two numbers of jetson-agx-orin-calibrated.yaml
(TensorRT / embedl kernels, cases of hw_configs/validation/jetson-orin.yaml without a runtime),
and one number per runtime kernel profile (the *-mlc-*.yaml profiles of every device, cases
with `runtime:` in any validation file; today AGX Orin and the Orin Nano 15 W file).

    PYTHONPATH=. python benchmarks/fit_accelerator.py

Each calibration case is simulated once with the preset as shipped; every decode operator's
(work, memory stream time) is recorded, and the decode time is re-evaluated with
qmcsim.compute.kernels.op_time_ns for each candidate value (the memory stream time does not
depend on the accelerator parameters). Least squares on the relative error:
1. stream_efficiency (all classes alike) over the FP16 cases, the launch gap fixed at its
   sourced 5 us; then
2. dequant_instructions_per_weight over the INT4/INT8 cases.
A joint fit of the launch gap with the efficiency is printed as a cross-check.
3. per runtime profile (MLC q4f16_ft, q4f16_1): dequant_instructions_per_weight over that
   runtime's decode calibration cases in EVERY shipped validation file (AGX Orin, and the
   Orin Nano 15 W file's NVIDIA-blog "Original" rows), each case predicted with its own
   device's profile of that runtime, one value for all devices (the rate belongs to the
   runtime's kernels and the GPU's ISA, which the Orins share). The interval of values within
   0.5 % of the best relative error is printed too: where the kernel is memory-bound (AGX
   Orin), a case only bounds the dequantisation cost from above.
4. (round h12b, a test of a hypothesis; printed, not applied by this script) the TensorRT /
   embedl weight-only class across devices: a JOINT fit of stream_efficiency.gemv_dequant and
   dequant_instructions_per_weight over the weight-only calibration cases without a runtime
   or of a runtime that runs the TensorRT kernels (TENSORRT_RUNTIMES: trt-edge, whose
   profiles only change the INT4 GEMM tile) in EVERY shipped validation file: decode (AGX
   Orin: the 3 INT4/INT8 cases of step 2; the Orin NX and Orin Nano 15 W files: the one
   declared TensorRT-Edge-LLM row each) and prefill (AGX Orin: the 3 TensorRT-LLM Llama-3-8B
   cases, kept as calibration "so that a later fit has somewhere to come from"). Decode is
   memory-bound at any rate below ~5 instructions and identifies the efficiency; prefill
   dequantises every weight once per 128-row tile and identifies the rate. Each case is
   predicted with its own device's preset (calibrated, or its trt-edge profile), one pair of
   values for all devices. The decode-only fit is printed too.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import qmcsim.engine.simulate as sim
from qmcsim.compute.kernels import OpWork, op_time_ns
from qmcsim.compute.params import ComputeParams
from qmcsim.compute.validation import (
    DEFAULT_FILE,
    TENSORRT_RUNTIMES,
    case_compute,
    load_validation,
    run_cases,
)

Recorded = list[tuple[OpWork, float]]


def record(vf, runtime: str | None = None, phases: tuple[str, ...] = ("decode",)
           ) -> list[tuple[str, str, float, Recorded]]:
    log: Recorded = []

    def spy(work: OpWork, stream_ns: float, params: ComputeParams) -> float:
        log.append((work, stream_ns))
        return op_time_ns(work, stream_ns, params)

    sim.op_time_ns = spy   # a measurement tool, not library code: record the engine's calls
    out = []
    for case in (c for c in vf.cases if c.split == "calibration" and c.phase in phases
                 and c.runtime == runtime):
        log.clear()
        run_cases(vf, [case])   # a case simulates its phase's step only (with its preset)
        out.append((case.id, case.format, case.measured_ms, list(log)))
    return out


def with_params(base: ComputeParams, eta: float, instr: float, launch_ns: float
                ) -> ComputeParams:
    k = base.kernels
    assert k is not None
    eff = k.stream_efficiency.model_copy(
        update={f: eta for f in type(k.stream_efficiency).model_fields})
    return base.model_copy(update={"kernels": k.model_copy(update={
        "stream_efficiency": eff, "dequant_instructions_per_weight": instr,
        "launch_overhead_ns": launch_ns})})


def with_dequant(base: ComputeParams, instr: float) -> ComputeParams:
    k = base.kernels
    assert k is not None
    return base.model_copy(update={"kernels": k.model_copy(update={
        "dequant_instructions_per_weight": instr})})


def predicted_ms(params: ComputeParams, ops: Recorded) -> float:
    return sum(op_time_ns(w, s, params) for w, s in ops) / 1e6


def main() -> None:
    from qmcsim.config.loader import load_compute

    vf = load_validation()
    base = load_compute(vf.compute, file="fit", field_path="compute")
    k = base.kernels
    assert k is not None
    cases = record(vf)
    fp16 = [c for c in cases if c[1] == "fp16"]
    quant = [c for c in cases if c[1] != "fp16"]

    def sse(params: ComputeParams, group) -> float:
        return sum(((predicted_ms(params, ops) - m) / m) ** 2 for _, _, m, ops in group)

    launch = k.launch_overhead_ns
    eta = min(np.arange(0.80, 0.96, 0.0025),
              key=lambda e: sse(with_params(base, e, k.dequant_instructions_per_weight, launch),
                                fp16))
    instr = min(np.arange(4.0, 14.0, 0.1),
                key=lambda i: sse(with_params(base, eta, i, launch), quant))
    joint = min(((e, lg) for e in np.arange(0.80, 0.98, 0.005)
                 for lg in np.arange(0, 12_000, 250)),
                key=lambda p: sse(with_params(base, p[0], instr, p[1]), fp16))
    print(f"stream_efficiency {eta:.4f} (launch fixed at {launch:.0f} ns), "
          f"dequant_instructions_per_weight {instr:.1f}")
    print(f"cross-check, joint fit on FP16: stream_efficiency {joint[0]:.3f}, "
          f"launch_overhead_ns {joint[1]:.0f}")
    fitted = with_params(base, eta, instr, launch)
    for cid, _, measured, ops in cases:
        print(f"  {cid:28s} measured {measured:7.2f} ms  fitted {predicted_ms(fitted, ops):7.2f}")
    files = [load_validation(p) for p in sorted(DEFAULT_FILE.parent.glob("*.yaml"))]
    for runtime in (r for r in vf.runtimes if r not in TENSORRT_RUNTIMES):
        # (validation file, its profile of this runtime, its calibration cases of it)
        groups = []
        for f in files:
            if runtime in f.runtimes:
                prof = load_compute(f.runtimes[runtime], file="fit",
                                    field_path=f"runtimes.{runtime}")
                rec = record(f, runtime)
                if rec:
                    groups.append((f, prof, rec))

        def rsse(instr: float, groups=groups) -> float:
            return sum(sse(with_dequant(prof, instr), rec) for _, prof, rec in groups)

        n = sum(len(rec) for _, _, rec in groups)
        grid = np.arange(0.0, 16.0, 0.1)
        err = [rsse(i) for i in grid]
        best = int(np.argmin(err))
        rms = (err[best] / n) ** 0.5
        near = [g for g, e in zip(grid, err, strict=True) if (e / n) ** 0.5 <= rms + 0.005]
        names = ", ".join(f.runtimes[runtime] for f, _, _ in groups)
        print(f"{runtime} ({names}): dequant_instructions_per_weight {grid[best]:.1f} over "
              f"{n} cases (rms relative error {100 * rms:.1f} %; within 0.5 % of it: "
              f"{min(near):.1f}-{max(near):.1f})")
        for f, prof, rec in groups:
            for cid, _, measured, ops in rec:
                print(f"  {f.device[:24]:24s} {cid:40s} measured {measured:7.2f} ms  fitted "
                      f"{predicted_ms(with_dequant(prof, grid[best]), ops):7.2f}")



def with_dequant_class(base: ComputeParams, eta: float, instr: float) -> ComputeParams:
    """`base` with the weight-only GEMV class's stream efficiency and dequantisation rate."""
    k = base.kernels
    assert k is not None
    eff = k.stream_efficiency.model_copy(update={"gemv_dequant": eta})
    return base.model_copy(update={"kernels": k.model_copy(update={
        "stream_efficiency": eff, "dequant_instructions_per_weight": instr})})


def _best_on_grid(grid: list[tuple[float, float]], groups: list[Any]
                  ) -> tuple[int, tuple[float, float], float, list[tuple[float, float]]]:
    """Least squares of the relative errors over every (efficiency, instructions) of `grid`:
    the number of cases, the best pair, its rms relative error and the pairs within 0.5 % of
    that rms."""
    sse = [sum(((predicted_ms(with_dequant_class(base, e, i), ops) - m) / m) ** 2
               for _, base, rec in groups for _, _, m, ops in rec) for e, i in grid]
    n = sum(len(rec) for _, _, rec in groups)
    best = int(np.argmin(sse))
    rms = (sse[best] / n) ** 0.5
    near = [g for g, e in zip(grid, sse, strict=True) if (e / n) ** 0.5 <= rms + 0.005]
    return n, grid[best], rms, near


def _ranges(near: list[tuple[float, float]]) -> str:
    return (f"efficiency {min(g[0] for g in near):.3f}-{max(g[0] for g in near):.3f}, "
            f"instructions {min(g[1] for g in near):.1f}-{max(g[1] for g in near):.1f}")


def joint_weight_only_fit() -> None:
    """Step 4: one (gemv_dequant efficiency, instructions per weight) for all Orins."""
    from qmcsim.config.loader import load_compute

    groups = []
    for path in sorted(DEFAULT_FILE.parent.glob("*.yaml")):
        f = load_validation(path)
        # the cases without a runtime and those of runtimes that run the TensorRT kernels
        # (their profiles change only sourced library properties), each with its preset
        for runtime in (None, *sorted(TENSORRT_RUNTIMES & set(f.runtimes))):
            rec = [r for r in record(f, runtime, phases=("decode", "prefill")) if r[1] != "fp16"]
            if rec:
                case = next(c for c in f.cases if c.id == rec[0][0])
                preset = case_compute(f, case)
                groups.append((f, load_compute(preset, file="fit", field_path="compute"), rec))
    prefill_ids = {c.id for f, _, _ in groups for c in f.cases if c.phase == "prefill"}

    grid = [(e, i) for e in np.arange(0.60, 1.0001, 0.005) for i in np.arange(0.0, 14.01, 0.1)]
    decode_only = [(f, base, [r for r in rec if r[0] not in prefill_ids])
                   for f, base, rec in groups]
    d_n, (d_eta, d_instr), d_rms, d_near = _best_on_grid(grid, decode_only)
    print(f"decode only, {d_n} cases: gemv_dequant stream_efficiency {d_eta:.3f}, "
          f"dequant_instructions_per_weight {d_instr:.1f} (rms {100 * d_rms:.1f} %; "
          f"within 0.5 %: {_ranges(d_near)})")
    n, (eta, instr), rms, near = _best_on_grid(grid, groups)
    print(f"joint weight-only fit over {n} cases ({', '.join(b.name for _, b, _ in groups)}): "
          f"gemv_dequant stream_efficiency {eta:.3f}, dequant_instructions_per_weight "
          f"{instr:.1f} (rms relative error {100 * rms:.1f} %; within 0.5 % of it: "
          f"{_ranges(near)})")
    for f, base, rec in groups:
        shipped = base.kernels
        assert shipped is not None
        for cid, _, measured, ops in rec:
            print(f"  {f.device[:24]:24s} {cid:40s} measured {measured:7.2f} ms  shipped "
                  f"{predicted_ms(base, ops):7.2f}  joint "
                  f"{predicted_ms(with_dequant_class(base, eta, instr), ops):7.2f}")


if __name__ == "__main__":
    main()
    joint_weight_only_fit()
