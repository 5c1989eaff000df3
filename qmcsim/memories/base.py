"""The technology contract every memory implements, and the registry from `kind:` to class.

A memory *preset* (hw_configs/devices/*.yaml) is data: a typed, frozen parameter record whose
class is chosen by its `kind:`. A memory *instance* in a simulated system is `count` identical
units (channels, arrays, banks) of one preset, living on one simpy Environment.

A `Memory` subclass answers for its technology, so that nothing outside qmcsim/memories/ needs
to know technology kinds: serving requests (`serve`, recording through `record`), static energy
(`static_energy_pj`), its role in the area comparison (`area_role`), the area its bits take
(`area_mm2`), its error model for accuracy runs (`noise_model`), capacity and endurance, and a
plain request-trace replay (`replay_trace`). Technologies register by `kind` with `@register`,
from this package or from any installed distribution's `qmcsim.memories` entry point.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

import simpy
from pydantic import BaseModel, ConfigDict, Field

from qmcsim.errors import ConfigError, SimulationError
from qmcsim.units import MEBIBIT

if TYPE_CHECKING:
    from qmcsim.memories.trace_replay import ReplayFigures
    from qmcsim.noise.inject import NoiseModel
    from qmcsim.noise.mapping import Mapping

Location = Literal["on_chip", "in_package", "off_package"]
# The QMC study's area comparison: the new non-volatile weight memories ("nvm") against the
# conventional memories that held the baseline's weights ("replaced": DRAM, Flash); "none":
# not part of it (e.g. on-chip SRAM buffers).
AreaRole = Literal["nvm", "replaced", "none"]
ENTRY_POINT_GROUP = "qmcsim.memories"


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

    def __post_init__(self) -> None:
        if self.address < 0 or self.nbytes <= 0 or self.is_write not in (True, False):
            raise SimulationError(
                f"request of {self.nbytes} bytes at address {self.address} "
                f"(is_write={self.is_write!r}, class {self.traffic_class!r}): a non-negative "
                "address, a positive size and a read or write expected")


P = TypeVar("P", bound=DeviceParams)


def params_as(params: DeviceParams, params_class: type[P]) -> P:
    """`params` as the technology's own record (a preset validated by another kind's class,
    e.g. handed over by a plug-in, is a ConfigError naming the preset)."""
    if not isinstance(params, params_class):
        raise ConfigError(params.name, "kind", f"a {params_class.__name__} preset expected "
                          f"(kind {params.kind!r} gave {type(params).__name__})")
    return params


def capacity_bytes(params: DeviceParams, count: int) -> int:
    """The one place a memory's capacity is computed: `count` units of the preset."""
    return params.capacity_bytes * count


def technology(kind: str, *, file: str = "<preset>", field_path: str = "kind") -> type[Memory]:
    """The Memory class registered for `kind` (ConfigError naming the known kinds if none)."""
    kinds = registry()
    if kind not in kinds:
        raise ConfigError(file, field_path, f"one of the memory kinds {sorted(kinds)} expected, "
                          f"got {kind!r}")
    return kinds[kind]


def technology_of(params: DeviceParams) -> type[Memory]:
    return technology(params.kind, file=params.name)


@dataclass(frozen=True, kw_only=True)
class MemoryUnits:
    """One memory of a resolved system: `count` units of one preset (`count: auto` resolved).

    Built once by the placement; everything that needs a memory's capacity or its model asks
    this record."""

    name: str
    params: DeviceParams
    count: int

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ConfigError(self.params.name, "count", f"at least 1 unit expected for memory "
                              f"{self.name!r}, got {self.count}")

    @property
    def technology(self) -> type[Memory]:
        return technology_of(self.params)

    @property
    def capacity_bytes(self) -> int:
        return capacity_bytes(self.params, self.count)

    def build(self, env: simpy.Environment) -> Memory:
        return self.technology(env, self.name, self.params, self.count)


def build_memories(env: simpy.Environment, hardware: dict[str, MemoryUnits]
                   ) -> dict[str, Memory]:
    """Every memory of a system on one simpy Environment."""
    return {name: units.build(env) for name, units in hardware.items()}


def start_phase(memories: dict[str, Memory], env: simpy.Environment) -> None:
    """Move a system's memories, built once, into the next phase of its life (power-on's
    weight load, then inference) on `env`, a new Environment at time zero: see
    `Memory.start_phase`."""
    for memory in memories.values():
        memory.start_phase(env)


class Memory:
    """`count` units of one device preset on one simpy Environment.

    Subclasses set `kind` (and `params_class` if their presets have fields of their own) and
    implement `serve`; the other hooks have defaults a technology overrides where it differs.
    """

    kind: ClassVar[str] = ""
    params_class: ClassVar[type[DeviceParams]] = DeviceParams
    area_role: ClassVar[AreaRole | None] = None

    def __init__(self, env: simpy.Environment, name: str, params: DeviceParams, count: int) -> None:
        if count < 1:
            raise ConfigError(params.name, "count", f"at least 1 unit expected for memory "
                              f"{name!r}, got {count}")
        self.env = env
        self.name = name
        self.params = params
        self.count = count
        self.stats = MemoryStats()

    # ---- what the technology answers without a simulation (class level, from the preset)
    @classmethod
    def role_in_area(cls, params: DeviceParams) -> AreaRole:
        """The memory's side in the area comparison. Without an explicit `area_role`: on-chip
        memories take no part, other volatile memories are the conventional ones replaced."""
        if cls.area_role is not None:
            return cls.area_role
        if params.location == "on_chip":
            return "none"
        if params.volatile:
            return "replaced"
        raise ConfigError(params.name, "kind", f"memory kind {cls.kind!r} must state its "
                          "area_role ('nvm', 'replaced' or 'none'): it is non-volatile")

    @classmethod
    def area_mm2(cls, bits: int, params: DeviceParams) -> float:
        """Die area that `bits` stored bits take (density in Mb = 2**20 bits per mm^2)."""
        return bits / (params.density_mb_per_mm2 * MEBIBIT)

    @classmethod
    def endurance_cycles(cls, params: DeviceParams) -> float | None:
        """Writes a cell survives; None: unlimited."""
        return params.endurance_cycles

    @classmethod
    def noise_model(cls, params: DeviceParams, *, mapping: Mapping = "binary",
                    read_time_s: float | None = None) -> NoiseModel | None:
        """The technology's error model for accuracy runs; None: it stores without error."""
        return None

    @classmethod
    def replay_trace(cls, path: Path, params: DeviceParams, *, channels: int,
                     request_bytes: int | None, outstanding: int | None = None
                     ) -> ReplayFigures:
        """Replay a plain request trace (the `replay` command). Default: through `serve` on
        a simpy Environment, one request of `request_bytes` (64) per line, arrivals in ns,
        at most `outstanding` (32) requests in flight."""
        from qmcsim.memories.trace_replay import DEFAULT_OUTSTANDING, replay_through_serve

        return replay_through_serve(path, cls, params, channels, request_bytes or 64,
                                    outstanding or DEFAULT_OUTSTANDING)

    # ---- a built memory
    @property
    def capacity_bytes(self) -> int:
        return capacity_bytes(self.params, self.count)

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

    # ---- phases: a system's memories are built once and live through its phases
    def start_phase(self, env: simpy.Environment) -> None:
        """The phase boundary between power-on (the cold start's weight load) and inference.

        Physically the device idles between boot and the first prompt, for a time the model
        does not know: by the prompt every request queue has drained, every DRAM bank has been
        precharged and the refresh schedule's offset to the prompt is arbitrary. So a phase
        starts from the idle state a freshly built memory has, on `env` (a new Environment at
        time zero): open rows closed, queues empty, refresh and standby counted from the
        phase's start, statistics (and static energy) per phase. The idle gap itself is
        charged to neither phase. A memory with requests still in flight cannot end a phase
        (SimulationError)."""
        if env.now != 0:
            raise SimulationError(f"memory {self.name!r}: a phase starts at time zero of a new "
                                  f"Environment, not at {env.now} ticks")
        if self.busy():
            raise SimulationError(f"memory {self.name!r}: phase boundary at "
                                  f"{self.env.now} ticks with requests still in flight")
        self.env = env
        self.stats = MemoryStats()
        self.reset_state()

    def busy(self) -> bool:
        """Requests accepted and not yet served (queued, or holding the device)."""
        return False

    def reset_state(self) -> None:
        """Hook of `start_phase`: put the technology's timing state (simpy resources, open
        rows, refresh counters) back to idle on `self.env`, as a new memory has it. A
        technology with state between requests must override it; it also builds that state
        in `__init__` by calling it."""

    def record(self, request: Request, *, energy_pj: float = 0.0, busy_ticks: float = 0.0,
               queue_ticks: float = 0.0, row_hits: int = 0, row_misses: int = 0,
               row_conflicts: int = 0, complete: bool = True) -> None:
        """Add a request's statistics to its traffic class. A request served in parts records
        each part with `complete=False` and its bytes once, with `complete=True`."""
        st = self.stats.of(request.traffic_class)
        st.row_hits += row_hits
        st.row_misses += row_misses
        st.row_conflicts += row_conflicts
        st.queue_ticks += queue_ticks
        st.dynamic_energy_pj += energy_pj
        st.busy_ticks += busy_ticks
        if complete:
            if request.is_write:
                st.write_bytes += request.nbytes
            else:
                st.read_bytes += request.nbytes
            st.requests += 1


_REGISTRY: dict[str, type[Memory]] = {}


def register(cls: type[Memory]) -> type[Memory]:
    """Class decorator: make a memory model available under its `kind`."""
    where = f"{cls.__module__}.{cls.__qualname__}"
    if not (isinstance(cls, type) and issubclass(cls, Memory)):
        raise ConfigError(where, "", "a subclass of qmcsim.memories.base.Memory expected")
    if not cls.kind or not isinstance(cls.kind, str):
        raise ConfigError(where, "kind", f"a non-empty memory kind expected, got {cls.kind!r}")
    if not (isinstance(cls.params_class, type) and issubclass(cls.params_class, DeviceParams)):
        raise ConfigError(where, "params_class", "a subclass of DeviceParams expected")
    if cls.kind in _REGISTRY and _REGISTRY[cls.kind].__qualname__ != cls.__qualname__:
        raise ConfigError(where, "kind", f"a kind of its own expected: {cls.kind!r} is "
                          f"registered by {_REGISTRY[cls.kind].__module__} already")
    _REGISTRY[cls.kind] = cls
    return cls


_SCANNED_PATH: list[tuple[str, ...]] = []   # sys.path at the last scan (scans take ~0.1 s)


def registry() -> dict[str, type[Memory]]:
    """kind -> Memory class: every module of qmcsim.memories, then every installed
    distribution's `qmcsim.memories` entry point (a module that registers, or a Memory class).
    Scanned again only when sys.path changed."""
    import importlib
    import pkgutil
    import sys
    from importlib.metadata import entry_points

    import qmcsim.memories as pkg

    if _SCANNED_PATH == [tuple(sys.path)]:
        return dict(_REGISTRY)
    for info in pkgutil.iter_modules(pkg.__path__):
        importlib.import_module(f"{pkg.__name__}.{info.name}")
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            loaded: Any = ep.load()
        except Exception as exc:   # a broken plugin must say which one it is
            raise ConfigError(f"entry point {ep.name} = {ep.value}", ENTRY_POINT_GROUP,
                              f"an importable technology module expected ({exc})") from exc
        if isinstance(loaded, type) and issubclass(loaded, Memory):
            register(loaded)
    _SCANNED_PATH[:] = [tuple(sys.path)]
    return dict(_REGISTRY)
