"""The typed parameter record of a `kind: dram` preset (organisation, timing, controller, energy).

`standard:` names the DRAM standard (spec.py registry; default `lpddr5`), which owns the
`timing:` record's fields and its refresh modes. Cycle counts are named `n_*` (in CK cycles),
times `t_*_ns`; `timing_cycles()` resolves them into the named values (`nCL`, `nRFCab`, ...)
that the standard's constraints refer to.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializeAsAny,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from qmcsim.memories.base import DeviceParams
from qmcsim.memories.dram.spec import Organisation, Standard, TimingBase, get_standard, standards

DEFAULT_STANDARD = "lpddr5"

MAPPING_LEVELS = ("Ch", "Ra", "Bg", "Ba", "Ro", "Co")


def _is_pow2(x: int) -> bool:
    return x > 0 and x & (x - 1) == 0


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DramOrgParams(_Frozen):
    ranks: int = Field(ge=1, description="ranks per channel")
    bank_groups: int = Field(ge=1)
    banks_per_group: int = Field(ge=1)
    rows: int = Field(ge=1, description="rows per bank")
    columns: int = Field(ge=1, description="columns per row (one column = channel width bits)")
    channel_width_bits: int = Field(ge=1, description="DQ width of one channel")
    device_width_bits: int | None = Field(
        default=None, ge=1, description="DQ width of one die (None: one die per channel); a "
        "32-bit DDR5 sub-channel of x16 dies has two")
    burst_length: int = Field(ge=1, description="beats per burst (BL16)")
    density_gbit: int = Field(ge=1, description="die density in Gb (1 Gb = 2**30 bits)")

    @model_validator(mode="after")
    def _check(self) -> DramOrgParams:
        for name in ("ranks", "bank_groups", "banks_per_group", "rows", "columns"):
            if not _is_pow2(getattr(self, name)):
                raise ValueError(f'"{name}" must be a power of two, got {getattr(self, name)}')
        if self.columns % self.burst_length:
            raise ValueError(f'"columns" ({self.columns}) must be a multiple of "burst_length" '
                             f"({self.burst_length})")
        die = self.device_width_bits or self.channel_width_bits
        if self.channel_width_bits % die:
            raise ValueError(f'"channel_width_bits" ({self.channel_width_bits}) must be a '
                             f'multiple of "device_width_bits" ({die})')
        bits = self.bank_groups * self.banks_per_group * self.rows * self.columns * die
        if bits != self.density_gbit * 2**30:
            raise ValueError(f"bank_groups x banks_per_group x rows x columns x width = {bits} bits"
                             f" does not match density_gbit = {self.density_gbit}")
        return self

    @model_serializer(mode="wrap")
    def _omit_default(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # a one-die channel writes no device width: resolved configs of the presets that
        # predate the field stay byte-identical
        out: dict[str, Any] = handler(self)
        if self.device_width_bits is None:
            out.pop("device_width_bits", None)
        return out

    def organisation(self) -> Organisation:
        return Organisation(self.ranks, self.bank_groups, self.banks_per_group, self.rows,
                            self.columns, self.channel_width_bits, self.burst_length)


class DramControllerParams(_Frozen):
    read_queue_size: int = Field(ge=1)
    write_queue_size: int = Field(ge=1)
    write_high_watermark: float = Field(gt=0, le=1, description="fraction of write queue")
    write_low_watermark: float = Field(ge=0, lt=1, description="fraction of write queue")
    page_policy: Literal["open", "closed"]
    refresh: str = Field(description="a refresh mode of the standard (all_bank, per_bank, ...)")
    address_mapping: str = Field(description="levels from most to least significant bit")
    fidelity: Literal["fast", "burst"]

    @model_validator(mode="after")
    def _check(self) -> DramControllerParams:
        parts = re.findall(r"[A-Z][a-z]", self.address_mapping)
        if "".join(parts) != self.address_mapping or sorted(parts) != sorted(MAPPING_LEVELS):
            raise ValueError(f"address_mapping {self.address_mapping!r} must order each of "
                             f"{', '.join(MAPPING_LEVELS)} exactly once (e.g. 'RoBaRaCoCh')")
        if self.write_low_watermark >= self.write_high_watermark:
            raise ValueError("write_low_watermark must be below write_high_watermark")
        return self


class DramEnergyParams(_Frozen):
    act_pre_pj: float = Field(ge=0, description="one ACT + its PRE")
    read_core_pj_per_bit: float = Field(ge=0)
    write_core_pj_per_bit: float = Field(ge=0)
    read_io_pj_per_bit: float = Field(ge=0)
    write_io_pj_per_bit: float = Field(ge=0)
    refresh_ab_pj: float = Field(ge=0, description="one all-bank refresh")
    refresh_pb_pj: float = Field(ge=0, description="one partial (per-bank / same-bank) refresh")
    precharge_standby_mw: float = Field(ge=0, description="all banks closed")
    active_standby_mw: float = Field(ge=0, description="at least one bank open")


class DramParams(DeviceParams):
    """A `kind: dram` preset: one channel's device; the memory's `count` is the channel count."""

    org: DramOrgParams
    timing: SerializeAsAny[TimingBase]
    controller: DramControllerParams
    energy: DramEnergyParams
    standard: str = Field(default=DEFAULT_STANDARD,
                          description="DRAM standard (qmcsim/memories/dram/standards/)")

    @model_validator(mode="before")
    @classmethod
    def _standard_timing(cls, data: Any) -> Any:
        """Validate `timing:` with the record class of the preset's standard."""
        if not isinstance(data, dict):
            return data
        name = data.get("standard", DEFAULT_STANDARD)
        if not isinstance(name, str) or name not in standards():
            raise ValueError(f'"standard" must be one of {sorted(standards())}, got {name!r}')
        timing = data.get("timing")
        if isinstance(timing, dict):
            data = {**data, "timing": get_standard(name).timing_class.model_validate(timing)}
        return data

    @model_validator(mode="after")
    def _check(self) -> DramParams:
        std = self.spec
        if not isinstance(self.timing, std.timing_class):
            raise ValueError(f"timing must be a {std.timing_class.__name__} record")
        cap = self.org.organisation().capacity_bytes
        if cap != self.capacity_bytes:
            raise ValueError(f"capacity_bytes {self.capacity_bytes} != organisation's {cap}")
        if self.controller.refresh not in std.refresh:
            raise ValueError(f"controller.refresh must be one of {sorted(std.refresh)} for "
                             f"{std.name}, got {self.controller.refresh!r}")
        if self.org.burst_length not in std.burst_lengths:
            raise ValueError(f"org.burst_length must be one of {std.burst_lengths} for "
                             f"{std.name}, got {self.org.burst_length}")
        if self.org.burst_length % self.timing.transfers_per_ck:
            raise ValueError("burst_length must fill whole CK cycles")
        return self

    @model_serializer(mode="wrap")
    def _omit_default(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # the default standard is not written: resolved configs of the LPDDR5 presets that
        # predate the field stay byte-identical (and still resolve to the same standard)
        out: dict[str, Any] = handler(self)
        if self.standard == DEFAULT_STANDARD:
            out.pop("standard", None)
        return out

    @property
    def spec(self) -> Standard:
        """The DRAM standard of this preset."""
        return get_standard(self.standard)


def timing_cycles(params: DramParams) -> dict[str, int]:
    """Named cycle counts that the standard's constraint latencies refer to."""
    return params.spec.values(params.timing, params.org.organisation())
