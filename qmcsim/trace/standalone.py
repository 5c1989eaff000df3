"""A trace without a run config: one format, a placement by memory name, no device parameters
(so no capacity checks). Used by the `trace` command, the benchmark and the tests."""

from __future__ import annotations

from qmcsim.config.schema import PlacementConfig, WorkloadConfig
from qmcsim.formats.base import COMPONENT_NAMES, Accounting, FormatConfig
from qmcsim.models.shape import ModelShape, Tensor
from qmcsim.placement import allocate, unchecked_placement
from qmcsim.trace.generate import TraceBuilder

DEFAULT_MEMORY = "dram"


def complete_placement(fmt: FormatConfig, placement: PlacementConfig | None,
                       accounting: Accounting) -> PlacementConfig:
    """Components the format stores but `placement` leaves open go with the codes; no
    placement at all puts everything on one memory named 'dram'."""
    if placement is None:
        placement = PlacementConfig(codes=DEFAULT_MEMORY, kv_cache=DEFAULT_MEMORY,
                                    activations=DEFAULT_MEMORY)
    probe = Tensor(name="probe", tensor_class="mlp", layer=0, rows=64, cols=64)
    extra: dict[str, str] = {c.name: placement.codes for c in fmt.layout(probe, accounting)
             if c.name in COMPONENT_NAMES and getattr(placement, c.name) is None}
    return placement.model_copy(update=extra)


def standalone_builder(model: ModelShape, workload: WorkloadConfig, fmt: FormatConfig, *,
                       placement: PlacementConfig | None = None,
                       accounting: Accounting = "full",
                       onchip_buffer_bytes: int = 0) -> TraceBuilder:
    placement = complete_placement(fmt, placement, accounting)
    alloc = allocate(fmt, placement, model, workload, accounting)
    return TraceBuilder(model, unchecked_placement(alloc), workload, accounting,
                        onchip_buffer_bytes)
