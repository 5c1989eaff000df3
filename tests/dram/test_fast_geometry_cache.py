"""Fast mode's row-segment geometries are shared by every memory of one address mapping in
the process (qmcsim/memories/dram/geometry.py, GeometryCache): a memory served from geometries
another memory built gives the same results, request by request, as one that builds its own.
"""

from __future__ import annotations

import pytest
from dram_helpers import load

from qmcsim.memories.dram import geometry
from qmcsim.memories.dram.fast import FastChannels
from qmcsim.memories.dram.mapping import AddressMapping

MB = 1 << 20


def _stream() -> list[tuple[int, int, bool, int]]:
    """(address, bytes, is_write, arrival cycle) of each traffic class: a sequential weight
    read, KV cache reads growing by one row with the row written, SSM state read and written,
    activations spilled, with gaps long enough to cross refresh intervals."""
    out, t = [], 0
    for token in range(6):
        out.append((0, 8 * MB, False, t))                          # weights
        out.append((64 * MB, (token + 3) * 2048, False, t))        # kv_cache read
        out.append((64 * MB + (token + 3) * 2048, 2048, True, t))  # kv_cache write
        out.append((80 * MB + 96, 300_000, False, t + 50))         # ssm_state read
        out.append((80 * MB + 96, 300_000, True, t + 50))          # ssm_state write
        out.append((96 * MB, 40_000, True, t + 900))               # activations
        t += 40_000 + 7_919 * token
    return out


def _serve(ch: FastChannels, stream: list[tuple[int, int, bool, int]]) -> list[tuple]:
    res = [ch.serve(*req) for req in stream]
    state = (ch.free.tolist(), ch.bank_row.tolist(), ch.bank_epoch.tolist(),
             ch.open_cycles(10**9), ch.refreshes(10**9))
    return [(r.first_cycle, r.done_cycle, r.channels, r.hits, r.misses, r.conflicts)
            for r in res] + [state]


@pytest.mark.parametrize("controller", [{"page_policy": "open"}, {"page_policy": "closed"},
                                        {"refresh": "per_bank"}])
def test_shared_geometries_give_the_results_of_built_ones(controller: dict) -> None:
    params = load(controller=controller)
    mapping = AddressMapping.parse(params.controller.address_mapping,
                                   params.org.organisation(), 4)
    stream = _stream()
    geometry.GEOMETRIES.table(mapping).clear()
    first = FastChannels(params, mapping)
    built = _serve(first, stream)
    second = FastChannels(params, mapping)   # every geometry from the cache
    key = (stream[0][0] // mapping.org.burst_bytes,
           (stream[0][0] + stream[0][1] - 1) // mapping.org.burst_bytes)
    assert second._geometry(*key) is first._geometry(*key)
    assert _serve(second, stream) == built
    geometry.GEOMETRIES.table(mapping).clear()
    assert _serve(FastChannels(params, mapping), stream) == built   # built again


def test_geometry_cache_is_bounded() -> None:
    params = load(controller={"page_policy": "closed"})   # every segment kept
    mapping = AddressMapping.parse(params.controller.address_mapping,
                                   params.org.organisation(), 2)
    cache = geometry.GeometryCache(limit=3000)
    table = cache.table(mapping)
    ch = FastChannels(params, mapping)
    g1 = ch._geometry(0, 4095)   # 64 segments of 64 bursts
    cache.add(table, (0, 4095), g1)
    assert cache.held == geometry.held_segments(g1) and table[(0, 4095)] is g1
    big = ch._geometry(0, 2**18 - 1)   # 4096 segments
    cache.add(table, (0, 2**18 - 1), big)   # more than the limit alone: not kept
    assert (0, 2**18 - 1) not in table and cache.held == geometry.held_segments(g1)
    for k in range(1, 60):   # fills up: emptied, then holds the newest
        cache.add(table, (k, k + 4095), ch._geometry(k, k + 4095))
        assert cache.held <= cache.limit
    assert (59, 59 + 4095) in table and (0, 4095) not in table
