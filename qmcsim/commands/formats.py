"""`formats`: bits per weight of every storage format on one model, by component."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:   # pandas is imported when a command runs (start-up)
    import pandas as pd


NAME = "formats"
HELP = "bits per weight of every storage format on a model, per stored component"
DESCRIPTION = ("Lay out every weight of a model in each storage format (FP16, INT8, RTN, MX, "
               "AWQ/GPTQ, SqueezeLLM, SpQR, QMC) and print the bits per weight, split into "
               "codes, scales (and zero points, LUTs), outlier values and outlier indices, "
               "next to the published figure; then the cost of QMC's outlier indices at "
               "rho = 0.1 .. 0.5 per encoding. Outlier counts and index sizes are measured "
               "on --weights when given, else taken at each format's nominal share. With "
               "--config, also the NVM area of each system against the DRAM + Flash area of "
               "the baseline's weights.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True,
                   help="model preset name (hw_configs/models/) or path to a config.json")
    p.add_argument("--accounting", choices=("full", "paper"), default="full",
                   help="full: metadata counted, norms/biases FP16; paper: the QMC study's "
                        "(every weight quantized alike, no metadata) (default: full)")
    p.add_argument("--weights", default=None, metavar="synthetic|PATH",
                   help="measure outlier counts and index sizes on these weights: "
                        "'synthetic' (seeded), a .gguf / .safetensors file or a model folder")
    p.add_argument("--seed", type=int, default=0, help="seed of synthetic weights (default 0)")
    p.add_argument("--config", type=Path, default=None,
                   help="run config: also print each system's NVM area vs the baseline's "
                        "DRAM + Flash area (uses its own model, accounting and weights)")
    p.add_argument("--csv", type=Path, default=None, help="write the format table as CSV")


def run(args: argparse.Namespace) -> int:
    from qmcsim.formats.catalog import VARIANTS, build, qmc_index_variants
    from qmcsim.models.load import load_model

    model = load_model(args.model, file="--model", field_path="--model")
    variants = [build(v.config) for v in VARIANTS]
    index_variants = qmc_index_variants()
    formats = variants + [f for _, _, f in index_variants]
    layouts, note = _layouts(formats, model, args)

    total = model.num_parameters
    print(f"model {model.name}: {total:,} weights ({len(model.tensors)} tensors), accounting "
          f"{args.accounting}; {note}")
    print("bits per weight over all stored weights, by component:\n")
    table = format_table(VARIANTS, layouts[:len(VARIANTS)], total)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    if args.csv is not None:
        try:
            table.to_csv(args.csv, index=False, float_format="%.6f")
        except OSError as exc:
            from qmcsim.errors import ConfigError
            raise ConfigError(str(args.csv), "--csv", f"a writable path expected ({exc})") \
                from None
    print("\nQMC (5-bit outliers, 3-bit inliers): bits per weight by outlier-index encoding;"
          "\nindex = bits of the outlier positions alone, per weight:\n")
    idx = index_table(index_variants, layouts[len(VARIANTS):], total)
    print(idx.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    if args.config is not None:
        print("\n" + area_report(args.config))
    return 0


def _layouts(formats: list, model, args: argparse.Namespace) -> tuple[list[dict], str]:
    from qmcsim.formats.measure import measure_model

    if args.weights is None:
        return [{t.name: f.layout(t, args.accounting) for t in model.tensors}
                for f in formats], "analytic layouts (nominal outlier shares)"
    from tqdm import tqdm

    from qmcsim.weights.source import open_weights

    source = open_weights(args.weights, model, args.seed, file="--weights",
                          field_path="--weights")
    with tqdm(total=len(model.tensors), unit="tensor", file=sys.stderr, leave=False,
              disable=None) as bar:
        m = measure_model(formats, model, source, args.accounting,
                          on_tensor=lambda _t: bar.update())
    return list(m.layouts), (f"outliers and indices measured on {m.source}: "
                             f"{m.measured_weights / model.num_parameters:.1%} of the weights")


def _component_bits(layout: dict) -> dict[str, int]:
    from qmcsim.formats.base import component_bits

    out: dict[str, int] = {}
    for parts in layout.values():
        for k, v in component_bits(parts).items():
            out[k] = out.get(k, 0) + v
    return out


def format_table(variants, layouts: list[dict], total: int) -> pd.DataFrame:
    import pandas as pd

    rows = []
    for v, layout in zip(variants, layouts, strict=True):
        bits = _component_bits(layout)
        n_out = sum(c.elements for parts in layout.values() for c in parts
                    if c.name == "outlier_values")
        rows.append({"format": v.label, "bits/weight": sum(bits.values()) / total,
                     "codes": bits["codes"] / total, "scales": bits["scales"] / total,
                     "outlier_values": bits["outlier_values"] / total,
                     "outlier_indices": bits["outlier_indices"] / total,
                     "outliers %": 100 * n_out / total,
                     "MB (10^6 bytes)": sum(bits.values()) / 8e6,
                     "published bits/weight": v.published})
    return pd.DataFrame(rows)


def index_table(index_variants, layouts: list[dict], total: int) -> pd.DataFrame:
    import pandas as pd

    rows: dict[float, dict[str, float]] = {}
    for (rho, index, _), layout in zip(index_variants, layouts, strict=True):
        bits = _component_bits(layout)
        row = rows.setdefault(rho, {"rho": rho})
        row[f"{index}"] = sum(bits.values()) / total
        if index != "none":
            row[f"index {index}"] = bits["outlier_indices"] / total
    return pd.DataFrame(list(rows.values()))


def area_report(config: Path) -> str:
    from qmcsim.area import area_comparison
    from qmcsim.config.loader import load_run
    from qmcsim.runner import prepare

    run = load_run(config)
    prepared = prepare(run)
    base = next((s, p) for s, p in prepared if s.name == run.baseline)
    lines = [f"weight area, {run.config.name} ({run.model.name}, {run.config.accounting} "
             f"accounting): new non-volatile weight memories (NVM) vs the memories that held "
             f"the weights of {run.baseline} (DRAM, Flash copy, ...)"]
    for system, placement in prepared:
        if system.name == run.baseline:
            continue
        a = area_comparison(system, placement, *base)
        parts = ", ".join(f"{k} {v:.2f}" for k, v in {**a.nvm_mm2}.items())
        repl = ", ".join(f"{k} {v:.2f}" for k, v in a.replaced_mm2.items())
        lines.append(f"  {system.name}: NVM {a.nvm_total_mm2:.2f} mm^2 ({parts}) vs replaced "
                     f"{a.replaced_total_mm2:.2f} mm^2 ({repl}); net {a.net_mm2:+.2f} mm^2")
    return "\n".join(lines)
