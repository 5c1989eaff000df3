"""The optimised burst-mode controller against a frozen copy of the pre-optimisation one.

Both controllers see the same mixed traces, driven the three ways the code base drives them
(bench and replay: chunks through `push_each` + `run(final=False)`; DramMemory:
`run(until=arrival)` before each push; calibration: everything pushed, one `run()`), each with
the interpreted controller and with its compiled build. The issued command logs, the
finished-request records, the counters and the clocks must be IDENTICAL to the reference's
(driven by `push` alone), and the checker must find nothing.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from burst_reference import ChannelController as RefController
from burst_reference import CompiledTiming as RefTiming
from dram_helpers import IMPLEMENTATIONS, check, controller, load

from qmcsim.memories.dram.channel import refresh_args
from qmcsim.memories.dram.params import DramParams, timing_cycles

Trace = list[tuple[int, int, list[tuple[int, int, int]], bool]]  # tag, arrival, bursts, write


def _reference(params: DramParams, log: list, **kw: Any) -> RefController:
    timing = RefTiming.build(params.spec.resolved, timing_cycles(params),
                             params.org.organisation())
    cp = params.controller
    args: dict[str, Any] = {
        "read_queue_size": cp.read_queue_size, "write_queue_size": cp.write_queue_size,
        "write_high_watermark": cp.write_high_watermark,
        "write_low_watermark": cp.write_low_watermark, "page_policy": cp.page_policy}
    args.update(refresh_args(params, kw.pop("refresh", None)))
    args.update(kw)
    return RefController(timing, log=log, **args)


def _trace(kind: str, n: int, seed: int, banks: int = 16, gap: tuple[int, ...] = (0,),
           writes: float = 0.0, rows: int = 32768, max_bursts: int = 1) -> Trace:
    rng = random.Random(seed)
    out: Trace = []
    t = 0
    addr = 0
    for i in range(n):
        t += rng.choice(gap)
        k = rng.randint(1, max_bursts)
        bursts = []
        for _ in range(k):
            if kind == "sequential":  # RoBaRaCoBg: bank groups fastest, then columns
                bg, col = addr % 4, (addr // 4) % 64
                ba, row = (addr // 256) % (banks // 4), (addr // (64 * banks)) % rows
                bursts.append((ba * 4 + bg, row, col))
                addr += 1
            elif kind == "row-runs":  # same bank and row for 64 bursts, then the next bank
                bursts.append(((addr // 64) % banks, (addr // (64 * banks)) % rows, addr % 64))
                addr += 1
            else:
                bursts.append((rng.randrange(banks), rng.randrange(rows), rng.randrange(64)))
        out.append((i, t, bursts, rng.random() < writes))
    return out


def _interleave(stream: Trace, other: Trace, every: int) -> Trace:
    """`stream` with one request of `other` after every `every`-th, at the same arrival."""
    out: Trace = []
    it = iter(other)
    for k, (_, arr, bursts, w) in enumerate(stream):
        out.append((len(out), arr, bursts, w))
        if k % every == every - 1:
            extra = next(it, None)
            if extra is not None:
                out.append((len(out), arr, extra[2], extra[3]))
    return out


def _shared_tags(trace: Trace, k: int) -> Trace:
    """Every k consecutive requests under one tag (pushes of a tag still in flight merge)."""
    return [(tag // k, arr, bursts, w) for tag, arr, bursts, w in trace]


def _drive(ctrl: Any, trace: Trace, mode: str) -> list:
    finished: list = []
    if mode == "each" and hasattr(ctrl, "push_each"):  # the reference has no push_each
        for k in range(0, len(trace), 97):
            part = trace[k:k + 97]
            ctrl.push_each([tag for tag, *_ in part], [arr for _, arr, _, _ in part],
                           [b[0][0] for *_, b, _ in part], [b[0][1] for *_, b, _ in part],
                           [b[0][2] for *_, b, _ in part], [w for *_, w in part])
            ctrl.run(final=False)
            finished += ctrl.finished
            ctrl.finished.clear()
        ctrl.run()
    elif mode in ("chunks", "each"):
        for k, (tag, arr, bursts, w) in enumerate(trace):
            ctrl.push(tag, arr, bursts, w)
            if k % 97 == 96:
                ctrl.run(final=False)
                finished += ctrl.finished
                ctrl.finished.clear()
        ctrl.run()
    elif mode == "until":
        for tag, arr, bursts, w in trace:
            ctrl.run(until=arr, final=True)
            finished += ctrl.finished
            ctrl.finished.clear()
            ctrl.push(tag, arr, bursts, w)
        last = trace[-1][1]
        ctrl.run(until=last + 9000, final=True)  # idle tail: refreshes with empty queues
        finished += ctrl.finished
        ctrl.finished.clear()
        ctrl.run()
    else:
        for tag, arr, bursts, w in trace:
            ctrl.push(tag, arr, bursts, w)
        ctrl.run()
    finished += ctrl.finished
    return finished


CASES: dict[str, tuple[dict, dict, Trace, str]] = {
    # name: (preset overrides, controller kwargs, trace, driving mode)
    "sequential": ({}, {}, _trace("sequential", 6000, 1), "chunks"),
    "sequential-until": ({}, {}, _trace("sequential", 3000, 2, gap=(0, 0, 0, 1, 2)), "until"),
    "random": ({}, {}, _trace("random", 4000, 3), "chunks"),
    "random-push-each": ({}, {}, _trace("random", 4000, 26, rows=5, writes=0.3,
                                        gap=(0, 0, 1, 30)), "each"),
    "sequential-push-each": ({}, {}, _trace("sequential", 6000, 27, writes=0.1), "each"),
    "shared-tags": ({}, {}, _shared_tags(_trace("random", 4000, 28, rows=4, max_bursts=3,
                                                writes=0.2, gap=(0, 0, 3, 40)), 3), "until"),
    "shared-tags-each": ({}, {}, _shared_tags(_trace("row-runs", 4000, 29, writes=0.2,
                                                     gap=(0, 1, 90)), 2), "each"),
    "random-few-rows": ({}, {}, _trace("random", 4000, 4, rows=3), "chunks"),
    "mixed-rw": ({}, {}, _trace("random", 4000, 5, rows=4, writes=0.35, max_bursts=3,
                                gap=(0, 0, 1, 3, 20)), "until"),
    "sequential-rw": ({}, {}, _trace("sequential", 4000, 6, writes=0.3, max_bursts=4), "all"),
    "closed-page": ({"controller": {"page_policy": "closed"}}, {},
                    _trace("random", 4000, 7, rows=2, writes=0.2, max_bursts=2,
                           gap=(0, 1, 2, 40)), "until"),
    "closed-sequential": ({"controller": {"page_policy": "closed"}}, {},
                          _trace("sequential", 3000, 8, max_bursts=3), "chunks"),
    "per-bank-refresh": ({"controller": {"refresh": "per_bank"}}, {},
                         _trace("random", 4000, 9, rows=6, writes=0.25,
                                gap=(0, 0, 2, 5, 60)), "until"),
    "per-bank-sequential": ({"controller": {"refresh": "per_bank"}}, {},
                            _trace("sequential", 5000, 10), "chunks"),
    "refresh-off": ({}, {"refresh": "off"}, _trace("random", 3000, 11, rows=5, writes=0.3,
                                                   gap=(0, 3, 500)), "until"),
    "small-queues": ({}, {"read_queue_size": 3, "write_queue_size": 4},
                     _trace("random", 3000, 12, rows=3, writes=0.5, max_bursts=3,
                            gap=(0, 0, 1, 7)), "until"),
    "write-heavy": ({}, {}, _trace("random", 4000, 13, rows=8, writes=0.8, max_bursts=2),
                    "chunks"),
    "lpddr5x": ({"name": "lpddr5x-8533-x16"}, {},
                _trace("random", 3000, 14, rows=4, writes=0.3, gap=(0, 1, 9)), "until"),
    "two-ranks": ({"org": {"ranks": 2}, "capacity_bytes": 2 * 1073741824}, {},
                  _trace("random", 3000, 15, banks=32, rows=3, writes=0.3,
                         gap=(0, 0, 4)), "chunks"),
    "two-ranks-per-bank": ({"org": {"ranks": 2}, "capacity_bytes": 2 * 1073741824,
                            "controller": {"refresh": "per_bank"}}, {},
                           _trace("sequential", 3000, 16, banks=32, writes=0.2), "until"),
    # long row-hit streams interrupted by refresh, writes and other banks' arrivals
    "long-sequential-refresh": ({}, {}, _trace("sequential", 16000, 17, max_bursts=2),
                                "chunks"),
    "row-runs-refresh": ({}, {}, _trace("row-runs", 12000, 18, max_bursts=4), "all"),
    "row-runs-per-bank": ({"controller": {"refresh": "per_bank"}}, {},
                          _trace("row-runs", 8000, 19, gap=(0, 0, 0, 1)), "until"),
    "row-runs-writes": ({}, {}, _trace("row-runs", 8000, 20, writes=0.15, max_bursts=3,
                                       gap=(0, 0, 2)), "until"),
    "sequential-other-banks": ({}, {}, _interleave(
        _trace("sequential", 8000, 21, gap=(0, 0, 1)),
        _trace("random", 1000, 22, rows=4, writes=0.3), 9), "until"),
    "row-runs-other-banks": ({}, {}, _interleave(
        _trace("row-runs", 8000, 23, max_bursts=2),
        _trace("random", 1500, 24, rows=3, writes=0.2), 6), "chunks"),
    "row-runs-closed": ({"controller": {"page_policy": "closed"}}, {},
                        _trace("row-runs", 5000, 25, writes=0.1, max_bursts=3), "chunks"),
    # the other standards: their constraint tables and refresh modes through both controllers
    "ddr5-mixed": ({"name": "ddr5-4800-x16"}, {},
                   _trace("random", 3000, 30, rows=4, writes=0.3, max_bursts=2,
                          gap=(0, 1, 9, 40)), "until"),
    "ddr5-same-bank-sequential": ({"name": "ddr5-4800-x16",
                                   "controller": {"refresh": "same_bank"}}, {},
                                  _trace("sequential", 6000, 31, writes=0.1), "chunks"),
    "hbm3-mixed": ({"name": "hbm3-6400-pc"}, {},
                   _trace("random", 3000, 32, rows=4, writes=0.3, max_bursts=2,
                          gap=(0, 1, 9, 40)), "until"),
    "hbm3-per-bank-row-runs": ({"name": "hbm3-6400-pc", "controller": {"refresh": "per_bank"}},
                               {}, _trace("row-runs", 5000, 33, writes=0.1, max_bursts=2),
                               "chunks"),
}


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@pytest.mark.parametrize("name", list(CASES))
def test_command_log_identical_to_frozen_reference(name: str, impl: Any) -> None:
    overrides, kw, trace, mode = CASES[name]
    overrides = dict(overrides)
    params = load(overrides.pop("name", "lpddr5-6400-x16"), **overrides)
    ref_log: list = []
    new_log: list = []
    ref = _reference(params, ref_log, **kw)
    new = controller(params, log=new_log, impl=impl, **kw)
    ref_done = _drive(ref, trace, mode)
    new_done = _drive(new, trace, mode)
    assert len(new_log) == len(ref_log)
    for k, (a, b) in enumerate(zip(new_log, ref_log, strict=True)):
        assert a == b, f"command #{k} differs: {a} != {b}"
    assert new_done == ref_done
    assert vars(new.counters) == vars(ref.counters)
    assert new.clk == ref.clk
    assert new.open_cycles(new.clk + 5) == ref.open_cycles(ref.clk + 5)
    assert not new.busy()
    assert sum(h + m + c for *_, h, m, c in new_done) == sum(len(b) for _, _, b, _ in trace)
    assert check(new_log, params) == []
