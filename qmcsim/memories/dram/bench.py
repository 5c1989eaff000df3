"""DRAM model speed: `python -m qmcsim bench` (or `python -m qmcsim.memories.dram.bench`).

Burst mode: feeds N one-burst read requests (sequential, then uniformly random over the whole
channel) straight into one channel's ChannelController in chunks; prints requests/s.
Fast mode (`--model CONFIG --system NAME --set ...`): runs one system of a run config with its
DRAM in the given fidelity and prints the wall time and simulated latency / energy per step
(`--fidelity both` runs burst mode too and prints the per-step difference).
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass, replace

import numpy as np

from qmcsim.config.devices import load_device
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
    n_bl = params.org.burst_length // (2 * params.timing.wck_to_ck)
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
    from qmcsim.runner import prepare, simulate_system

    run = load_run(config, overrides)
    found = [(s, p) for s, p in prepare(run) if s.name == system]
    if not found:
        raise ConfigError(config, "systems", f"a system named {system!r} expected "
                          f"(--system); found {[s.name for s, _ in prepare(run)]}")
    sys_, placement = found[0]
    devices = {}
    for name, dev in sys_.devices.items():
        if isinstance(dev, DramParams):
            dev = dev.model_copy(update={"controller": dev.controller.model_copy(
                update={"fidelity": fidelity})})
        devices[name] = dev
    sys_ = replace(sys_, devices=devices)
    walls: list[float] = []
    t0 = [time.perf_counter()]

    def tick(_step: object) -> None:
        now = time.perf_counter()
        walls.append(now - t0[0])
        t0[0] = now

    result = simulate_system(run, sys_, placement, on_step=tick)
    out = []
    for rec, wall in zip(result.trace.steps, walls, strict=True):
        energy = sum(r.energy_pj for r in result.trace.traffic if r.step == rec.step)
        out.append(StepTiming(phase=rec.phase, wall_s=wall, time_ns=rec.time_ns,
                              energy_pj=energy))
    return out


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--preset", default="lpddr5-6400-x16")
    ap.add_argument("--requests", type=int, default=5_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--model", metavar="CONFIG", help="run config (fast-mode measurement)")
    ap.add_argument("--system", default="fp16")
    ap.add_argument("--fidelity", choices=("fast", "burst", "both"), default="fast")
    ap.add_argument("--set", dest="overrides", action="append", default=[])


def run(args: argparse.Namespace) -> int:
    if args.requests < 1 or args.repeats < 1:
        raise ConfigError("command line", "--requests" if args.requests < 1 else "--repeats",
                          "an integer >= 1 expected")
    if args.model:
        per_fid = {f: model_steps(args.model, args.system, args.overrides, f)
                   for f in (("fast", "burst") if args.fidelity == "both" else (args.fidelity,))}
        for f, steps in per_fid.items():
            for k, st in enumerate(steps):
                line = (f"{f} step {k} {st.phase}: wall {st.wall_s:.3f} s, simulated "
                        f"{st.time_ns / 1e6:.4f} ms, energy {st.energy_pj / 1e6:.3f} uJ")
                if f == "fast" and "burst" in per_fid:
                    b = per_fid["burst"][k]
                    line += (f"; vs burst: latency {st.time_ns / b.time_ns - 1:+.3%}, energy "
                             f"{st.energy_pj / b.energy_pj - 1:+.3%}")
                print(line)
        return 0
    params = load_device(args.preset, file="command line", field_path="--preset")
    if not isinstance(params, DramParams):
        raise ConfigError("command line", "--preset", f"a DRAM preset expected, got "
                          f"{args.preset!r} (kind: {params.kind})")
    print(f"controller: {IMPLEMENTATION}")
    width = params.org.channel_width_bits
    for pattern in ("sequential", "random"):
        runs = [run_once(params, args.requests, pattern, seed=k) for k in range(args.repeats)]
        rates = [r for r, _ in runs]
        print(f"{pattern}: {args.requests} requests, burst mode, 1 x{width} channel: median "
              f"{statistics.median(rates):,.0f} requests/s (runs: "
              f"{', '.join(f'{r:,.0f}' for r in rates)}); bandwidth {runs[0][1]:.3f} of peak")
    return 0


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    add_arguments(ap)
    try:
        raise SystemExit(run(ap.parse_args(argv)))
    except ConfigError as exc:
        raise SystemExit(f"error: {exc}") from None


if __name__ == "__main__":
    main()
