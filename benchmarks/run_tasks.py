"""CPU time of each worker task of a run (power-on and inference per system), in one process.

    python benchmarks/run_tasks.py [CONFIG]

Loads the config and places every system as `run` does, then runs the tasks `run --jobs`
hands its workers (`qmcsim.runner._cold_start_in_worker`, `_inference_in_worker`) one after
another, printing `time.process_time()` around each: the longest task bounds the workers'
wall time. The DRAM fast-mode calibration happens in the load (it is not a task). Run it from
the repository root.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("config", nargs="?", default="hw_configs/hymba-qmc.yaml")
    args = p.parse_args()
    sys.path.insert(0, str(ROOT))
    from qmcsim import runner
    from qmcsim.config.loader import load_run

    t = time.process_time()
    run = load_run(args.config)
    prepared = runner.prepare(run)
    print(f"load_run + prepare (calibration included): {time.process_time() - t:.3f} s")
    runner._adopt(run, {s.name: placement for s, placement in prepared})
    for system, _ in prepared:
        for task, fn in (("power-on", runner._cold_start_in_worker),
                         ("inference", runner._inference_in_worker)):
            t = time.process_time()
            fn(system.name)
            print(f"{system.name:12s} {task:10s} {time.process_time() - t:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
