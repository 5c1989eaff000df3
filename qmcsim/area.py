"""Weight area of a system against the memories it replaces (the QMC study's area comparison).

The study compares the area of the non-volatile weight memories of QMC (ReRAM + MRAM) with the
area of the DRAM + Flash that held the FP16 weights before (weights only: the KV cache and
activations stay in DRAM either way). Area = stored weight bits / density (Mb = 2**20 bits),
from the placement footprints, so it follows the format, the accounting and `packing`.
"""

from __future__ import annotations

from dataclasses import dataclass

from qmcsim.config.loader import ResolvedSystem
from qmcsim.placement import Placement

NVM_KINDS = frozenset({"reram", "mram"})
REPLACED_KINDS = frozenset({"lpddr", "flash"})


@dataclass(frozen=True, kw_only=True)
class AreaComparison:
    system: str
    baseline: str
    nvm_mm2: dict[str, float]          # memory -> weight area in `system`
    replaced_mm2: dict[str, float]     # memory -> weight area in `baseline` (incl. copies)

    @property
    def nvm_total_mm2(self) -> float:
        return sum(self.nvm_mm2.values())

    @property
    def replaced_total_mm2(self) -> float:
        return sum(self.replaced_mm2.values())

    @property
    def net_mm2(self) -> float:
        """Extra area of the NVM system (negative: it saves area)."""
        return self.nvm_total_mm2 - self.replaced_total_mm2


def weight_area_by_kind(system: ResolvedSystem, placement: Placement,
                        kinds: frozenset[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for f in placement.footprints:
        if system.devices[f.memory].kind in kinds and f.weight_bits > 0:
            key = f"{f.memory} (copy)" if f.is_copy else f.memory
            out[key] = out.get(key, 0.0) + f.weight_area_mm2
    return out


def area_comparison(system: ResolvedSystem, placement: Placement, baseline: ResolvedSystem,
                    baseline_placement: Placement) -> AreaComparison:
    """NVM (ReRAM + MRAM) weight area of `system` vs the DRAM + Flash weight area of
    `baseline`."""
    return AreaComparison(
        system=system.name, baseline=baseline.name,
        nvm_mm2=weight_area_by_kind(system, placement, NVM_KINDS),
        replaced_mm2=weight_area_by_kind(baseline, baseline_placement, REPLACED_KINDS))
