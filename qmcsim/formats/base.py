"""Storage layouts. A format turns one tensor into stored components with exact bit counts.

Component names are the placement keys of a system: `codes` (dense or inlier codes),
`scales` (scales and zero points), `outlier_values`, `outlier_indices`.

Analytic and measured layouts. `quantized_layout(tensor)` is a pure function of the shape; a
format whose stored sizes depend on the weights (an outlier rule such as SqueezeLLM's IQR, SpQR's
error criterion, QMC's relative indices) also overrides `measured_layout(tensor, weights)`,
which counts what it would store for those actual weights. `layout(..., weights=...)` uses the
measured layout when weights are given, the analytic one (with the format's nominal outlier
share) otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from qmcsim.errors import InternalError
from qmcsim.formats.quantize import Quantized

from qmcsim.models.shape import Tensor, TensorClass

ComponentName = Literal["codes", "scales", "outlier_values", "outlier_indices"]
COMPONENT_NAMES: tuple[str, ...] = ("codes", "scales", "outlier_values", "outlier_indices")
Accounting = Literal["paper", "full"]
FP16_BITS = 16


@dataclass(frozen=True, kw_only=True)
class Component:
    """One stored part of one tensor: `elements` items of `element_bits` each."""

    name: ComponentName
    elements: int
    element_bits: int
    metadata: bool = False  # scales, indices: left out by the QMC study's accounting

    @property
    def bits(self) -> int:
        return self.elements * self.element_bits

    @property
    def nbytes(self) -> int:
        return math.ceil(self.bits / 8)


def fp16_layout(tensor: Tensor) -> tuple[Component, ...]:
    return (Component(name="codes", elements=tensor.numel, element_bits=FP16_BITS),)


class FormatConfig(BaseModel):
    """Base of every format's config; subclasses set `kind` and implement `quantized_layout`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str
    exclude: tuple[TensorClass, ...] = Field(
        default=(), description="tensor classes kept in FP16 (e.g. embeddings)")

    compute_precision: ClassVar[str] = "fp16"

    def layout(self, tensor: Tensor, accounting: Accounting,
               weights: np.ndarray | None = None) -> tuple[Component, ...]:
        """Stored components of `tensor`. Paper accounting quantizes every weight alike and
        drops metadata; full accounting keeps norms/biases in FP16 and counts metadata.
        With `weights` (shape rows x cols), data-dependent sizes are measured on them."""
        if tensor.tensor_class in self.exclude:
            return fp16_layout(tensor)
        if accounting == "full" and not tensor.quantizable:
            return fp16_layout(tensor)
        if weights is None:
            parts = self.quantized_layout(tensor)
        else:
            parts = self.measured_layout(tensor, as_matrix(weights, tensor))
        if accounting == "paper":
            return tuple(c for c in parts if not c.metadata)
        return parts

    def quantized_layout(self, tensor: Tensor) -> tuple[Component, ...]:
        raise NotImplementedError

    def measured_layout(self, tensor: Tensor, weights: np.ndarray) -> tuple[Component, ...]:
        """Layout for these actual weights; formats with data-independent sizes keep the
        analytic one."""
        return self.quantized_layout(tensor)

    @property
    def data_dependent(self) -> bool:
        """True if `measured_layout` can differ from `quantized_layout`."""
        return type(self).measured_layout is not FormatConfig.measured_layout

    def quantize(self, weights: np.ndarray) -> Quantized:
        """The stored form of a (rows, cols) weight matrix; `.dequantize()` rebuilds it."""
        raise NotImplementedError(f"format {self.kind!r} has no numerical quantizer yet")


def as_matrix(weights: np.ndarray, tensor: Tensor) -> np.ndarray:
    """`weights` as a float32 (rows, cols) matrix; a vector is a column."""
    w = np.asarray(weights, dtype=np.float32)
    if w.size != tensor.numel:
        raise InternalError(f"tensor {tensor.name!r}: {tensor.rows} x {tensor.cols} weights "
                            f"expected, got shape {w.shape}")
    return w.reshape(tensor.rows, tensor.cols)


def n_groups(tensor: Tensor, group_size: int | None) -> int:
    """Groups of `group_size` consecutive input elements (the last one may be partial) over
    all rows; None = one group per row."""
    if group_size is None:
        return tensor.rows
    return tensor.rows * math.ceil(tensor.cols / group_size)


_FORMATS: dict[str, type[FormatConfig]] = {}


def register_format(cls: type[FormatConfig]) -> type[FormatConfig]:
    kind = cls.model_fields["kind"].default
    if not isinstance(kind, str) or not kind:
        raise InternalError(f"{cls.__name__} must give 'kind' a string default")
    _FORMATS[kind] = cls
    return cls


def format_registry() -> dict[str, type[FormatConfig]]:
    import importlib
    import pkgutil

    import qmcsim.formats as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        importlib.import_module(f"{pkg.__name__}.{info.name}")
    return dict(_FORMATS)


def bits_per_weight(fmt: FormatConfig, tensors: tuple[Tensor, ...] | list[Tensor],
                    accounting: Accounting) -> float:
    """Analytic oracle: stored bits over all tensors divided by their element count."""
    total = sum(c.bits for t in tensors for c in fmt.layout(t, accounting))
    return total / sum(t.numel for t in tensors)


def component_bits(parts: tuple[Component, ...] | list[Component]) -> dict[str, int]:
    """Bits per component name (a name may appear twice, e.g. CSR columns and row pointers)."""
    out = dict.fromkeys(COMPONENT_NAMES, 0)
    for c in parts:
        out[c.name] += c.bits
    return out
