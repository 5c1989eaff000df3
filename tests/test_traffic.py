"""Per-token traffic of the generated trace against hand-computed bytes."""

from __future__ import annotations

import math

import pytest

from qmcsim.config.loader import load_run
from qmcsim.placement import build_placement
from qmcsim.trace.generate import TraceBuilder
from tests.conftest import DATA


def _trace(overrides=()):
    run = load_run(DATA / "tiny.yaml", list(overrides))
    system = run.systems[0]                     # fp16, everything in DRAM
    placement = build_placement(system, run.model, run.config.workload,
                                run.config.accounting, file=run.file)
    builder = TraceBuilder(run.model, placement, run.config.workload, run.config.accounting,
                           system.compute.onchip_buffer_bytes)
    return run, list(builder.steps())


def _bytes(step, cls, write):
    return sum(a.nbytes for op in step.ops for a in op.accesses
               if a.traffic_class == cls and a.is_write == write)


def test_decode_reads_every_weight_once_plus_one_embedding_row():
    run, steps = _trace()
    m = run.model                               # SmolLM2-135M: tied embeddings
    weights = 2 * m.num_parameters
    row = math.ceil(2 * m.vocab_size * m.hidden_size / m.vocab_size)
    # alignment padding aside, every weight byte once, and one gathered row
    assert _bytes(steps[1], "weights", False) == pytest.approx(weights + row, abs=64 * 300)


def test_kv_cache_per_decode_token():
    run, steps = _trace()
    m = run.model                               # 30 layers, 3 KV heads of 64
    row = 2 * 3 * 64 * 2                        # K and V, FP16
    prompt = run.config.workload.prompt_tokens
    for t, step in enumerate(steps[1:]):
        context = prompt + t + 1                # the new token attends to itself
        assert _bytes(step, "kv_cache", False) == m.num_layers * context * row
        assert _bytes(step, "kv_cache", True) == m.num_layers * row


def test_batch_shares_weights_and_multiplies_kv():
    _, one = _trace()
    _, four = _trace(["workload.batch=4"])
    assert _bytes(four[1], "kv_cache", False) == 4 * _bytes(one[1], "kv_cache", False)
    # weights are read once for the batch; only the embedding gather grows (3 more rows)
    extra = _bytes(four[1], "weights", False) - _bytes(one[1], "weights", False)
    assert 0 < extra <= 3 * 2 * 576 + 3


def test_paper_accounting_reads_weights_only():
    _, steps = _trace(["accounting=paper"])
    classes = {a.traffic_class for op in steps[1].ops for a in op.accesses}
    assert classes == {"weights"}
