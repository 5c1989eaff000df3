"""LPDDR5 (JESD209-5B) as data: constraints, timing parameters, refresh modes.

Bank-group mode, one command per CK on the CA bus, data on WCK (2 x WCK:CK beats per CK). The
constraint layout follows Ramulator 2 (CMU-SAFARI/ramulator2, src/dram/impl/LPDDR5.cpp); the
values come from the presets (hw_configs/devices/lpddr5-*.yaml).
"""

from __future__ import annotations

from pydantic import Field

from qmcsim.memories.dram.spec import (
    ALL,
    CAS,
    RDS,
    WRS,
    Constraint,
    Organisation,
    RefreshScheme,
    Standard,
    TimingBase,
    c,
    jedec_cycles,
    pair_halves,
    register_standard,
    timing_as,
)

# JESD209-5 (LPDDR5) timing constraints, bank-group mode, one command per CK on the CA bus.
LPDDR5_CONSTRAINTS: tuple[Constraint, ...] = (
    # --- channel: command bus and data bus
    c("channel", ALL, ALL, "1", note="command bus: one command per CK"),
    c("channel", RDS, RDS, "nBL", note="data bus occupancy"),
    c("channel", WRS, WRS, "nBL", note="data bus occupancy"),
    # --- rank (different bank groups)
    c("rank", RDS, RDS, "nCCD_S"),
    c("rank", WRS, WRS, "nCCD_S"),
    c("rank", RDS, WRS, "nCL + nBL + 2 - nCWL", note="read to write turnaround"),
    c("rank", WRS, RDS, "nCWL + nBL + nWTR_S", note="tWTR_S"),
    c("rank", RDS, CAS, "nBL + nCS", sibling=True, note="rank switch"),
    c("rank", WRS, RDS, "nCL + nBL + nCS - nCWL", sibling=True, note="rank switch"),
    c("rank", "RD", "PREA", "nRTP"),
    c("rank", "WR", "PREA", "nCWL + nBL + nWR"),
    c("rank", "ACT", "ACT", "nRRD_S"),
    c("rank", "ACT", "ACT", "nFAW", window=4, note="four-activate window"),
    c("rank", "ACT", "PREA", "nRAS"),
    c("rank", "PREA", "ACT", "nRPab"),
    c("rank", "ACT", "REFab", "nRC"),
    c("rank", "PRE", "REFab", "nRPpb"),
    c("rank", "PREA", "REFab", "nRPab"),
    c("rank", "RDA", "REFab", "nRTP + nRPpb"),
    c("rank", "WRA", "REFab", "nCWL + nBL + nWR + nRPpb"),
    c("rank", "REFab", ("ACT", "REFab", "REFpb"), "nRFCab"),
    c("rank", "ACT", "REFpb", "nRRD_S"),
    c("rank", "REFpb", "ACT", "nPBR2ACT"),
    c("rank", "REFpb", "REFpb", "nPBR2PBR"),
    # --- bank group
    c("bankgroup", RDS, RDS, "nCCD_L"),
    c("bankgroup", WRS, WRS, "nCCD_L"),
    c("bankgroup", WRS, RDS, "nCWL + nBL + nWTR_L", note="tWTR_L"),
    c("bankgroup", "ACT", "ACT", "nRRD_L"),
    # --- bank
    c("bank", "ACT", "ACT", "nRC"),
    c("bank", "ACT", CAS, "nRCD"),
    c("bank", "ACT", "PRE", "nRAS"),
    c("bank", "PRE", "ACT", "nRPpb"),
    c("bank", "RD", "PRE", "nRTP"),
    c("bank", "WR", "PRE", "nCWL + nBL + nWR"),
    c("bank", "RDA", "ACT", "nRTP + nRPpb"),
    c("bank", "WRA", "ACT", "nCWL + nBL + nWR + nRPpb"),
    c("bank", "ACT", "REFpb", "nRC"),
    c("bank", "PRE", "REFpb", "nRPpb"),
    c("bank", "RDA", "REFpb", "nRTP + nRPpb"),
    c("bank", "WRA", "REFpb", "nCWL + nBL + nWR + nRPpb"),
    c("bank", "REFpb", "ACT", "nRFCpb"),
)


class Lpddr5Timing(TimingBase):
    """`timing:` of an LPDDR5 preset: TimingBase's core parameters plus these
    (cycle counts `n_*` in CK, times `t_*_ns`)."""

    wck_to_ck: int = Field(ge=1, description="WCK:CK ratio (4 for LPDDR5 above 3200 MT/s)")
    n_rcd: int = Field(ge=1)
    n_rp_pb: int = Field(ge=1)
    n_rp_ab: int = Field(ge=1)
    n_cs: int = Field(ge=0, description="rank-to-rank switch on the data bus")
    t_rfc_ab_ns: float = Field(gt=0)
    t_rfc_pb_ns: float = Field(gt=0)
    t_refi_pb_ns: float = Field(gt=0, description="per-bank refresh interval")
    t_pbr2pbr_ns: float = Field(gt=0)
    t_pbr2act_ns: float = Field(gt=0)

    @property
    def transfers_per_ck(self) -> int:
        """DQ runs at 2 x WCK, WCK at `wck_to_ck` x CK."""
        return 2 * self.wck_to_ck


def lpddr5_cycles(timing: TimingBase, org: Organisation) -> dict[str, int]:
    t = timing_as(timing, Lpddr5Timing)
    ck = t.t_ck_ns
    return {
        "nBL": org.burst_length // t.transfers_per_ck, "nCL": t.n_cl, "nCWL": t.n_cwl,
        "nRCD": t.n_rcd, "nRPpb": t.n_rp_pb,
        "nRPab": t.n_rp_ab, "nRAS": t.n_ras, "nRC": t.n_rc, "nWR": t.n_wr, "nRTP": t.n_rtp,
        "nCCD_S": t.n_ccd_s, "nCCD_L": t.n_ccd_l, "nRRD_S": t.n_rrd_s, "nRRD_L": t.n_rrd_l,
        "nFAW": t.n_faw, "nWTR_S": t.n_wtr_s, "nWTR_L": t.n_wtr_l, "nCS": t.n_cs,
        "nRFCab": jedec_cycles(t.t_rfc_ab_ns, ck), "nRFCpb": jedec_cycles(t.t_rfc_pb_ns, ck),
        "nREFI": jedec_cycles(t.t_refi_ns, ck), "nREFIpb": jedec_cycles(t.t_refi_pb_ns, ck),
        "nPBR2PBR": jedec_cycles(t.t_pbr2pbr_ns, ck), "nPBR2ACT": jedec_cycles(t.t_pbr2act_ns, ck),
    }


LPDDR5 = register_standard(Standard(
    name="lpddr5",
    title="LPDDR5 / LPDDR5X (JEDEC JESD209-5B)",
    levels=("channel", "rank", "bankgroup", "bank", "row", "column"),
    commands=("ACT", "PRE", "PREA", "RD", "WR", "RDA", "WRA", "REFab", "REFpb"),
    constraints=LPDDR5_CONSTRAINTS,
    timing_class=Lpddr5Timing,
    cycles=lpddr5_cycles,
    refresh={"all_bank": RefreshScheme("REFab", "nREFI"),
             "per_bank": RefreshScheme("REFpb", "nREFIpb", pair_halves)},
    burst_lengths=(16, 32),
))
