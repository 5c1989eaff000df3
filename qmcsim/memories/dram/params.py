"""The typed parameter record of a `kind: dram` preset (organisation, timing, controller, energy).

Cycle counts are named `n_*` (in CK cycles), times `t_*_ns`; `timing_cycles()` resolves them into
the named values (`nCL`, `nRFCab`, ...) that the constraints in spec.py refer to.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from qmcsim.memories.base import DeviceParams
from qmcsim.memories.dram.spec import Organisation, jedec_cycles

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
        bits = self.bank_groups * self.banks_per_group * self.rows * self.columns * \
            self.channel_width_bits
        if bits != self.density_gbit * 2**30:
            raise ValueError(f"bank_groups x banks_per_group x rows x columns x width = {bits} bits"
                             f" does not match density_gbit = {self.density_gbit}")
        return self

    def organisation(self) -> Organisation:
        return Organisation(self.ranks, self.bank_groups, self.banks_per_group, self.rows,
                            self.columns, self.channel_width_bits, self.burst_length)


class DramTimingParams(_Frozen):
    data_rate_mt_per_s: float = Field(gt=0, description="DQ transfers per second per pin / 1e6")
    wck_to_ck: int = Field(ge=1, description="WCK:CK ratio (4 for LPDDR5 above 3200 MT/s)")
    n_cl: int = Field(ge=1, description="read latency RL in CK")
    n_cwl: int = Field(ge=1, description="write latency WL in CK")
    n_rcd: int = Field(ge=1)
    n_rp_pb: int = Field(ge=1)
    n_rp_ab: int = Field(ge=1)
    n_ras: int = Field(ge=1)
    n_rc: int = Field(ge=1)
    n_wr: int = Field(ge=1)
    n_rtp: int = Field(ge=1)
    n_ccd_s: int = Field(ge=1)
    n_ccd_l: int = Field(ge=1)
    n_rrd_s: int = Field(ge=1)
    n_rrd_l: int = Field(ge=1)
    n_faw: int = Field(ge=1)
    n_wtr_s: int = Field(ge=1)
    n_wtr_l: int = Field(ge=1)
    n_cs: int = Field(ge=0, description="rank-to-rank switch on the data bus")
    t_rfc_ab_ns: float = Field(gt=0)
    t_rfc_pb_ns: float = Field(gt=0)
    t_refi_ns: float = Field(gt=0, description="all-bank refresh interval")
    t_refi_pb_ns: float = Field(gt=0, description="per-bank refresh interval")
    t_pbr2pbr_ns: float = Field(gt=0)
    t_pbr2act_ns: float = Field(gt=0)

    @property
    def t_ck_ns(self) -> float:
        """CK period: DQ runs at 2 x WCK, WCK at `wck_to_ck` x CK."""
        return 2 * self.wck_to_ck * 1000.0 / self.data_rate_mt_per_s


class DramControllerParams(_Frozen):
    read_queue_size: int = Field(ge=1)
    write_queue_size: int = Field(ge=1)
    write_high_watermark: float = Field(gt=0, le=1, description="fraction of write queue")
    write_low_watermark: float = Field(ge=0, lt=1, description="fraction of write queue")
    page_policy: Literal["open", "closed"]
    refresh: Literal["all_bank", "per_bank"]
    address_mapping: str = Field(description="levels from most to least significant bit")
    fidelity: Literal["fast", "burst"]

    @model_validator(mode="after")
    def _check(self) -> DramControllerParams:
        parts = re.findall(r"[A-Z][a-z]", self.address_mapping)
        if "".join(parts) != self.address_mapping or sorted(parts) != sorted(MAPPING_LEVELS):
            missing = [m for m in MAPPING_LEVELS if m not in parts]
            extra = sorted({p for p in parts if p not in MAPPING_LEVELS or parts.count(p) > 1})
            what = "; ".join(x for x in (f"missing {', '.join(missing)}" if missing else "",
                                         f"unknown or repeated {', '.join(extra)}" if extra
                                         else "") if x)
            raise ValueError(f"address_mapping {self.address_mapping!r} must order each of "
                             f"{', '.join(MAPPING_LEVELS)} exactly once, most significant "
                             f"bits first (e.g. 'RoBaRaCoBgCh', 'ChRaBaRoCoBg')"
                             + (f": {what}" if what else ""))
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
    refresh_pb_pj: float = Field(ge=0, description="one per-bank refresh")
    precharge_standby_mw: float = Field(ge=0, description="all banks closed")
    active_standby_mw: float = Field(ge=0, description="at least one bank open")


class DramParams(DeviceParams):
    """A `kind: dram` preset: one channel's device; the memory's `count` is the channel count."""

    org: DramOrgParams
    timing: DramTimingParams
    controller: DramControllerParams
    energy: DramEnergyParams

    @model_validator(mode="after")
    def _check_capacity(self) -> DramParams:
        cap = self.org.organisation().capacity_bytes
        if cap != self.capacity_bytes:
            raise ValueError(f"capacity_bytes {self.capacity_bytes} != organisation's {cap}")
        return self


def timing_cycles(params: DramParams) -> dict[str, int]:
    """Named cycle counts that the constraint latencies refer to."""
    t = params.timing
    ck = t.t_ck_ns
    n_bl = params.org.burst_length // (2 * t.wck_to_ck)
    if n_bl * 2 * t.wck_to_ck != params.org.burst_length:
        raise ValueError("burst_length must fill whole CK cycles")
    return {
        "nBL": n_bl, "nCL": t.n_cl, "nCWL": t.n_cwl, "nRCD": t.n_rcd, "nRPpb": t.n_rp_pb,
        "nRPab": t.n_rp_ab, "nRAS": t.n_ras, "nRC": t.n_rc, "nWR": t.n_wr, "nRTP": t.n_rtp,
        "nCCD_S": t.n_ccd_s, "nCCD_L": t.n_ccd_l, "nRRD_S": t.n_rrd_s, "nRRD_L": t.n_rrd_l,
        "nFAW": t.n_faw, "nWTR_S": t.n_wtr_s, "nWTR_L": t.n_wtr_l, "nCS": t.n_cs,
        "nRFCab": jedec_cycles(t.t_rfc_ab_ns, ck), "nRFCpb": jedec_cycles(t.t_rfc_pb_ns, ck),
        "nREFI": jedec_cycles(t.t_refi_ns, ck), "nREFIpb": jedec_cycles(t.t_refi_pb_ns, ck),
        "nPBR2PBR": jedec_cycles(t.t_pbr2pbr_ns, ck), "nPBR2ACT": jedec_cycles(t.t_pbr2act_ns, ck),
    }
