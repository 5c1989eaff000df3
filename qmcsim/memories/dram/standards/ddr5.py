"""DDR5 (JESD79-5) as data: constraints, timing parameters, refresh modes.

One 32-bit sub-channel (the DDR5 DIMM's independent channel) of x4/x8/x16 dies, BL16, data at
2 beats per CK. Refresh: all-bank (REFab, tRFC1 every tREFI) or same-bank (REFsb: bank k of
every bank group at once, tRFCsb, one per tREFI / banks-per-group). Constraint layout after
Ramulator 2 (CMU-SAFARI/ramulator2, src/dram/impl/DDR5.cpp): two-cycle ACT/RD/WR commands on
the CA bus, tCCD_L_WR for same-bank-group writes, tREFSBRD after a same-bank refresh. Values
come from the presets (hw_configs/devices/ddr5-*.yaml).
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
    same_bank_in_every_group,
)

COMMANDS = ("ACT", "PRE", "PREA", "RD", "WR", "RDA", "WRA", "REFab", "REFsb")
ALL = COMMANDS

CONSTRAINTS = (
    # --- channel: CA bus (ACT, RD, WR take two CK) and data bus
    c("channel", ALL, ALL, "1", note="command bus: one command per CK"),
    c("channel", ("ACT",) + CAS, ALL, "2", note="two-cycle commands"),
    c("channel", RDS, RDS, "nBL", note="data bus occupancy"),
    c("channel", WRS, WRS, "nBL", note="data bus occupancy"),
    # --- rank (different bank groups)
    c("rank", RDS, RDS, "nCCD_S"),
    c("rank", WRS, WRS, "nCCD_S"),
    c("rank", RDS, WRS, "nCL + nBL + 2 - nCWL + 2", note="read to write, tWPRE 2 CK"),
    c("rank", WRS, RDS, "nCWL + nBL + nWTR_S", note="tWTR_S"),
    c("rank", RDS, CAS, "nBL + nCS", sibling=True, note="rank switch"),
    c("rank", WRS, RDS, "nCL + nBL + nCS - nCWL", sibling=True, note="rank switch"),
    c("rank", "RD", "PREA", "nRTP"),
    c("rank", "WR", "PREA", "nCWL + nBL + nWR"),
    c("rank", "ACT", "ACT", "nRRD_S"),
    c("rank", "ACT", "ACT", "nFAW", window=4, note="four-activate window"),
    c("rank", "ACT", "PREA", "nRAS"),
    c("rank", "PREA", "ACT", "nRP"),
    c("rank", "ACT", "REFab", "nRC"),
    c("rank", ("PRE", "PREA"), "REFab", "nRP"),
    c("rank", "RDA", "REFab", "nRTP + nRP"),
    c("rank", "WRA", "REFab", "nCWL + nBL + nWR + nRP"),
    c("rank", "REFab", ("ACT", "REFab", "REFsb"), "nRFC1"),
    c("rank", "ACT", "REFsb", "nRRD_S"),
    c("rank", "REFsb", ("ACT", "REFsb"), "nREFSBRD", note="same-bank refresh to other banks"),
    # --- bank group
    c("bankgroup", RDS, RDS, "nCCD_L"),
    c("bankgroup", WRS, WRS, "nCCD_L_WR"),
    c("bankgroup", WRS, RDS, "nCWL + nBL + nWTR_L", note="tWTR_L"),
    c("bankgroup", "ACT", "ACT", "nRRD_L"),
    # --- bank
    c("bank", "ACT", "ACT", "nRC"),
    c("bank", "ACT", CAS, "nRCD"),
    c("bank", "ACT", "PRE", "nRAS"),
    c("bank", "PRE", "ACT", "nRP"),
    c("bank", "RD", "PRE", "nRTP"),
    c("bank", "WR", "PRE", "nCWL + nBL + nWR"),
    c("bank", "RDA", "ACT", "nRTP + nRP"),
    c("bank", "WRA", "ACT", "nCWL + nBL + nWR + nRP"),
    c("bank", "ACT", "REFsb", "nRC"),
    c("bank", "PRE", "REFsb", "nRP"),
    c("bank", "RDA", "REFsb", "nRTP + nRP"),
    c("bank", "WRA", "REFsb", "nCWL + nBL + nWR + nRP"),
    c("bank", "REFsb", ("ACT", "REFsb"), "nRFCsb"),
)


class Ddr5Timing(TimingBase):
    """`timing:` of a DDR5 preset: the core parameters of TimingBase plus these (cycle counts
    `n_*` in CK, times `t_*_ns`). DDR5: CL is the CAS latency, CWL = CL - 2."""

    n_rcd: int = Field(ge=1)
    n_rp: int = Field(ge=1)
    n_ccd_l_wr: int = Field(ge=1, description="write to write, same bank group")
    n_cs: int = Field(ge=0, description="rank-to-rank switch on the data bus")
    t_rfc1_ns: float = Field(gt=0, description="all-bank refresh cycle time (tRFC1)")
    t_rfc_sb_ns: float = Field(gt=0, description="same-bank refresh cycle time")
    t_refi_sb_ns: float = Field(gt=0, description="interval between same-bank refreshes")
    t_refsbrd_ns: float = Field(gt=0, description="same-bank refresh to ACT of another bank")

    @property
    def transfers_per_ck(self) -> int:
        return 2


def ddr5_cycles(timing: TimingBase, org: Organisation) -> dict[str, int]:
    t = timing_as(timing, Ddr5Timing)
    ck = t.t_ck_ns
    rfc1 = jedec_cycles(t.t_rfc1_ns, ck)
    return {
        "nBL": org.burst_length // t.transfers_per_ck, "nCL": t.n_cl, "nCWL": t.n_cwl,
        "nRCD": t.n_rcd, "nRP": t.n_rp, "nRPpb": t.n_rp, "nRPab": t.n_rp, "nRAS": t.n_ras,
        "nRC": t.n_rc, "nWR": t.n_wr, "nRTP": t.n_rtp, "nCCD_S": t.n_ccd_s,
        "nCCD_L": t.n_ccd_l, "nCCD_L_WR": t.n_ccd_l_wr, "nRRD_S": t.n_rrd_s,
        "nRRD_L": t.n_rrd_l, "nFAW": t.n_faw, "nWTR_S": t.n_wtr_s, "nWTR_L": t.n_wtr_l,
        "nCS": t.n_cs, "nRFC1": rfc1, "nRFCab": rfc1, "nRFCsb": jedec_cycles(t.t_rfc_sb_ns, ck),
        "nREFI": jedec_cycles(t.t_refi_ns, ck), "nREFIsb": jedec_cycles(t.t_refi_sb_ns, ck),
        "nREFSBRD": jedec_cycles(t.t_refsbrd_ns, ck),
    }


DDR5 = register_standard(Standard(
    name="ddr5",
    title="DDR5 (JEDEC JESD79-5)",
    levels=("channel", "rank", "bankgroup", "bank", "row", "column"),
    commands=COMMANDS,
    constraints=CONSTRAINTS,
    timing_class=Ddr5Timing,
    cycles=ddr5_cycles,
    refresh={"all_bank": RefreshScheme("REFab", "nREFI"),
             "same_bank": RefreshScheme("REFsb", "nREFIsb", same_bank_in_every_group)},
    burst_lengths=(16,),
))
