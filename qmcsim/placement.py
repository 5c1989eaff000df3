"""Where every stored component and every dynamic region lives, and what it costs in space.

Components of a tensor go to the memory its placement key names (`codes`, `scales`, ...),
unless the tensor's class has a class-wide placement (`embeddings`, `lm_head`). Each memory gets
a bump allocator, in operator order, so one operator's weights sit together. Dynamic regions
(KV cache, SSM state, activations) are sized for the whole workload and checked too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from qmcsim.config.loader import ResolvedSystem
from qmcsim.config.schema import PlacementConfig, WorkloadConfig
from qmcsim.errors import CapacityError, SimulationError
from qmcsim.formats.base import Accounting, Component, FormatConfig
from qmcsim.memories.base import DeviceParams, MemoryUnits, technology_of
from qmcsim.models.shape import ModelShape, Tensor
from qmcsim.units import BITS_PER_BYTE

ALIGN_BYTES = 64
KV_BYTES_PER_ELEMENT = 2   # FP16 KV cache and activations
ACT_BYTES_PER_ELEMENT = 2


@dataclass(frozen=True, kw_only=True)
class PlacedComponent:
    tensor: Tensor
    component: Component
    memory: str
    address: int


@dataclass(frozen=True, kw_only=True)
class Region:
    memory: str
    address: int
    nbytes: int


@dataclass(frozen=True, kw_only=True)
class Footprint:
    """Stored weight bits of one memory, and the cells and area they take."""

    memory: str
    weight_bits: int
    weight_cells: int
    weight_area_mm2: float
    used_bytes: int
    capacity_bytes: int
    units: int = 1
    is_copy: bool = False


@dataclass(frozen=True, kw_only=True)
class Placement:
    weights: dict[str, tuple[PlacedComponent, ...]]   # tensor name -> its components
    kv: dict[int, Region]                             # owning layer -> KV cache region
    ssm_state: dict[int, Region]
    activations: Region
    footprints: tuple[Footprint, ...]
    hardware: dict[str, MemoryUnits]                  # memory -> preset x units (count: auto
                                                      # resolved): the system's one record

    @property
    def counts(self) -> dict[str, int]:
        return {name: units.count for name, units in self.hardware.items()}

    def footprint(self, memory: str) -> Footprint:
        return next(f for f in self.footprints if f.memory == memory)


def cells_for(bits: int, device: DeviceParams) -> int:
    """Codes are bit-packed across cells (3-bit codes in 2-bit cells take 1.5 cells each)."""
    return math.ceil(bits / device.bits_per_cell)


def cells_per_code(component: Component, device: DeviceParams) -> int:
    """Unpacked storage: each element in whole cells of its own."""
    return component.elements * math.ceil(component.element_bits / device.bits_per_cell)


def area_mm2(bits: int, device: DeviceParams) -> float:
    """The technology's answer: the die area `bits` stored bits take."""
    return technology_of(device).area_mm2(bits, device)


def kv_tokens_stored(window: int | None, max_tokens: int) -> int:
    return max_tokens if window is None else min(window, max_tokens)


class _Allocator:
    def __init__(self) -> None:
        self.next: dict[str, int] = {}

    def take(self, memory: str, nbytes: int) -> int:
        addr = self.next.get(memory, 0)
        self.next[memory] = addr + math.ceil(nbytes / ALIGN_BYTES) * ALIGN_BYTES
        return addr


def memory_for(placement: PlacementConfig, tensor: Tensor, component: Component) -> str:
    if tensor.tensor_class == "embeddings" and placement.embeddings:
        return placement.embeddings
    if tensor.tensor_class == "lm_head" and placement.lm_head:
        return placement.lm_head
    memory = getattr(placement, component.name)
    if memory is None:   # the config loader checks every component the format stores
        raise SimulationError(f"tensor {tensor.name!r}: no memory holds its "
                              f"{component.name}")
    return memory


@dataclass(frozen=True, kw_only=True)
class Allocation:
    """Addresses of every component and dynamic region, before any capacity check."""

    weights: dict[str, tuple[PlacedComponent, ...]]
    kv: dict[int, Region]
    ssm_state: dict[int, Region]
    activations: Region
    used_bytes: dict[str, int]     # memory -> bytes allocated (aligned)
    weight_bits: dict[str, int]    # memory -> stored weight bits


def allocate(fmt: FormatConfig, placement: PlacementConfig, model: ModelShape,
             workload: WorkloadConfig, accounting: Accounting,
             layouts: Mapping[str, tuple[Component, ...]] | None = None) -> Allocation:
    """Lay out weights (operator order) and dynamic regions on the memories `placement` names;
    needs no device parameters (the `trace` command uses it without a run config).

    `layouts` (tensor name -> components, from formats.measure) replace the format's analytic
    layouts where given: sizes measured on real or synthetic weights."""
    alloc = _Allocator()
    weights: dict[str, tuple[PlacedComponent, ...]] = {}
    weight_bits: dict[str, int] = {}
    for tensor in model.tensors:
        placed = []
        parts = layouts[tensor.name] if layouts and tensor.name in layouts \
            else fmt.layout(tensor, accounting)
        for comp in parts:
            mem = memory_for(placement, tensor, comp)
            placed.append(PlacedComponent(tensor=tensor, component=comp, memory=mem,
                                          address=alloc.take(mem, comp.nbytes)))
            weight_bits[mem] = weight_bits.get(mem, 0) + comp.bits
        weights[tensor.name] = tuple(placed)

    max_tokens = model.meta_tokens + workload.prompt_tokens + workload.generate_tokens
    kv: dict[int, Region] = {}
    ssm: dict[int, Region] = {}
    for layer in model.layers:
        if layer.owns_kv and layer.attention is not None:
            a = layer.attention
            nbytes = (kv_tokens_stored(a.window, max_tokens) * a.kv_elements_per_token()
                      * KV_BYTES_PER_ELEMENT * workload.batch)
            kv[layer.index] = Region(memory=placement.kv_cache, nbytes=nbytes,
                                     address=alloc.take(placement.kv_cache, nbytes))
        if layer.ssm is not None:
            nbytes = layer.ssm.state_elements() * KV_BYTES_PER_ELEMENT * workload.batch
            ssm[layer.index] = Region(memory=placement.kv_cache, nbytes=nbytes,
                                      address=alloc.take(placement.kv_cache, nbytes))
    widest = max([model.hidden_size] + [max(op.act_in, op.act_out) for layer in model.layers
                                        for op in layer.operators])
    act_bytes = 2 * widest * (model.meta_tokens + workload.prompt_tokens) * workload.batch \
        * ACT_BYTES_PER_ELEMENT
    activations = Region(memory=placement.activations, nbytes=act_bytes,
                         address=alloc.take(placement.activations, act_bytes))
    return Allocation(weights=weights, kv=kv, ssm_state=ssm, activations=activations,
                      used_bytes=dict(alloc.next), weight_bits=weight_bits)


def unchecked_placement(a: Allocation) -> Placement:
    """A Placement without footprints or capacity checks (trace generation only)."""
    return Placement(weights=a.weights, kv=a.kv, ssm_state=a.ssm_state,
                     activations=a.activations, footprints=(), hardware={})


def build_placement(system: ResolvedSystem, model: ModelShape, workload: WorkloadConfig,
                    accounting: Accounting, *, file: str,
                    layouts: Mapping[str, tuple[Component, ...]] | None = None) -> Placement:
    placement = system.config.placement
    a = allocate(system.config.format, placement, model, workload, accounting, layouts)
    weights, kv, ssm, activations = a.weights, a.kv, a.ssm_state, a.activations
    weight_bits = a.weight_bits
    unpacked_cells: dict[str, int] = {}
    if system.config.packing == "per_cell":
        for components in weights.values():
            for pc in components:
                unpacked_cells[pc.memory] = unpacked_cells.get(pc.memory, 0) \
                    + cells_per_code(pc.component, system.devices[pc.memory])

    footprints = []
    hardware: dict[str, MemoryUnits] = {}
    copy_bits = sum(weight_bits.values())
    for mem, device in system.devices.items():
        used = a.used_bytes.get(mem, 0)
        if mem == placement.weights_copy:
            used += math.ceil(copy_bits / BITS_PER_BYTE)
        configured = system.config.memories[mem].count
        count = max(1, math.ceil(used / device.capacity_bytes)) if configured == "auto" \
            else int(configured)
        units = MemoryUnits(name=mem, params=device, count=count)
        hardware[mem] = units
        capacity = units.capacity_bytes
        if used > capacity:
            need = math.ceil(used / device.capacity_bytes)
            raise CapacityError(file, f"{system.field_path}.memories.{mem}.count",
                                f"at least {need} units of {device.name} expected to hold "
                                f"{used} bytes of {model.name} data; {count} units hold "
                                f"{capacity} bytes")
        bits = weight_bits.get(mem, 0)
        if system.config.packing == "per_cell":
            cells = unpacked_cells.get(mem, 0)
            area = area_mm2(cells * device.bits_per_cell, device)
        else:
            cells, area = cells_for(bits, device), area_mm2(bits, device)
        footprints.append(Footprint(memory=mem, weight_bits=bits, weight_cells=cells,
                                    weight_area_mm2=area, used_bytes=used,
                                    capacity_bytes=capacity, units=count))
        if mem == placement.weights_copy:
            footprints.append(Footprint(memory=mem, weight_bits=copy_bits,
                                        weight_cells=cells_for(copy_bits, device),
                                        weight_area_mm2=area_mm2(copy_bits, device),
                                        used_bytes=math.ceil(copy_bits / BITS_PER_BYTE),
                                        capacity_bytes=capacity, units=count, is_copy=True))
    return Placement(weights=weights, kv=kv, ssm_state=ssm, activations=activations,
                     footprints=tuple(footprints), hardware=hardware)
