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


def add_arguments(p: argparse.ArgumentParser) -> None:
    from qmcsim.memories.dram.bench import add_arguments as dram_arguments

    dram_arguments(p)


def run(args: argparse.Namespace) -> int:
    from qmcsim.memories.dram.bench import run as dram_run

    return dram_run(args)
