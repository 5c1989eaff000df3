"""Bytes and requests per (memory, traffic class) of a step, counted from its trace without
simulating it: what Replay._requests would issue (one request per memory for an operator's
weight reads, staging-buffer traffic included). A skipped decode step of sampled simulation
reports these exact counts (engine/sampling.py).

Every decode step repeats the same position-free operators (the trace builder hands each step
the same OpStep objects for them; only attention's KV read grows), so each operator's counts
are remembered per object, and their sum per set of such objects: a skipped step costs a
look-up per operator plus its attention operators.
"""

from __future__ import annotations

from collections.abc import Iterable

from qmcsim.memories.base import ClassStats
from qmcsim.trace.generate import OpStep, Step

MEMO_OPERATORS = 100_000  # remembered operators' counts (a few hundred per decode step)
OpCounts = tuple[tuple[tuple[str, str], int, int, int], ...]  # (memory, class), r, w, requests


class StepCounts:
    def __init__(self, onchip_buffer: str | None) -> None:
        self.onchip_buffer = onchip_buffer
        self._memo: dict[int, tuple[OpStep, OpCounts]] = {}  # id(op) -> (op kept alive, counts)
        self._known_sums: dict[tuple[int, ...], dict[tuple[str, str], tuple[int, int, int]]] = {}

    def of(self, step: Step) -> dict[tuple[str, str], ClassStats]:
        """Bytes and requests per (memory, class) a step issues, counted from its trace: what
        _requests issues, without building the requests (one per memory for weight reads).
        The operators seen in an earlier step are summed once per distinct set of them."""
        memo = self._memo
        known: list[int] = []
        fresh: list[OpStep] = []
        for op in step.ops:
            hit = memo.get(id(op))
            if hit is not None and hit[0] is op:
                known.append(id(op))
            else:
                fresh.append(op)
        key = tuple(known)
        base = self._known_sums.get(key)
        if base is None:
            base = self._known_sums[key] = self._sum(memo[i][1] for i in known)
        out: dict[tuple[str, str], ClassStats] = {}
        for k, (r, w, n) in base.items():
            out[k] = ClassStats(read_bytes=r, write_bytes=w, requests=n)
        for op in fresh:
            for k, r, w, n in self._op_counts(op):
                st = out.get(k)
                if st is None:
                    st = out[k] = ClassStats()
                st.read_bytes += r
                st.write_bytes += w
                st.requests += n
        return out

    @staticmethod
    def _sum(parts: Iterable[OpCounts]) -> dict[tuple[str, str], tuple[int, int, int]]:
        out: dict[tuple[str, str], list[int]] = {}
        for part in parts:
            for k, r, w, n in part:
                st = out.setdefault(k, [0, 0, 0])
                st[0] += r
                st[1] += w
                st[2] += n
        return {k: (r, w, n) for k, (r, w, n) in out.items()}

    def _op_counts(self, op: OpStep) -> OpCounts:
        """One operator's (key, read bytes, write bytes, requests), remembered per OpStep object:
        the trace builder hands every decode step the same objects for its position-free
        operators, so a skipped step costs a look-up per operator."""
        hit = self._memo.get(id(op))
        if hit is not None and hit[0] is op:
            return hit[1]
        sums: dict[tuple[str, str], list[int]] = {}
        buffer = self.onchip_buffer
        weight_memories: set[str] = set()
        for a in op.accesses:
            st = sums.setdefault((a.memory, a.traffic_class), [0, 0, 0])
            merged = a.traffic_class == "weights" and not a.is_write
            issued = not merged or a.memory not in weight_memories  # a new request
            if merged:
                weight_memories.add(a.memory)
            st[2] += issued
            st[1 if a.is_write else 0] += a.nbytes
            if buffer is not None and a.memory != buffer:
                staged = sums.setdefault((buffer, a.traffic_class), [0, 0, 0])
                staged[0] += a.nbytes
                staged[1] += a.nbytes
                staged[2] += 2 * issued
        out = tuple((key, r, w, n) for key, (r, w, n) in sums.items())
        if len(self._memo) >= MEMO_OPERATORS:   # position-dependent ops pile up
            self._memo.clear()
            self._known_sums.clear()   # keyed by ids the memo no longer keeps alive
        self._memo[id(op)] = (op, out)
        return out


__all__ = ["StepCounts"]
