"""Model shapes: the stored tensors and per-layer structure of a decoder-only language model."""

from qmcsim.models.shape import Attention, Layer, ModelShape, Operator, Ssm, Tensor

__all__ = ["Attention", "Layer", "ModelShape", "Operator", "Ssm", "Tensor"]
