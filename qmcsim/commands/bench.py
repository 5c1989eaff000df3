"""`bench`: the DRAM model's speed (burst-mode requests/s; fast-mode wall time per step)."""

from __future__ import annotations

import argparse

NAME = "bench"
HELP = "measure the DRAM model's speed (burst-mode requests/s, fast-mode wall time per step)"
DESCRIPTION = ("Burst mode: feed --requests one-burst reads (sequential, then uniformly random) "
               "into one channel of --preset and print requests per wall second (median of "
               "--repeats) and which controller build ran. With --model CONFIG: simulate one "
               "system of a run config with its DRAM in --fidelity (fast, burst, or both, "
               "which also prints the per-step difference) and print wall time, simulated "
               "latency and energy per step. Figures and machine: BENCHMARKS.md.")


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--preset", default="lpddr5-6400-x16",
                    help="DRAM preset of the burst-mode measurement (default lpddr5-6400-x16)")
    ap.add_argument("--requests", type=int, default=5_000_000, metavar="N",
                    help="one-burst reads per pattern, sequential and random (default 5000000)")
    ap.add_argument("--repeats", type=int, default=3, metavar="N",
                    help="repetitions; the median is printed (default 3)")
    ap.add_argument("--model", metavar="CONFIG",
                    help="run config: time one of its systems instead (wall time, latency and "
                         "energy per step)")
    ap.add_argument("--system", default="fp16",
                    help="with --model: the system to simulate (default fp16)")
    ap.add_argument("--fidelity", choices=("fast", "burst", "both"), default="fast",
                    help="with --model: DRAM fidelity; both also prints the per-step "
                         "difference (default fast)")
    ap.add_argument("--set", dest="overrides", action="append", default=[],
                    metavar="PATH=VALUE", help="override a field of the run config")


def run(args: argparse.Namespace) -> int:
    from qmcsim.memories.dram.bench import IMPLEMENTATION, burst_speed, model_steps

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
    measured = [burst_speed(args.preset, args.requests, args.repeats, pattern)
                for pattern in ("sequential", "random")]
    print(f"controller: {IMPLEMENTATION}")
    for m in measured:
        print(f"{m.pattern}: {m.requests} requests, burst mode, 1 x{m.channel_width_bits} "
              f"channel: median {m.median_requests_per_s:,.0f} requests/s (runs: "
              f"{', '.join(f'{r:,.0f}' for r in m.requests_per_s)}); bandwidth "
              f"{m.fraction_of_peak:.3f} of peak")
    return 0
