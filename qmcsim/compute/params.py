"""The accelerator's preset record: peak rates (the roofline), and optionally the kernel model
and the compute energy that make it a calibrated accelerator (docs/accelerator.md)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class StreamEfficiency(BaseModel):
    """Fraction of the bandwidth the memory model delivers that one kernel class sustains.

    The memory model already loses refresh and row misses; what is left here is the kernel's
    own shortfall (too few bytes in flight per SM, tail effects, reductions)."""

    model_config = _FROZEN

    gemv: float = Field(gt=0, le=1, description="FP16 weight GEMV (decode matmuls)")
    gemv_dequant: float = Field(gt=0, le=1, description="weight-only quantized GEMV")
    gemm: float = Field(gt=0, le=1, description="prefill GEMM (many tokens)")
    attention: float = Field(gt=0, le=1, description="attention over the KV cache")
    embedding: float = Field(gt=0, le=1, description="embedding-row gather")
    lm_head: float = Field(gt=0, le=1, description="LM head GEMV over the vocabulary")
    vector: float = Field(gt=0, le=1, description="norms, residual adds, SSM scans")


class KernelCounts(BaseModel):
    """CUDA kernels launched per qmcsim operator (a llama layer: 2+1+3+1+2+1+1 = 11)."""

    model_config = _FROZEN

    matmul: int = Field(ge=0)
    attention: int = Field(ge=0, description="RoPE, KV append, attention")
    vector: int = Field(ge=0, description="residual add + norm")
    gather: int = Field(ge=0)
    ssm_scan: int = Field(ge=0)


class KernelModel(BaseModel):
    """What the roofline leaves out: per-kernel launch/sync gaps, the achieved fraction of
    the memory stream per kernel class, dequantisation arithmetic on the CUDA cores, and
    tensor-core GEMM efficiency by shape (tile quantisation)."""

    model_config = _FROZEN

    launch_overhead_ns: float = Field(ge=0, description="launch + sync gap per kernel")
    launches: KernelCounts
    stream_efficiency: StreamEfficiency
    cuda_core_lanes: int = Field(gt=0, description="FP32 lanes (CUDA cores) of the GPU")
    clock_ghz: float = Field(gt=0, description="GPU clock")
    cuda_core_fp16_tflops: float = Field(gt=0, description="non-tensor FP16 rate (HFMA2)")
    dequant_instructions_per_weight: float = Field(
        ge=0, description="CUDA-core instructions to unpack, convert and scale one weight")
    dequant_on_gpu: bool = Field(
        description="weight-only formats dequantise on the CUDA cores (false: a unit in the "
                    "weight path delivers FP16 at line rate)")
    gemm_peak_fraction: float = Field(gt=0, le=1, description="best tensor-core GEMM / peak")
    gemm_tile_rows: int = Field(gt=0, description="CTA tile height in tokens (M)")
    gemm_small_tile_rows: tuple[int, ...] | None = Field(
        None, description="smaller CTA tile heights (M, tokens) the runtime's GEMM library "
                          "also offers; a GEMM runs on whichever tile is fastest for its rows "
                          "(absent: gemm_tile_rows only)")

    @field_validator("gemm_small_tile_rows")
    @classmethod
    def _positive_tiles(cls, v: tuple[int, ...] | None) -> tuple[int, ...] | None:
        if v is not None and (not v or min(v) <= 0):
            raise ValueError("a non-empty list of tile heights > 0 expected")
        return v

    def tile_rows_choices(self) -> tuple[int, ...]:
        """Every CTA tile height a GEMM may run on, the default first."""
        return (self.gemm_tile_rows, *(self.gemm_small_tile_rows or ()))


class ComputeEnergy(BaseModel):
    """Dynamic accelerator energy: arithmetic, dequantisation, and on-chip operand delivery."""

    model_config = _FROZEN

    fp16_pj_per_flop: float = Field(ge=0, description="FP16 multiply-accumulate / 2")
    instruction_pj: float = Field(ge=0, description="one 32-bit integer/logic instruction")
    onchip_pj_per_byte: float = Field(ge=0, description="L2 + register delivery per byte")


class ComputeParams(BaseModel):
    model_config = _FROZEN

    name: str
    description: str = ""
    sources: dict[str, str] = Field(default_factory=dict)
    peak_tflops_fp16: float = Field(gt=0, description="dense FP16 tensor throughput")
    peak_tops_int8: float = Field(gt=0, description="dense INT8 tensor throughput")
    utilization: float = Field(gt=0, le=1, description="achieved fraction of peak")
    onchip_buffer_bytes: int = Field(gt=0, description="activations up to this stay on chip")
    kernels: KernelModel | None = Field(
        None, description="calibrated kernel model; absent: the ideal roofline")
    energy: ComputeEnergy | None = Field(None, description="compute energy; absent: none")

    def peak_flops_per_ns(self, precision: str) -> float:
        tera = {"fp16": self.peak_tflops_fp16, "int8": self.peak_tops_int8}[precision]
        return tera * 1e3 * self.utilization  # 1 TFLOP/s = 1e3 flop/ns


def compute_ns(flops: float, params: ComputeParams, precision: str = "fp16") -> float:
    """Analytic oracle: time to do `flops` at the achieved peak."""
    return flops / params.peak_flops_per_ns(precision)
