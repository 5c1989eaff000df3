"""`bench`: the simulator's speed (burst-mode requests/s; whole-model wall time per decode token
and the error of sampled decode against exhaustive simulation)."""

from __future__ import annotations

import argparse

NAME = "bench"
HELP = ("measure the simulator's speed (burst-mode requests/s; with --model, wall time per "
        "decode token and the error vs exhaustive simulation)")
DESCRIPTION = ("Burst mode: feed --requests one-burst reads (sequential, then uniformly random) "
               "into one channel of --preset and print requests per wall second (median of "
               "--repeats) and which controller build ran. With --model CONFIG: simulate each "
               "system of a run config as configured (sampled decode) and exhaustively "
               "(workload.decode_sampling=exhaustive), and print the wall time per decode "
               "token and the error of decode time/token, TTFT and energy/token against the "
               "exhaustive run. With --model and --fidelity burst or both: one system (--system, "
               "default fp16) with its DRAM in that fidelity, wall time, latency and energy "
               "per step (both: fast vs burst). Figures and machine: BENCHMARKS.md.")


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--preset", default="lpddr5-6400-x16", help="DRAM preset (burst mode)")
    ap.add_argument("--requests", type=int, default=5_000_000, metavar="N",
                    help="one-burst reads per pattern, sequential and random (default 5000000)")
    ap.add_argument("--repeats", type=int, default=3, metavar="N",
                    help="repetitions; the median is printed (default 3)")
    ap.add_argument("--model", metavar="CONFIG",
                    help="run config: wall time per decode token and error vs exhaustive")
    ap.add_argument("--system", action="append", default=[],
                    help="with --model: only this system (repeatable; default: all)")
    ap.add_argument("--fidelity", choices=("fast", "burst", "both"), default="fast",
                    help="with --model: DRAM fidelity (burst, both: per-step timing)")
    ap.add_argument("--no-reference", action="store_true",
                    help="with --model: skip the exhaustive reference run")
    ap.add_argument("--set", dest="overrides", action="append", default=[],
                    metavar="PATH=VALUE", help="override a field of the run config")


def run(args: argparse.Namespace) -> int:
    from qmcsim.memories.dram.bench import IMPLEMENTATION, burst_speed, model_steps

    if args.model and args.fidelity == "fast":
        _sampling_report(args)
        return 0
    if args.model:
        system = args.system[0] if args.system else "fp16"
        per_fid = {f: model_steps(args.model, system, args.overrides, f)
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


def _sampling_report(args: argparse.Namespace) -> None:
    from qmcsim.memories.dram.bench import HEADLINE, sampling_error

    for m in sampling_error(args.model, args.system or None, args.overrides,
                            reference=not args.no_reference):
        n = max(1, m.decode_tokens)
        line = (f"{m.system}: {m.decode_tokens} decode tokens ({m.simulated_decode} simulated), "
                f"wall {m.wall_s:.2f} s, {m.decode_wall_s / n * 1e3:.2f} ms per decode token")
        if m.exhaustive_decode_wall_s is not None:
            errors = ", ".join(f"{label} {m.errors[key]:+.3%}" for key, label in HEADLINE)
            line += (f"; exhaustive: {m.exhaustive_decode_wall_s / n * 1e3:.2f} ms per decode "
                     f"token; error vs exhaustive: {errors}")
        print(line)
