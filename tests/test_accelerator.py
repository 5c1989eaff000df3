"""The calibrated accelerator: kernel classes, the timing and energy formulas, the engine
following them, the validation file, and the calibration set against its goals."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import simpy
import yaml

import qmcsim.engine.simulate as sim
from qmcsim.compute.kernels import (
    arithmetic_ns,
    dequant_instructions,
    op_energy_pj,
    op_time_ns,
    op_work,
    tile_utilisation,
)
from qmcsim.compute.validation import (
    DEFAULT_FILE,
    TENSORRT_RUNTIMES,
    case_compute,
    error_pct,
    load_validation,
    mean_absolute_pct,
    run_cases,
    run_config,
    simulated_prompt,
    within_goal,
)
from qmcsim.config.devices import load_device
from qmcsim.config.loader import load_compute
from qmcsim.engine.simulate import Replay
from qmcsim.errors import ConfigError
from qmcsim.memories.base import MemoryUnits, build_memories
from qmcsim.memories.queued import unloaded_access_ns
from qmcsim.trace.generate import Access, OpStep, Step

CAL = load_compute("jetson-agx-orin-calibrated", file="test", field_path="compute")
ROOF = load_compute("jetson-agx-orin", file="test", field_path="compute")
K = CAL.kernels
assert K is not None


def weights(nbytes: int, tensor_class: str = "mlp", memory: str = "dram") -> Access:
    return Access(memory=memory, address=0, nbytes=nbytes, is_write=False,
                  traffic_class="weights", tensor="t", component="codes",
                  tensor_class=tensor_class)


def matmul(n_weights: int, bits: float, rows: int = 1, name: str = "mlp_up",
           tensor_class: str = "mlp") -> OpStep:
    return OpStep(layer=0, operator=name, flops=2.0 * n_weights * rows,
                  accesses=(weights(int(n_weights * bits / 8), tensor_class),))


def test_roofline_preset_is_unchanged_and_has_no_kernel_model():
    assert ROOF.kernels is None and ROOF.energy is None
    dumped = ROOF.model_dump(mode="json", exclude_none=True)
    assert "kernels" not in dumped and "energy" not in dumped
    # the calibrated preset only adds to the roofline's peak rates
    assert CAL.peak_tflops_fp16 == ROOF.peak_tflops_fp16 and CAL.utilization == 1.0


def test_every_calibrated_number_has_a_source():
    for field in ("launch_overhead_ns", "stream_efficiency.gemv", "launches.attention",
                  "dequant_instructions_per_weight", "gemm_peak_fraction"):
        assert CAL.sources[f"kernels.{field}"]
    assert CAL.sources["energy.fp16_pj_per_flop"]


@pytest.mark.parametrize(("op", "tokens", "cls", "launches"), [
    (matmul(1000, 16), 1, "gemv", K.launches.matmul),
    (matmul(1000, 4.156), 1, "gemv_dequant", K.launches.matmul),
    (matmul(1000, 8.125), 1, "gemv_dequant", K.launches.matmul),
    (matmul(1000, 16, rows=64), 64, "gemm", K.launches.matmul),
    (OpStep(layer=None, operator="lm_head", flops=2.0 * 1000,
            accesses=(weights(2000, "embeddings"),)), 64, "lm_head", K.launches.matmul),
    (OpStep(layer=0, operator="attn_core", flops=1e4, accesses=()), 1, "attention",
     K.launches.attention),
    (OpStep(layer=None, operator="embed", flops=0, accesses=(weights(64, "embeddings"),)), 1,
     "embedding", K.launches.gather),
    (OpStep(layer=0, operator="input_norm", flops=64, accesses=(weights(32, "norm"),)), 1,
     "vector", K.launches.vector),
    (OpStep(layer=0, operator="ssm_scan", flops=64, accesses=(weights(640, "ssm"),)), 1,
     "vector", K.launches.ssm_scan),
])
def test_kernel_class_is_derived_from_the_trace(op, tokens, cls, launches):
    work = op_work(op, tokens, 1, K.launches)
    assert work.kernel_class == cls and work.launches == launches


def test_lm_head_weights_count_one_row_per_sequence():
    op = OpStep(layer=None, operator="lm_head", flops=2.0 * 1000 * 3,
                accesses=(weights(2000, "embeddings"),))
    work = op_work(op, tokens=64, batch=3, counts=K.launches)
    assert work.rows == 3 and work.weights == 1000 and work.weight_bits == 16


def test_tile_utilisation():
    assert tile_utilisation(128, 128) == 1.0
    assert tile_utilisation(64, 128) == 0.5
    assert tile_utilisation(129, 128) == pytest.approx(129 / 256)


def test_dequantisation_costs_only_quantized_weights_on_the_gpu():
    w4 = op_work(matmul(4096, 4.156), 1, 1, K.launches)
    assert dequant_instructions(w4, K) == pytest.approx(4096 * K.dequant_instructions_per_weight)
    assert dequant_instructions(op_work(matmul(4096, 16), 1, 1, K.launches), K) == 0
    offload = K.model_copy(update={"dequant_on_gpu": False})
    assert dequant_instructions(w4, offload) == 0
    # a GEMM dequantises each weight once per 128-row tile
    w4_gemm = op_work(matmul(4096, 4.156, rows=200), 200, 1, K.launches)
    assert dequant_instructions(w4_gemm, K) == pytest.approx(
        2 * 4096 * K.dequant_instructions_per_weight)


def test_memory_bound_gemv_time_is_stream_over_efficiency_plus_launch():
    work = op_work(matmul(1_000_000, 16), 1, 1, K.launches)
    stream_ns = 10_000.0
    assert arithmetic_ns(work, CAL) < stream_ns / K.stream_efficiency.gemv
    assert op_time_ns(work, stream_ns, CAL) == pytest.approx(
        stream_ns / K.stream_efficiency.gemv + K.launch_overhead_ns)


def test_dequant_bound_gemv_time_is_cuda_core_work_plus_launch():
    n = 1_000_000
    work = op_work(matmul(n, 4.156), 1, 1, K.launches)
    lanes_per_ns = K.cuda_core_lanes * K.clock_ghz
    expected = n * K.dequant_instructions_per_weight / lanes_per_ns + \
        2 * n / (K.cuda_core_fp16_tflops * 1e3)
    stream_ns = 100.0   # a fast memory: the CUDA cores decide
    assert op_time_ns(work, stream_ns, CAL) == pytest.approx(expected + K.launch_overhead_ns)


def test_prefill_gemm_runs_on_tile_quantised_tensor_cores():
    rows, n = 64, 1_000_000
    work = op_work(matmul(n, 16, rows=rows), rows, 1, K.launches)
    rate = CAL.peak_tflops_fp16 * 1e3 * K.gemm_peak_fraction * 0.5
    assert arithmetic_ns(work, CAL) == pytest.approx(2 * n * rows / rate)


def test_energy_is_arithmetic_dequant_and_onchip_bytes():
    e = CAL.energy
    assert e is not None
    work = op_work(matmul(1000, 4.156), 1, 1, K.launches)
    assert op_energy_pj(work, CAL) == pytest.approx(
        2000 * e.fp16_pj_per_flop + 1000 * K.dequant_instructions_per_weight * e.instruction_pj
        + work.moved_bytes * e.onchip_pj_per_byte)
    assert op_energy_pj(work, ROOF) == 0.0


def test_engine_follows_the_formula_and_records_accelerator_energy():
    env = simpy.Environment()
    dev = load_device("lpddr5-orin", file="test", field_path="x")
    mems = build_memories(env, {"dram": MemoryUnits(name="dram", params=dev, count=1)})
    op = matmul(64_000, 16)    # 128 KB of FP16 weights
    step = Step(index=0, phase="decode", tokens=1, context=1, ops=(op,))
    trace = Replay(mems, CAL, "fp16", merge_sync_ns=0.0, include_static=False).run([step])
    stream_ns = unloaded_access_ns(128_000, dev.read_latency_ns, dev.read_bandwidth_gb_per_s)
    work = op_work(op, 1, 1, K.launches)
    assert trace.steps[0].time_ns == pytest.approx(op_time_ns(work, stream_ns, CAL))
    (acc,) = [t for t in trace.traffic if t.memory == "accelerator"]
    assert acc.traffic_class == "compute"
    assert acc.energy_pj == pytest.approx(op_energy_pj(work, CAL))


def test_error_statistics():
    assert error_pct(11.0, 10.0) == pytest.approx(10.0)
    assert error_pct(9.0, 10.0) == pytest.approx(-10.0)
    assert mean_absolute_pct([-4.0, 2.0]) == pytest.approx(3.0)
    assert math.isnan(mean_absolute_pct([]))


def test_shipped_validation_file_is_well_formed():
    vf = load_validation()
    splits = {c.split for c in vf.cases}
    assert splits == {"calibration", "held-out"}
    for split in splits:   # every TensorRT/embedl format and both phases appear in both sets
        cases = [c for c in vf.cases if c.split == split and c.runtime is None]
        assert {c.format for c in cases} == {"fp16", "int4", "int8", "int4-channel"}
        assert {c.phase for c in cases} == {"decode", "prefill"}
    # every runtime profile with fitted kernels is fitted on its own decode cases (a TensorRT
    # runtime's profile fits nothing: its cases join the TensorRT kernels' fit)
    for runtime in (r for r in vf.runtimes if r not in TENSORRT_RUNTIMES):
        assert any(c.runtime == runtime and c.split == "calibration" and c.phase == "decode"
                   for c in vf.cases)
    assert all(vf.case_sources[c.id] for c in vf.cases)
    # a left-out figure says why and is not also a case
    assert {e["id"] for e in vf.excluded}.isdisjoint(c.id for c in vf.cases)
    assert all(e["reason"] for e in vf.excluded)


@pytest.mark.parametrize("path", sorted(DEFAULT_FILE.parent.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_validation_file_loads_with_sourced_presets(path):
    vf = load_validation(path)
    assert all(vf.case_sources[c.id] for c in vf.cases)
    assert vf.power   # says whether and why power is (not) compared
    for name in (vf.compute, vf.upper_bound, *vf.runtimes.values()):
        preset = load_compute(name, file="test", field_path="compute")
        assert all(preset.sources.values())
    for name in (vf.compute, *vf.runtimes.values()):
        assert load_compute(name, file="t", field_path="c").kernels is not None
    assert {c.runtime for c in vf.cases} <= {None, *vf.runtimes}


RUNTIME_FIELDS = {"mlc-ft": {"dequant_instructions_per_weight", "gemm_small_tile_rows",
                             "stream_efficiency"},
                  "mlc-g32": {"dequant_instructions_per_weight", "stream_efficiency"}}


@pytest.mark.parametrize("runtime", ["mlc-ft", "mlc-g32"])
def test_runtime_profile_changes_only_the_runtime_kernels(runtime):
    """A runtime's kernel profile is its device's calibrated preset with the runtime's own
    kernel numbers (dequantisation rate; q4f16_ft also its GEMM tiles; the weight-only GEMV's
    stream efficiency stays the FP16 GEMV's, as the calibrated preset's fitted value belongs
    to the TensorRT / embedl kernels), one value for every Orin device that has the profile."""
    files = [load_validation(p) for p in sorted(DEFAULT_FILE.parent.glob("*.yaml"))]
    files = [vf for vf in files if runtime in vf.runtimes]
    assert len(files) >= 3   # AGX Orin, Orin Nano 15 W, Orin Nano Super
    seen = set()
    for vf in files:
        base = load_compute(vf.compute, file="t", field_path="c").kernels
        prof = load_compute(vf.runtimes[runtime], file="t", field_path="c").kernels
        assert base is not None and prof is not None
        own = {f: getattr(prof, f) for f in RUNTIME_FIELDS[runtime]}
        assert prof.model_copy(update={f: getattr(base, f) for f in own}) == base
        eff = prof.stream_efficiency
        assert eff.gemv_dequant == eff.gemv == base.stream_efficiency.gemv
        assert eff.model_copy(update={"gemv_dequant": base.stream_efficiency.gemv_dequant}) \
            == base.stream_efficiency   # only the weight-only class differs
        seen.add(tuple(sorted(own.items())))
    assert len(seen) == 1
    agx = load_validation()
    case = next(c for c in agx.cases if c.runtime == runtime)
    assert case_compute(agx, case) == agx.runtimes[runtime]
    assert case_compute(agx, agx.cases[0]) == agx.compute


def test_trt_edge_profile_changes_only_the_gemm_tile():
    """TensorRT-Edge-LLM runs the TensorRT weight-only kernels the calibrated preset was fitted
    on: its profile on every device is that device's calibrated preset with the runtime's one
    64-row INT4 GEMM tile (a sourced library property), and nothing fitted of its own."""
    files = [load_validation(p) for p in sorted(DEFAULT_FILE.parent.glob("*.yaml"))]
    files = [vf for vf in files if "trt-edge" in vf.runtimes]
    assert {vf.compute for vf in files} == {"jetson-agx-orin-calibrated",
                                            "jetson-orin-nx-16gb-calibrated",
                                            "jetson-orin-nano-15w-calibrated"}
    for vf in files:
        base = load_compute(vf.compute, file="t", field_path="c").kernels
        prof = load_compute(vf.runtimes["trt-edge"], file="t", field_path="c").kernels
        assert base is not None and prof is not None
        assert prof.tile_rows_choices() == (64,)
        assert prof.model_copy(update={"gemm_tile_rows": base.gemm_tile_rows}) == base
        assert all(c.runtime == "trt-edge" for c in vf.cases if "trt-edge-0.9" in c.id)


def test_cases_measure_their_phase():
    vf = load_validation()
    prefill = next(c for c in vf.cases if c.phase == "prefill")
    decode = next(c for c in vf.cases if c.phase == "decode")
    assert prefill.measured_ms == prefill.prefill_ms and prefill.tokens_per_s is None
    assert decode.measured_ms == pytest.approx(1e3 / decode.tokens_per_s)
    assert vf.goal(prefill) == vf.goals["prefill"]
    assert vf.goal(decode) == vf.goals[decode.format]
    # the prefill run's prompt is the case's prompt; a decode run stops short of the context
    assert simulated_prompt(vf, prefill) == prefill.context
    assert simulated_prompt(vf, decode) == decode.context - vf.decode_tokens


def test_prefill_case_is_predicted_by_the_prefill_step(tmp_path):
    """A prefill case takes the run's prefill step, a decode case its decode steps (SmolLM2
    stands in for the shipped models to keep this fast)."""
    from qmcsim.pipeline import run

    vf = load_validation()
    cases = [vf.cases[0].model_copy(update={"id": "p", "model": "smollm2-135m", "phase":
                                            "prefill", "context": 64, "tokens_per_s": None,
                                            "prefill_ms": 10.0, "format": "fp16"}),
             vf.cases[0].model_copy(update={"id": "d", "model": "smollm2-135m",
                                            "context": 64 + vf.decode_tokens, "format": "fp16"})]
    pre, dec = run_cases(vf, cases)   # each phase simulated alone
    cfg = run_config(vf, "smollm2-135m", 64, ["fp16"])
    del cfg["systems"][0]["placement"]["scales"]
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    steps = run(path).systems[0].trace.steps
    assert pre.predicted_ms == pytest.approx(
        sum(s.time_ns for s in steps if s.phase == "prefill") / 1e6)
    decode = [s.time_ns for s in steps if s.phase == "decode"]
    # validate simulates the decode step without the prefill before it: the DRAM starts with
    # closed rows and another refresh phase, a difference well under 0.5 %
    assert dec.predicted_ms == pytest.approx(sum(decode) / len(decode) / 1e6, rel=5e-3)
    assert pre.predicted_ms > dec.predicted_ms   # 64 tokens cost more than one


def _broken(tmp_path: Path, edit) -> Path:
    raw = yaml.safe_load(DEFAULT_FILE.read_text())
    edit(raw)
    path = tmp_path / "v.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize(("edit", "where"), [
    (lambda r: r["cases"][0].update(tokens_per_s=65.0), "cases[0].tokens_per_s"),
    (lambda r: r["cases"][0].update(format="int3"), "cases[0].format"),
    (lambda r: r["cases"][1].update(id=r["cases"][0]["id"]), "cases[1].id"),
    (lambda r: r["cases"][0].update(split="train"), "cases.0.split"),
    (lambda r: r["cases"][0].update(phase="prefill"), "cases.0"),
    (lambda r: r["excluded"][0].pop("reason"), "excluded[0]"),
    (lambda r: r["goals"].pop("prefill"), "goals"),
    (lambda r: r["cases"][0].update(runtime="vllm"), "cases[0].runtime"),
])
def test_bad_validation_file_names_the_field(tmp_path, edit, where):
    with pytest.raises(ConfigError) as err:
        load_validation(_broken(tmp_path, edit))
    assert where in str(err.value)


def test_cli_bad_validation_file_is_one_line(run_cli, tmp_path):
    path = _broken(tmp_path, lambda r: r["cases"][0].update(format="int3"))
    out = run_cli("validate", str(path))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "cases[0].format" in out.stderr


CALIBRATED_FILES = [p for p in sorted(DEFAULT_FILE.parent.glob("*.yaml"))
                    if any(c.split == "calibration" for c in load_validation(p).cases)]


@pytest.mark.slow
@pytest.mark.parametrize("path", CALIBRATED_FILES, ids=lambda p: p.stem)
def test_calibration_set_meets_the_goals(path):
    """The fitted set of every file that has one (AGX Orin; the Orin Nano 15 W file's MLC
    rows) must meet the issue's goals (this checks data, not timing). The held-out sets are
    reported by `python -m qmcsim validate`, never fitted to."""
    assert {p.stem for p in CALIBRATED_FILES} == {"jetson-orin", "jetson-orin-nano-15w",
                                                  "jetson-orin-nx-16gb"}
    vf = load_validation(path)
    results = run_cases(vf, [c for c in vf.cases if c.split == "calibration"])
    if path == DEFAULT_FILE:
        assert {r.case.phase for r in results} == {"decode", "prefill"}
    bad = [(r.case.id, round(r.error_pct, 1)) for r in results if not within_goal(r, vf)]
    assert not bad
    decode = mean_absolute_pct([r.error_pct for r in results if r.case.phase == "decode"])
    if path.stem in MEAN_GOAL_MISSED:   # a known miss, reported in the README: pinned, so
        # that a change of it is looked at
        assert vf.goals["mean_absolute"] < decode <= MEAN_GOAL_MISSED[path.stem]
    else:
        assert decode <= vf.goals["mean_absolute"]


# The Orin NX file's calibration set is its one TensorRT-Edge-LLM row of the joint weight-only
# fit (+7.1 %: within its per-case goal of 15 %, above the 7 % mean goal counted over this
# one-case set). The fitted set as a whole (5 decode rows over three files) means 4.3 %.
MEAN_GOAL_MISSED = {"jetson-orin-nx-16gb": 7.5}


def _record_calibration(monkeypatch, path: Path, keep) -> list:
    """(preset, measured ms, [(work, stream ns)]) of `path`'s calibration cases `keep` picks:
    every operator's work and memory stream time, from one simulation each."""
    log: list = []
    real = sim.op_time_ns

    def spy(work, stream_ns, params):
        log.append((work, stream_ns))
        return real(work, stream_ns, params)

    monkeypatch.setattr(sim, "op_time_ns", spy)
    vf = load_validation(path)
    out = []
    for case in (c for c in vf.cases if c.split == "calibration" and keep(c)):
        log.clear()
        run_cases(vf, [case])
        preset = load_compute(case_compute(vf, case), file="t", field_path="c")
        out.append((preset, case.measured_ms, list(log)))
    return out


@pytest.mark.slow
def test_weight_only_numbers_are_the_joint_least_squares_optimum(monkeypatch):
    """The TensorRT / embedl weight-only class (stream efficiency of the dequantising GEMV,
    dequantisation instructions per weight) is one pair of values for all Orins, fitted on the
    weight-only calibration cases without a runtime or of a TensorRT runtime (trt-edge) of
    every file (benchmarks/fit_accelerator.py step 4): no neighbouring grid value fits them
    better."""
    cases = [r for p in sorted(DEFAULT_FILE.parent.glob("*.yaml")) for r in
             _record_calibration(monkeypatch, p, lambda c: c.format != "fp16" and
                                 (c.runtime is None or c.runtime in TENSORRT_RUNTIMES))]
    presets = {base.name for base, _, _ in cases}
    assert presets == {"jetson-agx-orin-calibrated", "jetson-orin-nx-16gb-trt-edge",
                       "jetson-orin-nano-15w-trt-edge"}
    assert len(cases) == 8   # AGX: 3 decode + 3 prefill; NX and Nano 15 W: 1 decode each
    pairs = {(b.kernels.stream_efficiency.gemv_dequant, b.kernels.dequant_instructions_per_weight)
             for b, _, _ in cases}
    (eta, instr), = pairs   # the same pair on every device

    def sse(eta: float, instr: float) -> float:
        total = 0.0
        for base, measured, ops in cases:
            k = base.kernels
            params = base.model_copy(update={"kernels": k.model_copy(update={
                "stream_efficiency": k.stream_efficiency.model_copy(
                    update={"gemv_dequant": eta}),
                "dequant_instructions_per_weight": instr})})
            total += ((sum(op_time_ns(w, s, params) for w, s in ops) / 1e6 - measured)
                      / measured) ** 2
        return total

    best = sse(eta, instr)
    for d_eta in (-0.005, 0.0, 0.005):
        for d_instr in (-0.1, 0.0, 0.1):
            assert sse(eta + d_eta, instr + d_instr) >= best - 1e-12


def test_cli_split_without_cases_is_one_line(run_cli):
    """A file whose cases are all held-out has no calibration set to run."""
    path = DEFAULT_FILE.parent / "jetson-orin-nano-super.yaml"
    out = run_cli("validate", str(path), "--split", "calibration")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    line, = out.stderr.strip().splitlines()
    assert "jetson-orin-nano-super.yaml" in line and "cases" in line and "calibration" in line


@pytest.mark.parametrize(("name", "clock_ghz"), [
    ("jetson-orin-nano-super-calibrated", 1.02), ("jetson-orin-nano-15w-calibrated", 0.625),
    ("jetson-orin-nx-16gb-calibrated", 0.918)])
def test_eight_sm_orin_presets_follow_their_clock(name, clock_ghz):
    """The 8-SM Orins (Nano 8GB in either power mode, NX 16GB) share the AGX Orin kernel
    numbers; their rates are the formulas of lanes, tensor cores and clock."""
    p = load_compute(name, file="t", field_path="c")
    k = p.kernels
    assert k is not None and k.clock_ghz == clock_ghz and k.cuda_core_lanes == 1024
    assert k.cuda_core_fp16_tflops == pytest.approx(1024 * clock_ghz * 4 / 1e3, rel=0.01)
    assert p.peak_tflops_fp16 == pytest.approx(32 * 512 * clock_ghz / 1e3, rel=0.02)
    agx = CAL.kernels
    assert agx is not None
    for field in ("launch_overhead_ns", "launches", "stream_efficiency", "gemm_peak_fraction",
                  "gemm_tile_rows", "dequant_instructions_per_weight"):
        assert getattr(k, field) == getattr(agx, field)
    roof = load_compute(name.removesuffix("-calibrated"), file="t", field_path="c")
    assert roof.kernels is None and roof.peak_tflops_fp16 == p.peak_tflops_fp16


def test_nano_power_mode_files_use_their_memory():
    """Original 15 W mode: 8 x LPDDR5-4266 = 68.3 GB/s; Super: 8 x LPDDR5-6400 = 102.4."""
    for stem, preset, gb_per_s in (("jetson-orin-nano-15w", "lpddr5-4266-x16", 68.3),
                                   ("jetson-orin-nano-super", "lpddr5-6400-x16", 102.4),
                                   ("jetson-orin-nx-16gb", "lpddr5-6400-x16", 102.4)):
        vf = load_validation(DEFAULT_FILE.parent / f"{stem}.yaml")
        assert vf.memory.preset == preset
        dev = load_device(preset, None, file="t", field_path="m")
        assert vf.memory.count * dev.read_bandwidth_gb_per_s == pytest.approx(gb_per_s,
                                                                              rel=1e-3)


def test_gemm_runs_on_the_fastest_offered_tile():
    """q4f16_ft's GEMM library offers 32-, 64- and 128-row tiles: a 16-token prefill fills a
    32-row tile (and dequantises once), a 512-token prompt takes the 128-row tile (fewer
    dequantisation passes); a decode GEMV is unchanged by the choice."""
    ft = load_compute("jetson-agx-orin-mlc-ft", file="t", field_path="c")
    one = ft.model_copy(update={"kernels": ft.kernels.model_copy(
        update={"gemm_small_tile_rows": None})})
    assert ft.kernels.tile_rows_choices() == (128, 32, 64)

    def work(rows: int) -> object:
        return op_work(matmul(4096 * 4096, 4.0, rows=rows), rows, 1, K.launches)

    def by_tile(rows: int, tile: int) -> float:
        k = ft.kernels.model_copy(update={"gemm_tile_rows": tile,
                                          "gemm_small_tile_rows": None})
        return arithmetic_ns(work(rows), ft.model_copy(update={"kernels": k}))

    for rows, best in ((16, 32), (48, 64), (512, 128)):
        times = {t: by_tile(rows, t) for t in (32, 64, 128)}
        assert min(times, key=times.get) == best
        assert arithmetic_ns(work(rows), ft) == pytest.approx(times[best])
        assert dequant_instructions(work(rows), ft.kernels, best) == pytest.approx(
            4096 * 4096 * ft.kernels.dequant_instructions_per_weight * math.ceil(rows / best))
    assert arithmetic_ns(work(1), ft) == arithmetic_ns(work(1), one)
    assert arithmetic_ns(work(16), ft) < arithmetic_ns(work(16), one)
