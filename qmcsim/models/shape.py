"""Typed, frozen description of a model: what is stored, and which operator reads what.

Element counts, not bytes: bytes depend on the storage format, which is applied later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

TensorClass = Literal["attention", "mlp", "ssm", "embeddings", "lm_head", "norm", "bias", "meta"]
MATRIX_CLASSES: frozenset[str] = frozenset({"attention", "mlp", "ssm", "embeddings", "lm_head"})
OperatorKind = Literal["matmul", "gather", "attention", "ssm_scan", "vector"]


@dataclass(frozen=True, kw_only=True)
class Tensor:
    """One stored parameter tensor: `rows` x `cols` elements (cols = 1 for a vector)."""

    name: str
    tensor_class: TensorClass
    layer: int | None
    rows: int
    cols: int

    def __post_init__(self) -> None:
        if self.rows < 1 or self.cols < 1:
            raise ValueError(f"tensor {self.name!r}: rows and cols must be >= 1, "
                             f"got {self.rows} x {self.cols}")

    @property
    def numel(self) -> int:
        return self.rows * self.cols

    @property
    def quantizable(self) -> bool:
        """Weight matrices are quantized; norms, biases, small SSM vectors stay in FP16."""
        return self.tensor_class in MATRIX_CLASSES and self.rows > 1 and self.cols > 1


@dataclass(frozen=True, kw_only=True)
class Operator:
    """One step of a layer's forward pass, per token: reads `weights`, moves activations.

    `act_in` / `act_out` are activation elements per token; `flops_per_token` excludes the
    context-dependent attention work, which the trace adds from the Attention record.
    """

    name: str
    kind: OperatorKind
    weights: tuple[Tensor, ...] = ()
    act_in: int = 0
    act_out: int = 0
    flops_per_token: int = 0


@dataclass(frozen=True, kw_only=True)
class Attention:
    num_heads: int
    num_kv_heads: int
    head_dim: int
    v_head_dim: int
    window: int | None = None          # sliding-window length in tokens; None = global
    kv_source_layer: int | None = None  # layer whose KV cache this one reads (KV sharing)

    def kv_elements_per_token(self) -> int:
        """K and V elements one token adds to this layer's cache."""
        return self.num_kv_heads * (self.head_dim + self.v_head_dim)


@dataclass(frozen=True, kw_only=True)
class Ssm:
    d_inner: int
    d_state: int
    d_conv: int

    def state_elements(self) -> int:
        """Recurrent state carried between tokens: SSM state plus the conv window."""
        return self.d_inner * self.d_state + self.d_inner * (self.d_conv - 1)


@dataclass(frozen=True, kw_only=True)
class Layer:
    index: int
    operators: tuple[Operator, ...]
    attention: Attention | None = None
    ssm: Ssm | None = None

    @property
    def owns_kv(self) -> bool:
        a = self.attention
        return a is not None and (a.kv_source_layer is None or a.kv_source_layer == self.index)


@dataclass(frozen=True, kw_only=True)
class ModelShape:
    name: str
    family: str
    source: str
    hidden_size: int
    vocab_size: int
    tied_embeddings: bool
    embed: Operator
    layers: tuple[Layer, ...]
    head: tuple[Operator, ...]       # final norm and LM head
    extra_tensors: tuple[Tensor, ...] = ()   # stored but read by no per-token operator
    meta_tokens: int = 0             # learned tokens prepended to every prompt (Hymba)
    published_parameters: int | None = None
    tensors: tuple[Tensor, ...] = field(init=False)

    def __post_init__(self) -> None:
        seen: dict[str, Tensor] = {}
        ops = [self.embed, *(op for layer in self.layers for op in layer.operators), *self.head]
        for tensor in [*(w for op in ops for w in op.weights), *self.extra_tensors]:
            if tensor.name in seen and seen[tensor.name] != tensor:
                raise ValueError(f"two different tensors named {tensor.name!r}")
            seen.setdefault(tensor.name, tensor)
        object.__setattr__(self, "tensors", tuple(seen.values()))

    @property
    def num_parameters(self) -> int:
        return sum(t.numel for t in self.tensors)

    @property
    def num_layers(self) -> int:
        return len(self.layers)
