"""DRAM model speed measurements (the `bench` command, qmcsim/commands/bench.py, prints them).

Burst mode (`burst_speed`): feeds N one-burst read requests (sequential or uniformly random
over the whole channel) straight into one channel's ChannelController in chunks.
Whole model (`model_steps`): runs one system of a run config through `qmcsim.run` with every
command-level DRAM memory in the given fidelity, timing each step on the wall clock.
Sampled decode (`sampling_error`): each system as configured (sampled decode by default) and
exhaustively, with the wall time per decode token and the error of the headline metrics.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import numpy as np

from qmcsim.errors import ConfigError
from qmcsim.memories.dram.controller import IMPLEMENTATION
from qmcsim.memories.dram.memory import build_controllers
from qmcsim.memories.dram.params import DramParams

CHUNK = 8192


def run_once(params: DramParams, n: int, pattern: str, seed: int = 0) -> tuple[float, float]:
    """(requests per wall second, achieved fraction of peak bandwidth)."""
    mapping, (ctrl,), _ = build_controllers(params, 1)
    bb = mapping.org.burst_bytes
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    for start in range(0, n, CHUNK):
        k = min(CHUNK, n - start)
        if pattern == "sequential":
            addrs = (np.arange(start, start + k, dtype=np.int64) * bb) % mapping.capacity_bytes
        else:
            addrs = rng.integers(0, mapping.capacity_bytes // bb, size=k, dtype=np.int64) * bb
        _, bank, row, col = mapping.decode(addrs)
        ctrl.push_each(range(start, start + k), [0] * k, bank.tolist(), row.tolist(),
                       col.tolist(), [False] * k)
        ctrl.run(final=False)
        ctrl.finished.clear()
    ctrl.run()
    wall = time.perf_counter() - t0
    n_bl = params.org.burst_length // params.timing.transfers_per_ck
    return n / wall, n * n_bl / max(1, ctrl.clk)


@dataclass(frozen=True, kw_only=True)
class StepTiming:
    phase: str
    wall_s: float  # wall-clock seconds spent simulating the step
    time_ns: float  # simulated latency
    energy_pj: float  # dynamic + static energy of every memory


def model_steps(config: str, system: str, overrides: list[str], fidelity: str
                ) -> list[StepTiming]:
    """Simulate one system of a run config with every `kind: dram` memory in `fidelity`."""
    from qmcsim.config.loader import load_run
    from qmcsim.pipeline import run

    loaded = load_run(config, overrides)
    found = [s for s in loaded.systems if s.name == system]
    if not found:
        raise ConfigError(config, "systems", f"a system named {system!r} expected "
                          f"(--system); found {[s.name for s in loaded.systems]}")
    fidelity_sets = [f"systems.{system}.memories.{name}.params.controller.fidelity={fidelity}"
                     for name, dev in found[0].devices.items() if isinstance(dev, DramParams)]
    walls: list[float] = []
    t0 = [time.perf_counter()]

    def tick(_step: object) -> None:
        now = time.perf_counter()
        walls.append(now - t0[0])
        t0[0] = now

    result = run(config, [*overrides, *fidelity_sets], systems=[system], on_step=tick)
    energy = result.traffic.groupby("step").energy_pj.sum()
    return [StepTiming(phase=rec.phase, wall_s=wall, time_ns=rec.time_ns,
                       energy_pj=float(energy.get(rec.step, 0.0)))
            for rec, wall in zip(result.per_step.itertuples(), walls, strict=True)]


class _Ticker:
    """Wall seconds between consecutive finished steps."""

    def __init__(self) -> None:
        self.walls: list[float] = []
        self.last = time.perf_counter()

    def __call__(self, _step: object) -> None:
        now = time.perf_counter()
        self.walls.append(now - self.last)
        self.last = now


HEADLINE = (("decode_ms_per_token", "decode time/token"), ("ttft_ms", "TTFT"),
            ("energy_per_token_uj", "energy/token"))


@dataclass(frozen=True, kw_only=True)
class SamplingError:
    """One system: sampled decode against exhaustive simulation."""

    system: str
    decode_tokens: int
    simulated_decode: int        # decode tokens simulated in detail (the rest interpolated)
    wall_s: float                # whole system, sampled
    decode_wall_s: float         # its decode steps, sampled
    exhaustive_decode_wall_s: float | None
    errors: dict[str, float]     # relative error per HEADLINE metric (empty: no reference)


def sampling_error(config: str, systems: list[str] | None, overrides: list[str],
                   reference: bool = True) -> list[SamplingError]:
    """Simulate each system (all if `systems` is None) as configured and, with `reference`,
    with workload.decode_sampling=exhaustive; time the decode steps on the wall clock."""
    from qmcsim.config.loader import load_run
    from qmcsim.pipeline import run

    names = [s.name for s in load_run(config, overrides).systems]
    for name in systems or []:
        if name not in names:
            raise ConfigError(config, "systems", f"a system named {name!r} expected "
                              f"(--system); found {names}")
    out = []
    for name in systems or names:
        runs = []
        for extra in ([], ["workload.decode_sampling=exhaustive"])[:2 if reference else 1]:
            ticker = _Ticker()
            result = run(config, [*overrides, *extra], systems=[name], on_step=ticker)
            steps = result.per_step
            decode_wall = sum(w for w, phase in zip(ticker.walls, steps.phase, strict=True)
                              if phase == "decode")
            runs.append((result, sum(ticker.walls), decode_wall))
        (sampled, wall, decode_wall), ref = runs[0], runs[1] if reference else None
        decode = sampled.per_step[sampled.per_step.phase == "decode"]
        row = sampled.summary.iloc[0]
        errors = {} if ref is None else {
            key: float(row[key] / ref[0].summary.iloc[0][key] - 1) for key, _ in HEADLINE}
        out.append(SamplingError(system=name, decode_tokens=len(decode),
                                 simulated_decode=int(decode.simulated.sum()), wall_s=wall,
                                 decode_wall_s=decode_wall,
                                 exhaustive_decode_wall_s=None if ref is None else ref[2],
                                 errors=errors))
    return out


@dataclass(frozen=True, kw_only=True)
class BurstSpeed:
    """Burst-mode speed of one channel on one access pattern."""

    pattern: str
    requests: int
    channel_width_bits: int
    requests_per_s: tuple[float, ...]   # one per repeat
    fraction_of_peak: float             # achieved bandwidth of the first repeat

    @property
    def median_requests_per_s(self) -> float:
        return statistics.median(self.requests_per_s)


def burst_speed(preset: str, requests: int, repeats: int, pattern: str) -> BurstSpeed:
    """Requests per wall second of one channel of `preset` (a DRAM preset), `repeats` runs."""
    from qmcsim.config.devices import load_device

    if requests < 1 or repeats < 1:
        raise ConfigError("command line", "--requests" if requests < 1 else "--repeats",
                          "an integer >= 1 expected")
    params = load_device(preset, file="command line", field_path="--preset")
    if not isinstance(params, DramParams):
        raise ConfigError("command line", "--preset", f"a DRAM preset expected, got "
                          f"{preset!r} (kind: {params.kind})")
    runs = [run_once(params, requests, pattern, seed=k) for k in range(repeats)]
    return BurstSpeed(pattern=pattern, requests=requests,
                      channel_width_bits=params.org.channel_width_bits,
                      requests_per_s=tuple(r for r, _ in runs), fraction_of_peak=runs[0][1])


__all__ = ["HEADLINE", "IMPLEMENTATION", "BurstSpeed", "SamplingError", "StepTiming",
           "burst_speed", "model_steps", "run_once", "sampling_error"]
