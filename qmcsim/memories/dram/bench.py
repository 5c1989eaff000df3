"""Burst-mode speed of one LPDDR5 x16 channel: `python -m qmcsim.memories.dram.bench`.

Feeds N one-burst read requests (sequential, then uniformly random over the whole channel)
straight into a ChannelController in chunks, and prints wall-clock requests/s.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from qmcsim.config.devices import load_device
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
        for i, (b, r, c) in enumerate(zip(bank.tolist(), row.tolist(), col.tolist(),
                                          strict=True)):
            ctrl.push(start + i, 0, ((b, r, c),), False)
        ctrl.run(final=False)
        ctrl.finished.clear()
    ctrl.run()
    wall = time.perf_counter() - t0
    n_bl = params.org.burst_length // (2 * params.timing.wck_to_ck)
    return n / wall, n * n_bl / max(1, ctrl.clk)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--preset", default="lpddr5-6400-x16")
    ap.add_argument("--requests", type=int, default=5_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    params = load_device(args.preset, file="<bench>", field_path="preset")
    assert isinstance(params, DramParams)
    for pattern in ("sequential", "random"):
        runs = [run_once(params, args.requests, pattern, seed=k) for k in range(args.repeats)]
        rates = [r for r, _ in runs]
        print(f"{pattern}: {args.requests} requests, burst mode, 1 x16 channel: median "
              f"{statistics.median(rates):,.0f} requests/s (runs: "
              f"{', '.join(f'{r:,.0f}' for r in rates)}); bandwidth {runs[0][1]:.3f} of peak")
    print("fast mode: not implemented yet (no fast-vs-burst difference to report)")


if __name__ == "__main__":
    main()
