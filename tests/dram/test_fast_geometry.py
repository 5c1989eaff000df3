"""Fast mode's three geometry forms give the same results (qmcsim/memories/dram/geometry.py):
row outcomes counted segment by segment (the reference), per refresh boundary over enumerated
segment spans, and per refresh boundary over a long request's two enumerated ends plus an
in-block table for the full blocks between them. Same requests, same arrival cycles: every
result and the final channel and bank state must be identical."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest
from dram_helpers import PRESETS, load

from qmcsim.memories.dram import geometry
from qmcsim.memories.dram.fast import FastChannels
from qmcsim.memories.dram.geometry import ChannelBits, build
from qmcsim.memories.dram.mapping import AddressMapping

MB = 1 << 20


def _channels(preset: str, mapping_text: str | None, channels: int, by_boundaries: bool,
              **controller: object) -> FastChannels:
    params = load(preset, controller=controller) if controller else load(preset)
    mapping = AddressMapping.parse(mapping_text or params.controller.address_mapping,
                                   params.org.organisation(), channels)
    ch = FastChannels(params, mapping)
    ch.by_boundaries = by_boundaries and ch.by_boundaries
    ch._geo_cache = {}   # each instance builds its own forms
    return ch


def _requests(seed: int, burst_bytes: int) -> list[tuple[int, int, bool, int]]:
    """Sequential runs of every length from one burst to tens of MB, unaligned starts, reads
    and writes, back to back and after idle gaps crossing refresh intervals."""
    rng = np.random.default_rng(seed)
    out, t = [], 0
    for _ in range(60):
        size = int(rng.choice([burst_bytes, 3000, 70_000, 600_000, 5 * MB, 23 * MB]))
        size += int(rng.integers(0, 4096))
        addr = int(rng.integers(0, 48 * MB)) // burst_bytes * burst_bytes
        addr += int(rng.integers(0, burst_bytes)) if rng.random() < 0.3 else 0
        out.append((addr, size, bool(rng.random() < 0.3), t))
        t += int(rng.choice([0, 50, 5_000, 40_000, 900_000]))
    return out


def _served(ch: FastChannels, reqs: list[tuple[int, int, bool, int]]) -> list[object]:
    res = [ch.serve(*r) for r in reqs]
    return res + [ch.free.tolist(), ch.bank_row.tolist(), ch.bank_epoch.tolist(),
                  ch.open_cycles(10**10), ch.refreshes(10**10)]


# every mapping shape (channel bits below or above the column, banks above or below the
# channel) on the default preset, and every shipped preset's own mapping
CASES = ([("lpddr5-6400-x16", m, n) for m in ("RoBaRaCoBgCh", "RoChBaRaCoBg", "RoRaBgBaCoCh",
                                               "RoCoChBaRaBg") for n in (1, 4, 16)]
         + [(p, None, 16) for p in PRESETS])


@pytest.mark.parametrize(("preset", "mapping_text", "channels"), CASES)
def test_boundary_counts_match_segment_counts(preset: str, mapping_text: str | None,
                                              channels: int) -> None:
    reference = _channels(preset, mapping_text, channels, by_boundaries=False)
    counted = _channels(preset, mapping_text, channels, by_boundaries=True)
    reqs = _requests(channels * 7 + len(mapping_text or ""), reference.mapping.org.burst_bytes)
    assert _served(counted, reqs) == _served(reference, reqs)


def test_every_form_is_exercised() -> None:
    """The requests above reach all three forms on the default mapping."""
    ch = _channels("lpddr5-6400-x16", None, 16, by_boundaries=True)
    kinds = set()
    for addr, size, _, _ in _requests(7, 32):
        g = ch._geometry(addr // 32, (addr + size - 1) // 32)
        kinds.add("segments" if g.segments is not None else
                  "middle" if g.middle is not None else "spans")
    assert kinds == {"segments", "spans", "middle"}


def test_long_geometry_counts_what_enumeration_counts() -> None:
    """A long request's summary (two ends + middle) against the enumerated one: segments,
    bursts, each bank's first and last segment, the largest gap, and the spans at every
    position."""
    params = load()
    mapping = AddressMapping.parse(params.controller.address_mapping,
                                   params.org.organisation(), 4)
    bits = ChannelBits(mapping)
    f, last = 12_345, 12_345 + 9 * MB // 32
    long = build(bits, f, last, spans=True)
    full = geometry._Enumerated(bits, f, *bits.segments(f, last)[:2])
    whole = full.geometry(bits, f, last, last - f + 1, len(full.ch), full.max_gap(),
                          middle=None, keep_spans=True)
    assert long.middle is not None and whole.middle is None
    for name in ("bursts", "n_segments", "max_gap", "mask"):
        assert getattr(long, name) == getattr(whole, name), name
    for name in ("n_ch", "starts", "ends", "first_ch", "first_row", "first_pos", "last_ch",
                 "last_rows", "last_pos", "head_of_first", "head_ch"):
        assert np.array_equal(getattr(long, name), getattr(whole, name)), name
    for c in range(4):
        pos = np.arange(int(long.n_ch[c]), dtype=np.int64)
        chs = np.full(len(pos), c, dtype=np.int64)
        per_pos = [geometry.count_inside(bits, g, chs[i:i + 1], pos[i:i + 1])
                   for g in (long, whole) for i in range(0, len(pos), 997)]
        half = len(per_pos) // 2
        assert per_pos[:half] == per_pos[half:]
        assert (geometry.count_inside(bits, long, chs, pos)
                == geometry.count_inside(bits, whole, chs, pos))


def test_boundaries_too_close_fall_back_to_segments(monkeypatch: pytest.MonkeyPatch) -> None:
    """If two refresh boundaries could fall in one gap of a bank, the request is counted
    segment by segment: same results. (A refresh interval of 1,000 cycles, ~500 bursts, is
    shorter than the default mapping's gaps of ~770 bursts; the build-time check is bypassed
    so that the serve-time one is what falls back.)"""
    monkeypatch.setattr(FastChannels, "_gaps_fit", lambda self, gap: True)
    chans = []
    for by_boundaries in (False, True):
        ch = _channels("lpddr5-6400-x16", None, 4, by_boundaries=by_boundaries)
        ch.c = dataclasses.replace(ch.c, refresh_grid=1000)
        chans.append(ch)
    reference, counted = chans
    reqs = _requests(3, 32)
    assert _served(counted, reqs) == _served(reference, reqs)
    spans = [g for g in counted._geo_cache.values() if g.segments is None]
    assert spans and min(g.max_gap for g in spans) > 1000 / counted.c.r_read


def test_calibration_on_two_cores_gives_the_same_costs(monkeypatch: pytest.MonkeyPatch) -> None:
    """The calibration's streams split between this process and a forked child give the same
    costs as one process; a child that fails leaves its streams to this process."""
    from qmcsim.memories.dram import fast

    params = load(controller={"refresh": "per_bank"})
    fast._COSTS.clear()
    alone = fast.derive_costs(params)
    forks = []
    real_fork = os.fork
    monkeypatch.setattr(os, "fork", lambda: forks.append(1) or real_fork())
    monkeypatch.setattr(fast.threading, "active_count", lambda: 1)   # pytest-xdist's threads
    fast._COSTS.clear()
    with fast.calibration_on_two_cores():
        assert fast.derive_costs(params) == alone
    assert forks == [1]
    fast._COSTS.clear()
    parent, real_dumps = os.getpid(), fast.pickle.dumps

    def child_fails(obj: object) -> bytes:
        if os.getpid() != parent:
            raise OSError("no space left on device")
        return real_dumps(obj)

    monkeypatch.setattr(fast.pickle, "dumps", child_fails)
    with fast.calibration_on_two_cores():
        assert fast.derive_costs(params) == alone
    assert forks == [1, 1]
    fast._COSTS.clear()


def test_calibration_is_cached_on_what_it_runs_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """A preset that differs only in energy, latency or density fields reuses the calibration
    (a sweep over them calibrates once), and the costs derived afresh are the same; a timing
    change is a new calibration."""
    from qmcsim.memories.dram import fast

    base = load()
    energy = load(read_energy_pj_per_bit=1.5, static_power_mw=9.0, density_mb_per_mm2=300.0,
                  energy={"act_pre_pj": 2.0 * base.energy.act_pre_pj})
    slower = load(timing={"n_rcd": base.timing.n_rcd + 4})
    fast._COSTS.clear()
    derived: list[object] = []
    real = fast._derive_costs
    monkeypatch.setattr(fast, "_derive_costs", lambda p: derived.append(p) or real(p))
    first = fast.derive_costs(base)
    assert fast.derive_costs(energy) is first and derived == [base]
    assert fast.derive_costs(slower) != first and derived == [base, slower]
    assert real(energy) == first   # what the cache skips would have given the same costs
