"""The interface every memory technology implements, and the registry from `kind:` to module.

A memory *preset* (hw_configs/devices/*.yaml) is data: a typed, frozen parameter record whose
class is chosen by its `kind:`. A memory *instance* in a simulated system is `count` identical
units (channels, arrays, banks) of one preset, living on one simpy Environment. The engine only
ever calls `serve()` and reads `stats`; everything technology-specific stays in the module.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import simpy
from pydantic import BaseModel, ConfigDict, Field

Location = Literal["on_chip", "in_package", "off_package"]


class DeviceParams(BaseModel):
    """Parameters common to every memory technology; units are in the field names.

    `count` units of a device form one memory; per-unit figures are per channel / array / bank.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    kind: str
    description: str = ""
    location: Location = Field(description="off_package traffic counts as external (off-chip)")
    sources: dict[str, str] = Field(default_factory=dict, description="field name -> citation")

    read_latency_ns: float = Field(ge=0)
    write_latency_ns: float = Field(ge=0)
    read_bandwidth_gb_per_s: float = Field(gt=0, description="per unit; 1 GB/s = 1e9 B/s")
    write_bandwidth_gb_per_s: float = Field(gt=0, description="per unit")
    read_energy_pj_per_bit: float = Field(ge=0)
    write_energy_pj_per_bit: float = Field(ge=0)
    static_power_mw: float = Field(ge=0, description="per unit, while powered")
    density_mb_per_mm2: float = Field(gt=0, description="stored bits per area, Mb = 2**20 bits")
    capacity_bytes: int = Field(gt=0, description="per unit")
    bits_per_cell: int = Field(ge=1, le=4)
    volatile: bool = True
    endurance_cycles: float | None = Field(
        default=None, gt=0, description="writes a cell survives; None: unlimited (DRAM, SRAM)")
    interface_bandwidth_gb_per_s: float | None = Field(
        default=None, gt=0, description="cap on the whole memory (shared bus), not per unit")

    @property
    def capacity_bits(self) -> int:
        return self.capacity_bytes * 8


@dataclass
class ClassStats:
    """Traffic of one class (weights, kv_cache, activations, ...) through one memory."""

    read_bytes: int = 0
    write_bytes: int = 0
    requests: int = 0
    dynamic_energy_pj: float = 0.0
    busy_ticks: float = 0.0
    queue_ticks: float = 0.0
    row_hits: int = 0  # DRAM only: bursts served from an open row
    row_misses: int = 0  # DRAM only: bursts that activated a closed bank
    row_conflicts: int = 0  # DRAM only: bursts that had to close another row first


@dataclass
class MemoryStats:
    per_class: dict[str, ClassStats] = field(default_factory=dict)

    def of(self, traffic_class: str) -> ClassStats:
        if traffic_class not in self.per_class:
            self.per_class[traffic_class] = ClassStats()
        return self.per_class[traffic_class]

    @property
    def dynamic_energy_pj(self) -> float:
        return sum(c.dynamic_energy_pj for c in self.per_class.values())


@dataclass(frozen=True, slots=True)
class Request:
    """One access the engine asks of a memory: a contiguous byte range."""

    address: int
    nbytes: int
    is_write: bool
    traffic_class: str


class Memory:
    """`count` units of one device preset on one simpy Environment."""

    kind: ClassVar[str] = ""
    params_class: ClassVar[type[DeviceParams]] = DeviceParams

    def __init__(self, env: simpy.Environment, name: str, params: DeviceParams, count: int) -> None:
        if count < 1:
            raise ValueError(f'"count" must be >= 1, got {count} for memory {name!r}')
        self.env = env
        self.name = name
        self.params = params
        self.count = count
        self.stats = MemoryStats()

    @property
    def capacity_bytes(self) -> int:
        return self.params.capacity_bytes * self.count

    @property
    def static_power_mw(self) -> float:
        return self.params.static_power_mw * self.count

    @property
    def is_external(self) -> bool:
        return self.params.location == "off_package"

    def static_energy_pj(self) -> float:
        """Energy spent whatever the traffic (leakage, standby, refresh) since time zero."""
        from qmcsim.units import ticks_to_ns

        return self.static_power_mw * ticks_to_ns(self.env.now)   # mW x ns = pJ

    def serve(self, request: Request) -> Generator[simpy.Event, object, None]:
        """A simpy process body: completes when the request's last byte has moved."""
        raise NotImplementedError


_REGISTRY: dict[str, type[Memory]] = {}


def register(cls: type[Memory]) -> type[Memory]:
    """Class decorator: make a memory model available under its `kind`."""
    if not cls.kind:
        raise ValueError(f"{cls.__name__} must set a non-empty 'kind'")
    if cls.kind in _REGISTRY and _REGISTRY[cls.kind] is not cls:
        raise ValueError(f"memory kind {cls.kind!r} registered twice")
    _REGISTRY[cls.kind] = cls
    return cls


def registry() -> dict[str, type[Memory]]:
    """kind -> Memory class, importing every module of qmcsim.memories once."""
    import importlib
    import pkgutil

    import qmcsim.memories as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        importlib.import_module(f"{pkg.__name__}.{info.name}")
    return dict(_REGISTRY)
