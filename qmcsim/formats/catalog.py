"""The format variants the `formats` command compares, with the published figures beside them.

Each entry: a label, the format config (as a run config's `format:` would give it), and the
published bits/weight from shared/reference/quant-formats.md (a figure or formula as published,
not computed here).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qmcsim.formats.base import FormatConfig, format_registry

QMC_RHOS = (0.1, 0.2, 0.3, 0.4, 0.5)
QMC_INDEXES = ("none", "bitmap", "csr", "relative")


@dataclass(frozen=True, kw_only=True)
class Variant:
    label: str
    config: dict[str, Any]
    published: str = ""


VARIANTS: tuple[Variant, ...] = (
    Variant(label="FP16", config={"kind": "fp16"}, published="16"),
    Variant(label="INT8 per-channel", config={"kind": "int8"}, published="8 + 16/in"),
    Variant(label="RTN INT4 per-channel", config={"kind": "rtn", "bits": 4},
            published="4 + 16/in (+ zero point)"),
    Variant(label="RTN INT4 g128", config={"kind": "rtn", "bits": 4, "group_size": 128}),
    Variant(label="MXINT4", config={"kind": "mx", "element": "int4"}, published="4.25"),
    Variant(label="MXFP4", config={"kind": "mx", "element": "fp4"}, published="4.25"),
    Variant(label="MXINT8", config={"kind": "mx", "element": "int8"}, published="8.25"),
    Variant(label="AWQ/GPTQ W4 g128 (int4 zeros)", config={"kind": "awq_gptq"},
            published="~4.25"),
    Variant(label="AWQ/GPTQ W4 g128 (fp16 zeros)", config={"kind": "awq_gptq", "zero_bits": 16},
            published="~4.25"),
    Variant(label="GPTQ W4 g128 act-order", config={"kind": "awq_gptq", "act_order": True}),
    Variant(label="SqueezeLLM 3-bit + 0.45 %", config={"kind": "squeezellm", "bits": 3},
            published="~3.24 + 0.45 %"),
    Variant(label="SqueezeLLM 4-bit + 0.45 %", config={"kind": "squeezellm", "bits": 4}),
    Variant(label="SpQR w3 g16 + 1 %", config={"kind": "spqr"},
            published="3.625 + 0.32 per 1 %"),
    Variant(label="QMC rho 0.3, no index (study)", config={"kind": "qmc", "index": "none"},
            published="3.6 (no index bits)"),
    Variant(label="QMC rho 0.3, bitmap", config={"kind": "qmc", "index": "bitmap"},
            published="4.6 with bitmap"),
    Variant(label="QMC rho 0.3, CSR", config={"kind": "qmc", "index": "csr"}),
    Variant(label="QMC rho 0.3, relative", config={"kind": "qmc", "index": "relative"}),
)


def build(config: dict[str, Any]) -> FormatConfig:
    return format_registry()[config["kind"]].model_validate(config)


def qmc_index_variants() -> list[tuple[float, str, FormatConfig]]:
    return [(rho, index, build({"kind": "qmc", "rho": rho, "index": index}))
            for rho in QMC_RHOS for index in QMC_INDEXES]
