"""Weight area of a system against the memories it replaces (the QMC study's area comparison).

The study compares the area of the non-volatile weight memories of QMC (ReRAM + MRAM) with the
area of the DRAM + Flash that held the FP16 weights before (weights only: the KV cache and
activations stay in DRAM either way). Area = stored weight bits / density, from the placement
footprints, so it follows the format, the accounting and `packing`. Which side of the
comparison a memory is on is its technology's answer (`Memory.role_in_area`), not a list here.
"""

from __future__ import annotations

from dataclasses import dataclass

from qmcsim.config.loader import ResolvedSystem
from qmcsim.memories.base import AreaRole
from qmcsim.placement import Placement


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


def weight_area_by_role(placement: Placement, role: AreaRole) -> dict[str, float]:
    """Memory (its persistent copy as "NAME (copy)") -> weight area, over the memories whose
    technology takes `role` in the comparison."""
    out: dict[str, float] = {}
    for f in placement.footprints:
        units = placement.hardware[f.memory]
        if f.weight_bits > 0 and units.technology.role_in_area(units.params) == role:
            key = f"{f.memory} (copy)" if f.is_copy else f.memory
            out[key] = out.get(key, 0.0) + f.weight_area_mm2
    return out


def weight_area_mm2(placement: Placement) -> float:
    """All the area a system's weights take, its persistent copy included (the summary's
    `weight_area_mm2`): for an FP16 baseline on DRAM + Flash, the area the comparison replaces."""
    return sum(f.weight_area_mm2 for f in placement.footprints)


def area_comparison(system: ResolvedSystem, placement: Placement, baseline: ResolvedSystem,
                    baseline_placement: Placement) -> AreaComparison:
    """The NVM weight area of `system` vs the weight area of `baseline`'s conventional
    memories (DRAM, Flash copy, ...) that the NVM replaces."""
    return AreaComparison(
        system=system.name, baseline=baseline.name,
        nvm_mm2=weight_area_by_role(placement, "nvm"),
        replaced_mm2=weight_area_by_role(baseline_placement, "replaced"))
