"""`trace`: generate the per-token inference trace of a model and store it (Parquet or CSV)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

NAME = "trace"
HELP = "generate a per-token inference trace of a model and store it (Parquet or CSV)"
DESCRIPTION = (
    "Generate the prefill + decode trace of a model (a preset in hw_configs/models/ or a Hugging "
    "Face config.json) and write it in the schema of traces/README.md: one row per weight read "
    "(per tensor and stored component), KV cache read/write, SSM state access and activation "
    "spill, plus one compute row per operator. Weights, KV cache and activations are placed on "
    "one memory named 'dram' unless --place says otherwise; `run` replays the file when its "
    "config sets `trace:` (the memory names must be memories of every system). The file is "
    "written in chunks and appears only when complete.")

PLACEMENT_KEYS = ("codes", "scales", "outlier_values", "outlier_indices", "kv_cache",
                  "activations", "embeddings", "lm_head")
CLI = "command line"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True,
                   help="model preset name (hw_configs/models/) or path to a config.json")
    p.add_argument("--prompt", type=int, required=True, help="prompt tokens (prefill)")
    p.add_argument("--generate", type=int, required=True, help="tokens decoded after the prompt")
    p.add_argument("--batch", type=int, default=1, help="sequences decoded together (default 1)")
    p.add_argument("--prefill-chunk", type=int, default=None, metavar="TOKENS",
                   help="prefill in chunks of this many tokens (default: the whole prompt)")
    p.add_argument("--format", default="fp16", metavar="SPEC",
                   help="weight format: fp16 (default), or KIND[:FIELD=VALUE,...], e.g. "
                        "qmc:rho=0.3,inlier_bits=3,outlier_bits=5,index=bitmap")
    p.add_argument("--accounting", choices=("full", "paper"), default="full",
                   help="full (default): KV, SSM state, activations, metadata; paper: weight "
                        "reads only, as the QMC study")
    p.add_argument("--compute", default="jetson-agx-orin",
                   help="compute preset whose on-chip buffer decides activation spills "
                        "(default jetson-agx-orin)")
    p.add_argument("--onchip-buffer-bytes", type=int, default=None, metavar="BYTES",
                   help="on-chip activation buffer; overrides the compute preset's")
    p.add_argument("--place", action="append", default=[], metavar="KEY=MEMORY",
                   help="put a component or dynamic class on a named memory (keys: "
                        f"{', '.join(PLACEMENT_KEYS)}); default: everything on 'dram'")
    p.add_argument("-o", "--output", type=Path, required=True, help="trace file to write")
    p.add_argument("--csv", action="store_true",
                   help="write CSV instead of Parquet (for small traces)")


def parse_format(spec: str) -> Any:
    """`kind` or `kind:field=value,...` -> the format's config record (values parsed as YAML)."""
    from pydantic import TypeAdapter, ValidationError

    from qmcsim.config.checks import bounds_problem
    from qmcsim.config.overrides import parse_value
    from qmcsim.config.schema import FormatUnion
    from qmcsim.config.yamlio import plain_number_problem
    from qmcsim.errors import ConfigError

    kind, _, rest = spec.partition(":")
    fields: dict[str, Any] = {"kind": kind.strip()}
    for item in filter(None, (x.strip() for x in rest.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(CLI, "--format", f"FIELD=VALUE expected, got {item[:60]!r}")
        fields[key.strip()] = parse_value(value, f"--format {key.strip()[:60]}", CLI)
    try:
        fmt = TypeAdapter(FormatUnion).validate_python(fields)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err["loc"][1:]) or "kind"
        raise ConfigError(CLI, f"--format {where}", err["msg"]) from None
    found = plain_number_problem(fields, fmt.model_dump()) or \
        bounds_problem(fmt.model_dump())
    if found:
        loc, expected = found
        where = loc if isinstance(loc, str) else ".".join(str(x) for x in loc)
        raise ConfigError(CLI, f"--format {where}", expected)
    return fmt


def parse_placement(items: list[str]) -> Any:
    from qmcsim.config.schema import PlacementConfig
    from qmcsim.errors import ConfigError

    place: dict[str, str] = {"codes": "dram", "kv_cache": "dram", "activations": "dram"}
    for item in items:
        key, sep, memory = item.partition("=")
        if not sep or key not in PLACEMENT_KEYS or not memory:
            raise ConfigError(CLI, "--place", f"KEY=MEMORY with KEY one of "
                              f"{', '.join(PLACEMENT_KEYS)} expected, got {item!r}")
        place[key] = memory
    return PlacementConfig.model_validate(place)


def run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from qmcsim.config.checks import bounds_problem
    from qmcsim.config.loader import load_compute
    from qmcsim.config.schema import WorkloadConfig
    from qmcsim.errors import ConfigError
    from qmcsim.models.load import load_model
    from qmcsim.results import check_output_file
    from qmcsim.trace.standalone import complete_placement, standalone_builder
    from qmcsim.trace.store import write_trace

    options = {"prompt_tokens": "--prompt", "generate_tokens": "--generate", "batch": "--batch",
               "prefill_chunk_tokens": "--prefill-chunk"}
    try:
        workload = WorkloadConfig(prompt_tokens=args.prompt, generate_tokens=args.generate,
                                  batch=args.batch, prefill_chunk_tokens=args.prefill_chunk)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(CLI, options.get(str(err["loc"][0]), str(err["loc"][0])),
                          err["msg"]) from None
    found = bounds_problem(workload.model_dump())
    if found:
        raise ConfigError(CLI, options.get(found[0], found[0]), found[1])
    fmt = parse_format(args.format)
    placement = complete_placement(fmt, parse_placement(args.place), args.accounting)
    if args.onchip_buffer_bytes is not None:
        if not 0 <= args.onchip_buffer_bytes <= 2**50:
            raise ConfigError(CLI, "--onchip-buffer-bytes",
                              f">= 0 and <= 2**50 expected, got {args.onchip_buffer_bytes}")
        buffer_bytes = args.onchip_buffer_bytes
    else:
        buffer_bytes = load_compute(args.compute, file=CLI,
                                    field_path="--compute").onchip_buffer_bytes
    out: Path = args.output
    check_output_file(out, "-o")
    model = load_model(args.model, file=CLI, field_path="--model", base_dir=Path.cwd())

    builder = standalone_builder(model, workload, fmt, placement=placement,
                                 accounting=args.accounting, onchip_buffer_bytes=buffer_bytes)
    metadata = {"model": model.name, "model_source": model.source,
                "workload": workload.model_dump(), "format": fmt.model_dump(mode="json"),
                "accounting": args.accounting, "onchip_buffer_bytes": buffer_bytes,
                "placement": placement.model_dump(exclude_none=True)}
    summary = write_trace(out, builder.steps(), csv_format=args.csv, metadata=metadata)
    print(f"{summary.path}: {summary.file_format}, {summary.steps} steps, {summary.rows} rows, "
          f"{summary.nbytes:,} bytes ({model.name}, prompt {workload.prompt_tokens}, generate "
          f"{workload.generate_tokens}, batch {workload.batch}, format {fmt.kind})")
    return 0
