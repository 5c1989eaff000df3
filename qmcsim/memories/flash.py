"""NAND Flash behind a UFS interface: holds the persistent weight copy of volatile systems.

Reads and programs are page-granular; dies x planes pages are sensed in parallel, so a long
stream moves at min(interface bandwidth, parallel pages x page size / tR) and its first byte
arrives after one tR. The engine uses it for the cold start: weights from Flash into the
working memories before the first prompt.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar

import simpy
from pydantic import Field

from qmcsim.memories.base import DeviceParams, params_as, register
from qmcsim.memories.queued import QueuedMemory

if TYPE_CHECKING:
    from qmcsim.noise.inject import NoiseModel
    from qmcsim.noise.mapping import Mapping


class FlashParams(DeviceParams):
    volatile: bool = False
    page_bytes: int = Field(gt=0)
    dies: int = Field(ge=1)
    planes_per_die: int = Field(ge=1)
    raw_bit_error_rate: float = Field(
        0.0, ge=0, le=1, description="per stored bit, after the controller's ECC if any")


def array_bandwidth_gb_per_s(page_bytes: int, parallel_pages: int, t_page_ns: float) -> float:
    """Analytic oracle: pages sensed (or programmed) in parallel, one batch per t_page."""
    return parallel_pages * page_bytes / t_page_ns


def stream_ns(nbytes: int, params: FlashParams, count: int, is_write: bool) -> float:
    """Analytic oracle: one unloaded page-aligned stream of nbytes."""
    t_page = params.write_latency_ns if is_write else params.read_latency_ns
    bw = FlashMemory.bandwidth_for(params, count, is_write)
    pages = math.ceil(nbytes / params.page_bytes)
    return t_page + pages * params.page_bytes / bw


@register
class FlashMemory(QueuedMemory):
    kind = "flash"
    params_class: ClassVar[type[DeviceParams]] = FlashParams
    area_role = "replaced"   # holds the persistent weight copy of volatile systems

    @classmethod
    def noise_model(cls, params: DeviceParams, *, mapping: Mapping = "binary",
                    read_time_s: float | None = None) -> NoiseModel | None:
        """Independent bit flips at the raw bit error rate (after the controller's ECC)."""
        from qmcsim.noise.inject import BitFlipNoise

        p = params_as(params, FlashParams).raw_bit_error_rate
        return BitFlipNoise(bit_error_rate=p) if p > 0 else None

    @staticmethod
    def bandwidth_for(params: FlashParams, count: int, is_write: bool) -> float:
        parallel = params.dies * params.planes_per_die
        t_page = params.write_latency_ns if is_write else params.read_latency_ns
        interface = params.write_bandwidth_gb_per_s if is_write \
            else params.read_bandwidth_gb_per_s
        per_device = min(interface, array_bandwidth_gb_per_s(params.page_bytes, parallel, t_page))
        total = per_device * count
        cap = params.interface_bandwidth_gb_per_s
        return min(total, cap) if cap is not None else total

    def __init__(self, env: simpy.Environment, name: str, params: DeviceParams, count: int) -> None:
        super().__init__(env, name, params, count)
        self.flash = params_as(params, FlashParams)
        self.read_bandwidth_gb_per_s = self.bandwidth_for(self.flash, count, False)
        self.write_bandwidth_gb_per_s = self.bandwidth_for(self.flash, count, True)

    def transfer_bytes(self, nbytes: int) -> int:
        """Whole pages move, however few bytes are asked for."""
        return math.ceil(nbytes / self.flash.page_bytes) * self.flash.page_bytes
