"""The accelerator: peak rates (the ideal roofline) and, in calibrated presets, a kernel model
and compute energy (docs/accelerator.md)."""

from qmcsim.compute.params import (
    ComputeEnergy,
    ComputeParams,
    KernelCounts,
    KernelModel,
    StreamEfficiency,
    compute_ns,
)

__all__ = ["ComputeEnergy", "ComputeParams", "KernelCounts", "KernelModel",
           "StreamEfficiency", "compute_ns"]
