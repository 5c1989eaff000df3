"""CPU time of one `qmcsim run`, split into the simulation and everything around it.

    python benchmarks/run_phases.py [CONFIG] [--repeat N]

Each repeat is a fresh interpreter (imports and start-up count) running the CLI's `run`
command in-process, with `time.process_time()` taken around its phases: start-up (interpreter,
imports, argument parsing), loading the config, the pipeline around the simulation (placement,
checks, tables), the report text, the tables' bytes, the summary figure, writing the folder.
The simulation is the pipeline's `simulate_system` calls plus the DRAM fast-mode calibration,
which runs once per parameter set, the first time a DRAM memory is built (when `load_run`
checks the unit counts). Each phase is counted exclusive of the phases nested in it; the
median over the repeats is printed per phase. CPU seconds of this process only, so the
figures are meaningful on a loaded machine too. Run it from the repository root.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIMULATION = ("simulation", "DRAM fast-mode calibration")
PHASES = ("start-up", "load_run", "pipeline outside simulation", "report text", "table bytes",
          "summary figure", "write folder", "rest of run") + SIMULATION


def child(config: str, out: str) -> None:
    """One measured run in this (fresh) process; prints the phase times as JSON."""
    import time

    sys.path.insert(0, str(ROOT))
    spent = dict.fromkeys(PHASES, 0.0)
    stack: list[float] = []   # CPU time of the phases nested in each open one

    def timed(owner: object, name: str, phase: str) -> None:
        fn = getattr(owner, name)

        def wrapper(*a: object, **k: object) -> object:
            start = time.process_time()
            stack.append(0.0)
            try:
                return fn(*a, **k)
            finally:
                inner = stack.pop()
                elapsed = time.process_time() - start
                spent[phase] += elapsed - inner   # exclusive of nested phases
                if stack:
                    stack[-1] += elapsed
        setattr(owner, name, wrapper)

    from qmcsim import cli

    parser, mods = cli.build_parser()
    args = parser.parse_args(["run", config, "--no-progress", "--out", out])
    # the run command imports these when it runs; patching them here moves their import into
    # start-up, which is still counted
    import qmcsim.config.loader as loader
    import qmcsim.memories.dram.fast as fast
    import qmcsim.pipeline as pipeline
    import qmcsim.results as results
    import qmcsim.runner as runner
    from qmcsim.commands import run as run_cmd

    timed(loader, "load_run", "load_run")
    timed(fast, "derive_costs", "DRAM fast-mode calibration")
    timed(runner, "simulate_system", "simulation")
    timed(pipeline.RunResult, "files", "table bytes")
    timed(run_cmd, "render_report", "report text")
    timed(run_cmd, "summary_figure_files", "summary figure")
    timed(results, "write_results_folder", "write folder")
    timed(pipeline, "run", "pipeline outside simulation")
    spent["start-up"] = time.process_time()   # interpreter, imports, argument parsing
    start = time.process_time()
    with open(os.devnull, "w") as sink:
        stdout, sys.stdout = sys.stdout, sink
        try:
            assert mods["run"].run(args) == 0
        finally:
            sys.stdout = stdout
    total_run = time.process_time() - start
    spent["rest of run"] = total_run - sum(v for k, v in spent.items() if k != "start-up")
    print(json.dumps(spent))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("config", nargs="?", default="hw_configs/hymba-qmc.yaml")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--out", default=None)
    a = p.parse_args()
    if a.child:
        child(a.config, a.out)
        return 0
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(a.repeat):
            done = subprocess.run([sys.executable, __file__, a.config, "--child", "--out", tmp],
                                  check=True, capture_output=True, text=True, cwd=ROOT)
            runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(f"{a.config}: CPU seconds, median of {a.repeat} fresh processes")
    for phase in PHASES:
        values = [r[phase] for r in runs]
        print(f"  {phase:<28} {statistics.median(values):7.3f}   "
              f"({', '.join(f'{v:.3f}' for v in values)})")
    outside = [sum(v for k, v in r.items() if k not in SIMULATION) for r in runs]
    print(f"  {'everything but simulation':<28} {statistics.median(outside):7.3f}   "
          f"({', '.join(f'{v:.3f}' for v in outside)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
