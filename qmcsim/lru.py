"""A mapping that keeps only its most recently used entries (process-level memos)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

from qmcsim.errors import InternalError

K = TypeVar("K")
V = TypeVar("V")


class LastUsed(OrderedDict[K, V], Generic[K, V]):
    """Holds at most `kept` entries; `get_or_build` evicts the least recently used."""

    def __init__(self, kept: int) -> None:
        if kept < 1:
            raise InternalError(f"kept: at least 1 entry expected, got {kept}")
        super().__init__()
        self.kept = kept

    def get_or_build(self, key: K, build: Callable[[], V]) -> V:
        if key in self:
            self.move_to_end(key)
            return self[key]
        value = self[key] = build()
        if len(self) > self.kept:
            self.popitem(last=False)
        return value
