"""The run config: frozen, keyword-only records, unknown keys rejected, units in field names."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator

from qmcsim.formats.base import FormatConfig, format_registry


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class WorkloadConfig(Frozen):
    prompt_tokens: int = Field(ge=1, description="prompt length processed in prefill")
    generate_tokens: int = Field(ge=1, description="tokens decoded after the prompt")
    batch: int = Field(1, ge=1, description="sequences decoded together (share weight reads)")
    prefill_chunk_tokens: int | None = Field(
        None, ge=1, description="prefill the prompt (meta tokens included) in chunks of this "
        "many tokens; default: the whole prompt in one step")
    decode_sampling: Literal["exhaustive", "stride"] = Field(
        "stride", description="exhaustive: simulate every decode token; stride: simulate every "
        "decode_stride-th decode token (and the first and last) and interpolate the ones "
        "between (engine/sampling.py; error vs exhaustive in BENCHMARKS.md)")
    decode_stride: int | Literal["auto"] = Field(
        "auto", description="decode tokens per simulated one with decode_sampling: stride; "
        "auto: about 5 simulated tokens per run")

    @field_validator("decode_stride")
    @classmethod
    def _stride_positive(cls, v: int | str) -> int | str:
        if isinstance(v, int) and v < 1:
            raise ValueError("must be an integer >= 1 or 'auto'")
        return v


class MemoryConfig(Frozen):
    preset: str = Field(description="device preset name in hw_configs/devices/")
    count: int | Literal["auto"] = Field(
        1, description="channels / arrays / banks of that device (an integer >= 1), or 'auto': "
        "the fewest units that hold what the placement puts there")

    @field_validator("count")
    @classmethod
    def _positive(cls, v: int | str) -> int | str:
        if isinstance(v, int) and v < 1:
            raise ValueError("must be an integer >= 1 or 'auto'")
        return v
    params: dict[str, Any] = Field(default_factory=dict,
                                   description="overrides of the preset's fields")


class PlacementConfig(Frozen):
    """Which memory holds each stored component and each dynamic traffic class."""

    codes: str = Field(description="dense codes (FP16 weights, or QMC inliers)")
    scales: str | None = None
    outlier_values: str | None = None
    outlier_indices: str | None = None
    kv_cache: str
    activations: str
    embeddings: str | None = Field(None, description="all components of the embedding table")
    lm_head: str | None = Field(None, description="all components of an untied LM head")
    weights_copy: str | None = Field(None, description="non-volatile copy loaded at cold start")


if TYPE_CHECKING:
    FormatUnion = FormatConfig
else:
    FormatUnion = Annotated[Union[tuple(format_registry().values())],
                            Field(discriminator="kind")]


class SystemConfig(Frozen):
    name: str = Field(min_length=1)
    format: FormatUnion
    memories: dict[str, MemoryConfig] = Field(min_length=1)
    placement: PlacementConfig
    compute: str | None = Field(None, description="compute preset; default: the run's")
    packing: Literal["packed", "per_cell"] = Field(
        "packed", description="packed: codes bit-packed across cells (3-bit codes in 2-bit "
        "cells take 1.5 cells); per_cell: one code per cell (ceil(code bits / cell bits))")
    onchip_buffer: str | None = Field(
        None, description="memory (e.g. SRAM banks) that stages every byte between the other "
        "memories and the compute: written and read once per byte streamed")
    merge_sync_ns: float = Field(
        0.0, ge=0, description="dual-clock FIFO crossing when one operator's weights come "
        "from several memories (QMC Eq. 3: 2-4 cycles)")


class RunConfig(Frozen):
    name: str = "run"
    model: str = Field(description="model preset name or path to a Hugging Face config.json")
    workload: WorkloadConfig
    accounting: Literal["paper", "full"] = "full"
    seed: int = 0
    weights: str | None = Field(
        None, description="weights that data-dependent formats are measured on (outlier "
        "counts, index sizes): 'synthetic' (seeded by `seed`), a .gguf / .safetensors file or "
        "a Hugging Face model folder; default: analytic layouts at the nominal shares")
    compute: str = Field(description="compute preset in hw_configs/compute/")
    baseline: str | None = Field(None, description="system the ratios divide by; "
                                 "default: the first FP16 system")
    systems: list[SystemConfig] = Field(min_length=1)
    trace: str | None = Field(
        None, description="stored trace (traces/README.md schema, .parquet or .csv; relative to "
        "this file) replayed by every system instead of generating one; its memory names must "
        "be memories of every system")
