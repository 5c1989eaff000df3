"""The calibrated accelerator model as pure functions of one trace operator.

An operator's kernel class is derived from fields every trace already has (operator name,
weight tensor classes, bytes, flops), so stored traces need no new column. Its time is

    max(memory stream / stream efficiency of its class, arithmetic) + launches x launch gap

where the memory stream time comes from the simulated memories, and arithmetic is the
dequantisation instructions on the CUDA cores plus the multiply-accumulates on the tensor
cores (GEMM, tile-quantised) or the CUDA cores (GEMV), whichever is faster.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from qmcsim.compute.params import ComputeEnergy, ComputeParams, KernelCounts, KernelModel
from qmcsim.errors import InternalError
from qmcsim.models.shape import MATRIX_CLASSES
from qmcsim.trace.generate import OpStep

KernelClass = Literal["gemv", "gemv_dequant", "gemm", "attention", "embedding", "lm_head",
                      "vector"]
FP16_BITS = 16.0


@dataclass(frozen=True, slots=True)
class OpWork:
    """What one operator asks of the accelerator."""

    kernel_class: KernelClass
    launches: int
    rows: int            # tokens x sequences the operator processes (the GEMM's M)
    flops: float
    weights: int         # matrix weight elements streamed (dequantisation work)
    weight_bits: float   # stored bits per matrix weight, metadata included (16: FP16)
    moved_bytes: int     # every byte the operator reads or writes


def op_work(op: OpStep, tokens: int, batch: int, counts: KernelCounts) -> OpWork:
    """Classify `op` of a step with `tokens` new tokens per sequence."""
    moved = sum(a.nbytes for a in op.accesses)
    rows = tokens * batch
    if op.operator == "embed":
        return OpWork(kernel_class="embedding", launches=counts.gather, rows=rows,
                      flops=op.flops, weights=0, weight_bits=FP16_BITS, moved_bytes=moved)
    if op.operator == "attn_core":
        return OpWork(kernel_class="attention", launches=counts.attention, rows=rows,
                      flops=op.flops, weights=0, weight_bits=FP16_BITS, moved_bytes=moved)
    matrix = any(a.traffic_class == "weights" and a.tensor_class in MATRIX_CLASSES
                 for a in op.accesses)
    if op.operator == "ssm_scan" or not matrix:
        launches = counts.ssm_scan if op.operator == "ssm_scan" else counts.vector
        return OpWork(kernel_class="vector", launches=launches, rows=rows, flops=op.flops,
                      weights=0, weight_bits=FP16_BITS, moved_bytes=moved)
    head = op.operator == "lm_head"
    if head:
        rows = batch   # logits of the last position only
    weights = round(op.flops / (2 * rows))
    weight_bytes = sum(a.nbytes for a in op.accesses if a.traffic_class == "weights")
    bits = 8 * weight_bytes / weights if weights else FP16_BITS
    cls: KernelClass = "lm_head" if head else "gemm" if rows > 1 else \
        "gemv" if bits >= FP16_BITS else "gemv_dequant"
    return OpWork(kernel_class=cls, launches=counts.matmul, rows=rows, flops=op.flops,
                  weights=weights, weight_bits=bits, moved_bytes=moved)


def dequant_instructions(work: OpWork, k: KernelModel, tile_rows: int | None = None) -> float:
    """CUDA-core instructions to turn stored weights into FP16: every weight once per tile of
    `tile_rows` rows (default gemm_tile_rows; a GEMM's CTA rows reuse one dequantised tile);
    none for FP16 or off-GPU units."""
    if not k.dequant_on_gpu or work.weight_bits >= FP16_BITS or work.weights == 0:
        return 0.0
    rows = tile_rows if tile_rows is not None else k.gemm_tile_rows
    return work.weights * k.dequant_instructions_per_weight * math.ceil(work.rows / rows)


def tile_utilisation(rows: int, tile_rows: int) -> float:
    """Useful fraction of the tensor-core tiles a GEMM of `rows` rows fills."""
    return rows / (math.ceil(rows / tile_rows) * tile_rows)


def _arithmetic_ns(work: OpWork, k: KernelModel, peak_tflops_fp16: float,
                   tile_rows: int) -> float:
    lanes_per_ns = k.cuda_core_lanes * k.clock_ghz
    tensor = peak_tflops_fp16 * 1e3 * k.gemm_peak_fraction * \
        tile_utilisation(max(work.rows, 1), tile_rows)
    rate = max(tensor, k.cuda_core_fp16_tflops * 1e3)
    return dequant_instructions(work, k, tile_rows) / lanes_per_ns + work.flops / rate


def _fastest_tile(work: OpWork, k: KernelModel, choices: tuple[int, ...],
                  peak_tflops_fp16: float) -> int:
    """The CTA tile height the operator's GEMM runs on: the fastest of the tiles the runtime
    offers (a smaller tile wastes fewer rows but dequantises every weight once per tile of
    rows); ties go to the larger tile."""
    if len(choices) == 1:
        return choices[0]
    return min(choices, key=lambda t: (_arithmetic_ns(work, k, peak_tflops_fp16, t), -t))


def arithmetic_ns(work: OpWork, params: ComputeParams) -> float:
    """Dequantisation and multiply-accumulates; both issue from the same SM schedulers, so
    they add. MACs run on the tensor cores (tile-quantised) or the CUDA cores, whichever is
    faster for this many rows; a runtime that offers several tile heights uses the fastest."""
    k = params.kernels
    if k is None:
        raise InternalError(f"compute preset {params.name!r}: the kernel model needs "
                            "calibrated kernels")
    tile = _fastest_tile(work, k, k.tile_rows_choices(), params.peak_tflops_fp16)
    return _arithmetic_ns(work, k, params.peak_tflops_fp16, tile)


def op_time_ns(work: OpWork, stream_ns: float, params: ComputeParams) -> float:
    """The operator's time: memory and arithmetic overlap inside a kernel (the slower one
    decides), kernels run one after another with a launch/sync gap each."""
    k = params.kernels
    if k is None:
        raise InternalError(f"compute preset {params.name!r}: the kernel model needs "
                            "calibrated kernels")
    memory = stream_ns / getattr(k.stream_efficiency, work.kernel_class)
    return max(memory, arithmetic_ns(work, params)) + work.launches * k.launch_overhead_ns


def op_energy_pj(work: OpWork, params: ComputeParams) -> float:
    """Arithmetic, dequantisation instructions, and on-chip delivery of every byte moved."""
    e: ComputeEnergy | None = params.energy
    if e is None:
        return 0.0
    k = params.kernels
    dequant = 0.0 if k is None else dequant_instructions(
        work, k, _fastest_tile(work, k, k.tile_rows_choices(), params.peak_tflops_fp16))
    return work.flops * e.fp16_pj_per_flop + dequant * e.instruction_pj + \
        work.moved_bytes * e.onchip_pj_per_byte
