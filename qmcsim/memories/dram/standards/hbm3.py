"""HBM3 (JESD238A) as data: one pseudo channel, its constraints, timing parameters, refresh.

A preset is one 32-bit pseudo channel (the simulator's channel; its single "rank" level is the
pseudo channel itself, `count` pseudo channels make a stack's worth). BL8, data at 4 beats per
CK. Separate row (ACT, PRE, PREA, REF) and column (RD, WR) command buses: one row and one
column command may issue in the same CK; ACT holds the row bus two CK. Refresh: all-bank
(REFab) or per-bank (REFpb, one bank per command). Constraint layout after Ramulator 2
(CMU-SAFARI/ramulator2, src/dram/impl/HBM3.cpp). The command buses a real stack shares between
the two pseudo channels of a channel are not modelled (each preset channel has its own).
"""

from __future__ import annotations

from pydantic import Field

from qmcsim.memories.dram.spec import (
    CAS,
    RDS,
    WRS,
    Organisation,
    RefreshScheme,
    Standard,
    TimingBase,
    c,
    jedec_cycles,
    register_standard,
    timing_as,
    single_banks,
)

COMMANDS = ("ACT", "PRE", "PREA", "RD", "WR", "RDA", "WRA", "REFab", "REFpb")
ROW = ("ACT", "PRE", "PREA", "REFab", "REFpb")

CONSTRAINTS = (
    # --- channel: row and column command buses, data bus
    c("channel", ROW, ROW, "1", note="row command bus: one per CK"),
    c("channel", "ACT", ROW, "2", note="ACT takes two CK on the row bus"),
    c("channel", CAS, CAS, "1", note="column command bus: one per CK"),
    c("channel", RDS, RDS, "nBL", note="data bus occupancy"),
    c("channel", WRS, WRS, "nBL", note="data bus occupancy"),
    # --- pseudo channel (different bank groups)
    c("pseudochannel", RDS, RDS, "nCCD_S"),
    c("pseudochannel", WRS, WRS, "nCCD_S"),
    c("pseudochannel", RDS, WRS, "nCL + nBL + 2 - nCWL", note="read to write"),
    c("pseudochannel", WRS, RDS, "nCWL + nBL + nWTR_S", note="tWTR_S"),
    c("pseudochannel", "RD", "PREA", "nRTP"),
    c("pseudochannel", "WR", "PREA", "nCWL + nBL + nWR"),
    c("pseudochannel", "ACT", "ACT", "nRRD_S"),
    c("pseudochannel", "ACT", "ACT", "nFAW", window=4, note="four-activate window"),
    c("pseudochannel", "ACT", "PREA", "nRAS"),
    c("pseudochannel", "PREA", "ACT", "nRP"),
    c("pseudochannel", "ACT", "REFab", "nRC"),
    c("pseudochannel", ("PRE", "PREA"), "REFab", "nRP"),
    c("pseudochannel", "RDA", "REFab", "nRTP + nRP"),
    c("pseudochannel", "WRA", "REFab", "nCWL + nBL + nWR + nRP"),
    c("pseudochannel", "REFab", ("ACT", "REFab", "REFpb"), "nRFCab"),
    c("pseudochannel", "ACT", "REFpb", "nRRD_S + 1"),
    c("pseudochannel", "REFpb", "REFpb", "nRREFD", note="per-bank refreshes, other banks"),
    c("pseudochannel", "REFpb", "ACT", "nRREFD - 1", note="per-bank refresh to ACT elsewhere"),
    # --- bank group
    c("bankgroup", RDS, RDS, "nCCD_L"),
    c("bankgroup", WRS, WRS, "nCCD_L"),
    c("bankgroup", WRS, RDS, "nCWL + nBL + nWTR_L", note="tWTR_L"),
    c("bankgroup", "ACT", "ACT", "nRRD_L"),
    # --- bank
    c("bank", "ACT", "ACT", "nRC"),
    c("bank", "ACT", RDS, "nRCD"),
    c("bank", "ACT", WRS, "nRCDWR"),
    c("bank", "ACT", "PRE", "nRAS"),
    c("bank", "PRE", "ACT", "nRP"),
    c("bank", "RD", "PRE", "nRTP"),
    c("bank", "WR", "PRE", "nCWL + nBL + nWR"),
    c("bank", "RDA", "ACT", "nRTP + nRP"),
    c("bank", "WRA", "ACT", "nCWL + nBL + nWR + nRP"),
    c("bank", "ACT", "REFpb", "nRC"),
    c("bank", "PRE", "REFpb", "nRP"),
    c("bank", "RDA", "REFpb", "nRTP + nRP"),
    c("bank", "WRA", "REFpb", "nCWL + nBL + nWR + nRP"),
    c("bank", "REFpb", ("ACT", "REFpb"), "nRFCpb"),
)


class Hbm3Timing(TimingBase):
    """`timing:` of an HBM3 pseudo-channel preset: TimingBase's core parameters plus these
    (cycle counts `n_*` in CK, times `t_*_ns`)."""

    n_rcd_rd: int = Field(ge=1, description="ACT to RD")
    n_rcd_wr: int = Field(ge=1, description="ACT to WR")
    n_rp: int = Field(ge=1)
    n_rrefd: int = Field(ge=1, description="per-bank refresh to a command to another bank")
    t_rfc_ab_ns: float = Field(gt=0)
    t_rfc_pb_ns: float = Field(gt=0)
    t_refi_pb_ns: float = Field(gt=0, description="interval between per-bank refreshes")

    @property
    def transfers_per_ck(self) -> int:
        """HBM3 DQ moves four beats per CK (data strobes at twice CK, both edges)."""
        return 4


def hbm3_cycles(timing: TimingBase, org: Organisation) -> dict[str, int]:
    t = timing_as(timing, Hbm3Timing)
    ck = t.t_ck_ns
    return {
        "nBL": org.burst_length // t.transfers_per_ck, "nCL": t.n_cl, "nCWL": t.n_cwl,
        "nRCD": t.n_rcd_rd, "nRCDWR": t.n_rcd_wr, "nRP": t.n_rp, "nRPpb": t.n_rp,
        "nRPab": t.n_rp, "nRAS": t.n_ras, "nRC": t.n_rc, "nWR": t.n_wr, "nRTP": t.n_rtp,
        "nCCD_S": t.n_ccd_s, "nCCD_L": t.n_ccd_l, "nRRD_S": t.n_rrd_s, "nRRD_L": t.n_rrd_l,
        "nFAW": t.n_faw, "nWTR_S": t.n_wtr_s, "nWTR_L": t.n_wtr_l, "nRREFD": t.n_rrefd,
        "nRFCab": jedec_cycles(t.t_rfc_ab_ns, ck), "nRFCpb": jedec_cycles(t.t_rfc_pb_ns, ck),
        "nREFI": jedec_cycles(t.t_refi_ns, ck), "nREFIpb": jedec_cycles(t.t_refi_pb_ns, ck),
    }


HBM3 = register_standard(Standard(
    name="hbm3",
    title="HBM3 (JEDEC JESD238A), one pseudo channel",
    levels=("channel", "pseudochannel", "bankgroup", "bank", "row", "column"),
    commands=COMMANDS,
    constraints=CONSTRAINTS,
    timing_class=Hbm3Timing,
    cycles=hbm3_cycles,
    refresh={"all_bank": RefreshScheme("REFab", "nREFI"),
             "per_bank": RefreshScheme("REFpb", "nREFIpb", single_banks)},
    burst_lengths=(8,),
))
