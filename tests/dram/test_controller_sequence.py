"""The command sequences the controller emits (scheduling, page policy, draining, refresh)."""

from __future__ import annotations

from dram_helpers import controller, load

from qmcsim.memories.dram.spec import ACT, COMMANDS, PRE, PREA, RD, RDA, REFAB, WR


def _names(log):
    return [(COMMANDS[cmd], bank, row) for _, cmd, bank, row in log]


def test_open_page_row_conflict_is_act_rd_pre_act_rd() -> None:
    log: list = []
    c = controller(load(), log=log)
    c.push(1, 0, [(2, 10, 0)], False)
    c.push(2, 0, [(2, 11, 0)], False)
    c.run()
    assert [n for n, _, _ in _names(log)] == ["ACT", "RD", "PRE", "ACT", "RD"]
    assert [r for _, _, r in _names(log)][-2:] == [11, 11]


def test_closed_page_uses_auto_precharge() -> None:
    log: list = []
    c = controller(load(controller={"page_policy": "closed"}), log=log)
    c.push(1, 0, [(2, 10, 0), (2, 10, 1)], False)
    c.push(2, 0, [(2, 11, 0)], False)
    c.run()
    assert [n for n, _, _ in _names(log)] == ["ACT", "RD", "RDA", "ACT", "RDA"]


def test_fr_fcfs_serves_row_hits_before_older_conflicts() -> None:
    log: list = []
    c = controller(load(), log=log)
    c.push(1, 0, [(0, 1, 0)], False)  # opens row 1
    c.push(2, 0, [(0, 2, 0)], False)  # older, conflicts
    c.push(3, 0, [(0, 1, 5)], False)  # younger, hits row 1
    c.run()
    seq = [(COMMANDS[cmd], row) for _, cmd, _, row in log]
    assert seq == [("ACT", 1), ("RD", 1), ("RD", 1), ("PRE", 2), ("ACT", 2), ("RD", 2)]


def test_writes_wait_for_the_high_watermark_then_drain_to_the_low() -> None:
    p = load()
    log: list = []
    c = controller(p, log=log)
    hi = round(p.controller.write_high_watermark * p.controller.write_queue_size)
    lo = round(p.controller.write_low_watermark * p.controller.write_queue_size)
    for i in range(40):
        c.push(1000 + i, 0, [(i % 16, 3, 0)], False)  # reads keep the read queue busy
    for i in range(hi):
        c.push(i, 0, [(i % 16, 3, 1)], True)
    c.run()
    kinds = [COMMANDS[cmd] for _, cmd, _, _ in log if cmd in (RD, WR)]
    first_w = kinds.index("WR")
    burst = kinds[first_w:first_w + hi - lo]
    assert burst == ["WR"] * (hi - lo)  # one drain of (high - low) writes, no reads between
    assert kinds.count("WR") == hi and kinds.count("RD") == 40


def test_all_bank_refresh_precharges_then_refreshes_every_trefi() -> None:
    p = load()
    log: list = []
    c = controller(p, log=log)
    c.push(1, 0, [(0, 1, 0)], False)
    c.run(until=3 * 3125 + 10)
    names = [COMMANDS[cmd] for _, cmd, _, _ in log]
    assert names == ["ACT", "RD", "PREA", "REFab", "REFab", "REFab"]
    ref_times = [t for t, cmd, _, _ in log if cmd == REFAB]
    assert ref_times == [3125 + 17, 2 * 3125, 3 * 3125]  # the first waits tRPab after PREA
    assert [cmd for _, cmd, _, _ in log].count(PREA) == 1 and PRE not in [x[1] for x in log]


def test_per_bank_refresh_rotates_over_bank_pairs() -> None:
    p = load(controller={"refresh": "per_bank"})
    log: list = []
    c = controller(p, log=log)
    c.push(1, 0, [(0, 1, 0)], False)
    c.run(until=9 * 391 + 1)
    refs = [(bank, group) for _, cmd, bank, group in log if COMMANDS[cmd] == "REFpb"]
    assert refs == [(b, b) for b in range(8)] + [(0, 0)]  # group k: banks k and k + 8
    assert p.spec.refresh_groups("per_bank", p.org.organisation())[:2] == ((0, 8), (1, 9))
    assert [COMMANDS[x[1]] for x in log][:4] == ["ACT", "RD", "PRE", "REFpb"]
    assert ACT in [x[1] for x in log] and RDA not in [x[1] for x in log]
