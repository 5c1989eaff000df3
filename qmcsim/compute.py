"""Roofline model of the accelerator: an operator takes max(memory time, flops / peak)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ComputeParams(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    description: str = ""
    sources: dict[str, str] = Field(default_factory=dict)
    peak_tflops_fp16: float = Field(gt=0, description="dense FP16 tensor throughput")
    peak_tops_int8: float = Field(gt=0, description="dense INT8 tensor throughput")
    utilization: float = Field(gt=0, le=1, description="achieved fraction of peak")
    onchip_buffer_bytes: int = Field(gt=0, description="activations up to this stay on chip")

    def peak_flops_per_ns(self, precision: str) -> float:
        tera = {"fp16": self.peak_tflops_fp16, "int8": self.peak_tops_int8}[precision]
        return tera * 1e3 * self.utilization  # 1 TFLOP/s = 1e3 flop/ns


def compute_ns(flops: float, params: ComputeParams, precision: str = "fp16") -> float:
    """Analytic oracle: time to do `flops` at the achieved peak."""
    return flops / params.peak_flops_per_ns(precision)
