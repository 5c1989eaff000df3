"""Address mapping: a byte address -> (channel, bank within channel, row, burst column).

The mapping string lists the levels from the most to the least significant address bit, as
Ramulator's `RoBaRaCoCh`; below them sit the byte-within-burst bits. Vectorised with numpy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from qmcsim.memories.dram.spec import Organisation


def _log2(x: int, what: str) -> int:
    if x < 1 or x & (x - 1):
        raise ValueError(f'"{what}" must be a power of two, got {x}')
    return x.bit_length() - 1


@dataclass(frozen=True)
class AddressMapping:
    org: Organisation
    channels: int
    order: tuple[str, ...]  # most significant first

    @classmethod
    def parse(cls, text: str, org: Organisation, channels: int) -> AddressMapping:
        order = tuple(re.findall(r"[A-Z][a-z]", text))
        if sorted(order) != sorted(("Ch", "Ra", "Bg", "Ba", "Ro", "Co")) or "".join(order) != text:
            raise ValueError(f"address mapping {text!r}: expected each of Ch Ra Bg Ba Ro Co once")
        return cls(org, channels, order)

    @property
    def widths(self) -> dict[str, int]:
        o = self.org
        return {"Ch": _log2(self.channels, "count"), "Ra": _log2(o.ranks, "ranks"),
                "Bg": _log2(o.bank_groups, "bank_groups"),
                "Ba": _log2(o.banks_per_group, "banks_per_group"),
                "Ro": _log2(o.rows, "rows"), "Co": _log2(o.bursts_per_row, "bursts per row")}

    @property
    def offset_bits(self) -> int:
        return _log2(self.org.burst_bytes, "burst bytes")

    @property
    def capacity_bytes(self) -> int:
        return self.org.capacity_bytes * self.channels

    def decode(self, addresses: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                     np.ndarray]:
        """Arrays of channel, bank (flat within the channel), row and burst column."""
        x = np.asarray(addresses, dtype=np.int64) >> self.offset_bits
        fields: dict[str, np.ndarray] = {}
        widths = self.widths
        for level in reversed(self.order):
            w = widths[level]
            fields[level] = x & ((1 << w) - 1)
            x = x >> w
        o = self.org
        bank = (fields["Ra"] * o.bank_groups + fields["Bg"]) * o.banks_per_group + fields["Ba"]
        return fields["Ch"], bank, fields["Ro"], fields["Co"]
