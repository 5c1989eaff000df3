"""Layouts of a whole model measured on its weights (real or synthetic).

One pass over the model's tensors: each tensor's weights are produced once and measured by
every format that needs them (`FormatConfig.data_dependent`); other formats, and tensors the
weight source does not hold, keep the analytic layout. The result is a mapping tensor name ->
components per format, which placement uses instead of the analytic layouts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from qmcsim.formats.base import Accounting, Component, FormatConfig
from qmcsim.models.shape import ModelShape, Tensor
from qmcsim.weights.source import WeightSource

Layouts = dict[str, tuple[Component, ...]]


@dataclass(frozen=True, kw_only=True)
class MeasuredModel:
    layouts: tuple[Layouts, ...]     # one per format, in the order given
    measured_tensors: int            # tensors whose weights the source held
    measured_weights: int            # their element count
    source: str


def _needs_weights(fmt: FormatConfig, tensor: Tensor, accounting: Accounting) -> bool:
    if not fmt.data_dependent or tensor.tensor_class in fmt.exclude:
        return False
    return accounting == "paper" or tensor.quantizable


def measure_model(formats: Sequence[FormatConfig], model: ModelShape, source: WeightSource,
                  accounting: Accounting,
                  on_tensor: Callable[[Tensor], None] | None = None) -> MeasuredModel:
    layouts: list[Layouts] = [{} for _ in formats]
    n_tensors = n_weights = 0
    for tensor in model.tensors:
        need = [_needs_weights(f, tensor, accounting) for f in formats]
        weights = source.get(tensor) if any(need) else None
        if weights is not None:
            n_tensors += 1
            n_weights += tensor.numel
        for i, fmt in enumerate(formats):
            layouts[i][tensor.name] = fmt.layout(tensor, accounting,
                                                 weights if need[i] else None)
        if on_tensor is not None:
            on_tensor(tensor)
    return MeasuredModel(layouts=tuple(layouts), measured_tensors=n_tensors,
                         measured_weights=n_weights, source=source.description)
