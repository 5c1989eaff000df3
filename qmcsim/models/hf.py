"""Build a ModelShape from a Hugging Face `config.json` mapping.

One builder per architecture family; each lists the stored tensors exactly as the family's
transformers modeling code declares them, grouped into the operators that read them per token.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from qmcsim.models.shape import Attention, Layer, ModelShape, Operator, Tensor, TensorClass


class UnsupportedModel(ValueError):
    """The config names an architecture or a field value no builder maps; `field` says which."""

    def __init__(self, field: str, expected: str) -> None:
        self.field, self.expected = field, expected
        super().__init__(f"{field}: {expected}")


def _get(cfg: Mapping[str, Any], key: str, default: Any = ...) -> Any:
    if key in cfg and cfg[key] is not None:
        return cfg[key]
    if default is ...:
        raise UnsupportedModel(key, "required field missing from config.json")
    return default


def _int(cfg: Mapping[str, Any], key: str, default: Any = ...) -> int:
    value = _get(cfg, key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise UnsupportedModel(key, f"expected a non-negative integer, got {value!r}")
    return value


class Dims(NamedTuple):
    """The config fields every decoder family shares."""

    hidden: int
    heads: int
    kv: int
    hd: int
    inter: int
    vocab: int
    n_layers: int


def decoder_dims(cfg: Mapping[str, Any], *, head_dim_field: bool = True) -> Dims:
    """`head_dim_field`: the family reads an explicit `head_dim` (else hidden / heads)."""
    hidden = _int(cfg, "hidden_size")
    heads = _int(cfg, "num_attention_heads")
    if heads == 0:
        raise UnsupportedModel("num_attention_heads", "a positive integer expected, got 0")
    hd = _int(cfg, "head_dim", hidden // heads) if head_dim_field else hidden // heads
    return Dims(hidden=hidden, heads=heads, kv=_int(cfg, "num_key_value_heads", heads), hd=hd,
                inter=_int(cfg, "intermediate_size"), vocab=_int(cfg, "vocab_size"),
                n_layers=_int(cfg, "num_hidden_layers"))


def matrix(name: str, cls: TensorClass, layer: int | None, rows: int, cols: int) -> Tensor:
    return Tensor(name=name, tensor_class=cls, layer=layer, rows=rows, cols=cols)


def qkv_matrices(prefix: str, layer: int, heads: int, kv: int, hd: int, hidden: int
                 ) -> list[Tensor]:
    """Separate q, k and v projections (k and v over the KV heads: grouped-query attention)."""
    return [matrix(prefix + "q_proj", "attention", layer, heads * hd, hidden),
            matrix(prefix + "k_proj", "attention", layer, kv * hd, hidden),
            matrix(prefix + "v_proj", "attention", layer, kv * hd, hidden)]


def vector(name: str, cls: TensorClass, layer: int | None, size: int) -> Tensor:
    return Tensor(name=name, tensor_class=cls, layer=layer, rows=size, cols=1)


def matmul(name: str, weights: list[Tensor], act_in: int) -> Operator:
    """A linear operator: 2 flops per multiply-accumulate of every matrix it reads."""
    macs = sum(w.numel for w in weights if w.cols > 1)
    act_out = sum(w.rows for w in weights if w.cols > 1)
    return Operator(name=name, kind="matmul", weights=tuple(weights), act_in=act_in,
                    act_out=act_out, flops_per_token=2 * macs)


def norm_op(name: str, weights: list[Tensor], size: int) -> Operator:
    return Operator(name=name, kind="vector", weights=tuple(weights), act_in=size, act_out=size,
                    flops_per_token=4 * size)


def attention_op(attn: Attention) -> Operator:
    q = attn.num_heads * attn.head_dim
    return Operator(name="attn_core", kind="attention", act_in=q,
                    act_out=attn.num_heads * attn.v_head_dim)


def embedding_parts(cfg: Mapping[str, Any], hidden: int, vocab: int,
                    embed_dim: int | None = None) -> tuple[Operator, Tensor]:
    table = matrix("embed_tokens", "embeddings", None, vocab, embed_dim or hidden)
    op = Operator(name="embed", kind="gather", weights=(table,), act_out=embed_dim or hidden)
    return op, table


def head_ops(cfg: Mapping[str, Any], hidden: int, vocab: int, table: Tensor,
             norm_weights: list[Tensor], lm_bias: bool = False) -> tuple[Operator, ...]:
    tied = bool(_get(cfg, "tie_word_embeddings", True))
    lm = table if tied else matrix("lm_head", "lm_head", None, vocab, hidden)
    weights = [lm] + ([vector("lm_head.bias", "bias", None, vocab)] if lm_bias else [])
    return (norm_op("final_norm", norm_weights, hidden), matmul("lm_head", weights, hidden))


# --- Llama, Qwen2/2.5, Qwen3, Mistral, SmolLM, MobileLLM, TinyLlama ------------------------

def build_llama_like(cfg: Mapping[str, Any]) -> dict[str, Any]:
    hidden, heads, kv, hd, inter, vocab, n_layers = decoder_dims(cfg)
    model_type = _get(cfg, "model_type", "llama")
    qkv_bias = bool(_get(cfg, "attention_bias", model_type == "qwen2"))
    o_bias = bool(_get(cfg, "attention_bias", False)) and model_type != "qwen2"
    mlp_bias = bool(_get(cfg, "mlp_bias", False))
    qk_norm = model_type == "qwen3"
    window = _get(cfg, "sliding_window", None) if _get(cfg, "use_sliding_window", False) else None
    embed, table = embedding_parts(cfg, hidden, vocab)
    layers = []
    for i in range(n_layers):
        p = f"layers.{i}."
        qkv = qkv_matrices(p, i, heads, kv, hd, hidden)
        if qkv_bias:
            qkv += [vector(p + "q_proj.bias", "bias", i, heads * hd),
                    vector(p + "k_proj.bias", "bias", i, kv * hd),
                    vector(p + "v_proj.bias", "bias", i, kv * hd)]
        if qk_norm:
            qkv += [vector(p + "q_norm", "norm", i, hd), vector(p + "k_norm", "norm", i, hd)]
        o = [matrix(p + "o_proj", "attention", i, hidden, heads * hd)]
        if o_bias:
            o.append(vector(p + "o_proj.bias", "bias", i, hidden))
        up = [matrix(p + "gate_proj", "mlp", i, inter, hidden),
              matrix(p + "up_proj", "mlp", i, inter, hidden)]
        down = [matrix(p + "down_proj", "mlp", i, hidden, inter)]
        if mlp_bias:
            up += [vector(p + "gate_proj.bias", "bias", i, inter),
                   vector(p + "up_proj.bias", "bias", i, inter)]
            down.append(vector(p + "down_proj.bias", "bias", i, hidden))
        attn = Attention(num_heads=heads, num_kv_heads=kv, head_dim=hd, v_head_dim=hd,
                         window=window)
        layers.append(Layer(index=i, attention=attn, operators=(
            norm_op("input_norm", [vector(p + "input_layernorm", "norm", i, hidden)], hidden),
            matmul("qkv_proj", qkv, hidden),
            attention_op(attn),
            matmul("o_proj", o, heads * hd),
            norm_op("post_attn_norm",
                    [vector(p + "post_attention_layernorm", "norm", i, hidden)], hidden),
            matmul("mlp_up", up, hidden),
            matmul("mlp_down", down, inter),
        )))
    head = head_ops(cfg, hidden, vocab, table, [vector("norm", "norm", None, hidden)])
    return dict(hidden_size=hidden, vocab_size=vocab, embed=embed, layers=tuple(layers),
                head=head, tied_embeddings=bool(_get(cfg, "tie_word_embeddings", True)))


# --- Phi-1 / Phi-1.5 / Phi-2 (parallel attention + MLP, biases, LayerNorm) ------------------

def build_phi(cfg: Mapping[str, Any]) -> dict[str, Any]:
    hidden, heads, kv, hd, inter, vocab, n_layers = decoder_dims(cfg, head_dim_field=False)
    qk_norm = bool(_get(cfg, "qk_layernorm", False))
    embed, table = embedding_parts(cfg, hidden, vocab)
    layers = []
    for i in range(_int(cfg, "num_hidden_layers")):
        p = f"layers.{i}."
        qkv = [*qkv_matrices(p, i, heads, kv, hd, hidden),
               vector(p + "q_proj.bias", "bias", i, heads * hd),
               vector(p + "k_proj.bias", "bias", i, kv * hd),
               vector(p + "v_proj.bias", "bias", i, kv * hd)]
        if qk_norm:   # PhiAttention: q_layernorm / k_layernorm, LayerNorm(head_dim) with bias
            qkv += [t for n in ("q", "k") for t in (
                vector(p + f"{n}_layernorm", "norm", i, hd),
                vector(p + f"{n}_layernorm.bias", "bias", i, hd))]
        attn = Attention(num_heads=heads, num_kv_heads=kv, head_dim=hd, v_head_dim=hd)
        layers.append(Layer(index=i, attention=attn, operators=(
            norm_op("input_norm", [vector(p + "input_layernorm", "norm", i, hidden),
                                   vector(p + "input_layernorm.bias", "bias", i, hidden)],
                    hidden),
            matmul("qkv_proj", qkv, hidden),
            attention_op(attn),
            matmul("o_proj", [matrix(p + "dense", "attention", i, hidden, heads * hd),
                              vector(p + "dense.bias", "bias", i, hidden)], heads * hd),
            matmul("mlp_up", [matrix(p + "fc1", "mlp", i, inter, hidden),
                              vector(p + "fc1.bias", "bias", i, inter)], hidden),
            matmul("mlp_down", [matrix(p + "fc2", "mlp", i, hidden, inter),
                                vector(p + "fc2.bias", "bias", i, hidden)], inter),
        )))
    cfg = {**cfg, "tie_word_embeddings": _get(cfg, "tie_word_embeddings", False)}
    head = head_ops(cfg, hidden, vocab, table,
                    [vector("final_layernorm", "norm", None, hidden),
                     vector("final_layernorm.bias", "bias", None, hidden)], lm_bias=True)
    return dict(hidden_size=hidden, vocab_size=vocab, embed=embed, layers=tuple(layers),
                head=head, tied_embeddings=bool(cfg["tie_word_embeddings"]))


# --- Phi-3 (fused qkv and gate_up) ----------------------------------------------------------

def build_phi3(cfg: Mapping[str, Any]) -> dict[str, Any]:
    hidden, heads, kv, hd, inter, vocab, n_layers = decoder_dims(cfg)
    window = _get(cfg, "sliding_window", None)
    embed, table = embedding_parts(cfg, hidden, vocab)
    layers = []
    for i in range(_int(cfg, "num_hidden_layers")):
        p = f"layers.{i}."
        attn = Attention(num_heads=heads, num_kv_heads=kv, head_dim=hd, v_head_dim=hd,
                         window=window)
        layers.append(Layer(index=i, attention=attn, operators=(
            norm_op("input_norm", [vector(p + "input_layernorm", "norm", i, hidden)], hidden),
            matmul("qkv_proj", [matrix(p + "qkv_proj", "attention", i, (heads + 2 * kv) * hd,
                                       hidden)], hidden),
            attention_op(attn),
            matmul("o_proj", [matrix(p + "o_proj", "attention", i, hidden, heads * hd)],
                   heads * hd),
            norm_op("post_attn_norm",
                    [vector(p + "post_attention_layernorm", "norm", i, hidden)], hidden),
            matmul("mlp_up", [matrix(p + "gate_up_proj", "mlp", i, 2 * inter, hidden)], hidden),
            matmul("mlp_down", [matrix(p + "down_proj", "mlp", i, hidden, inter)], inter),
        )))
    cfg = {**cfg, "tie_word_embeddings": _get(cfg, "tie_word_embeddings", False)}
    head = head_ops(cfg, hidden, vocab, table, [vector("norm", "norm", None, hidden)])
    return dict(hidden_size=hidden, vocab_size=vocab, embed=embed, layers=tuple(layers),
                head=head, tied_embeddings=bool(cfg["tie_word_embeddings"]))


# --- OPT (learned positions, LayerNorm with bias, optional projections) ---------------------

def build_opt(cfg: Mapping[str, Any]) -> dict[str, Any]:
    hidden = _int(cfg, "hidden_size")
    heads = _int(cfg, "num_attention_heads")
    hd = hidden // heads
    ffn = _int(cfg, "ffn_dim")
    vocab = _int(cfg, "vocab_size")
    proj_dim = _int(cfg, "word_embed_proj_dim", hidden)
    positions = _int(cfg, "max_position_embeddings") + 2  # OPT offsets positions by 2
    embed, table = embedding_parts(cfg, hidden, vocab, proj_dim)
    extra = [matrix("embed_positions", "embeddings", None, positions, hidden)]
    if proj_dim != hidden:
        extra += [matrix("project_in", "attention", None, hidden, proj_dim),
                  matrix("project_out", "attention", None, proj_dim, hidden)]
    layers = []
    for i in range(_int(cfg, "num_hidden_layers")):
        p = f"layers.{i}."
        attn = Attention(num_heads=heads, num_kv_heads=heads, head_dim=hd, v_head_dim=hd)
        qkv = [matrix(p + n, "attention", i, hidden, hidden) for n in ("q_proj", "k_proj",
                                                                       "v_proj")]
        qkv += [vector(p + n + ".bias", "bias", i, hidden) for n in ("q_proj", "k_proj",
                                                                     "v_proj")]
        layers.append(Layer(index=i, attention=attn, operators=(
            norm_op("input_norm", [vector(p + "self_attn_layer_norm", "norm", i, hidden),
                                   vector(p + "self_attn_layer_norm.bias", "bias", i, hidden)],
                    hidden),
            matmul("qkv_proj", qkv, hidden),
            attention_op(attn),
            matmul("o_proj", [matrix(p + "out_proj", "attention", i, hidden, hidden),
                              vector(p + "out_proj.bias", "bias", i, hidden)], hidden),
            norm_op("post_attn_norm", [vector(p + "final_layer_norm", "norm", i, hidden),
                                       vector(p + "final_layer_norm.bias", "bias", i, hidden)],
                    hidden),
            matmul("mlp_up", [matrix(p + "fc1", "mlp", i, ffn, hidden),
                              vector(p + "fc1.bias", "bias", i, ffn)], hidden),
            matmul("mlp_down", [matrix(p + "fc2", "mlp", i, hidden, ffn),
                                vector(p + "fc2.bias", "bias", i, hidden)], ffn),
        )))
    norm = [vector("final_layer_norm", "norm", None, hidden),
            vector("final_layer_norm.bias", "bias", None, hidden)]
    lm = table if _get(cfg, "tie_word_embeddings", True) else \
        matrix("lm_head", "lm_head", None, vocab, proj_dim)
    head = (norm_op("final_norm", norm, hidden), matmul("lm_head", [lm], proj_dim))
    return dict(hidden_size=hidden, vocab_size=vocab, embed=embed, layers=tuple(layers),
                head=head, extra_tensors=tuple(extra),
                tied_embeddings=bool(_get(cfg, "tie_word_embeddings", True)))


# --- Gemma and Gemma-2 (GeGLU MLP, explicit head_dim, tied, two or four RMSNorms per layer) ---

def _gemma2_sliding(cfg: Mapping[str, Any], n_layers: int) -> list[bool]:
    """Which Gemma-2 layers use sliding-window attention.

    Older configs (transformers 4.42-4.52) have no `layer_types`: `Gemma2Attention` sets
    `sliding_window = config.sliding_window if not bool(layer_idx % 2) else None`, so even layers
    slide and odd layers are global. Newer configs list `layer_types` explicitly.
    """
    types = _get(cfg, "layer_types", None)
    if types is None:
        return [i % 2 == 0 for i in range(n_layers)]
    allowed = {"sliding_attention": True, "full_attention": False}
    if not isinstance(types, list) or len(types) != n_layers or \
            not all(t in allowed for t in types):
        raise UnsupportedModel("layer_types", f"{n_layers} entries of {sorted(allowed)} "
                               f"expected, got {types!r}")
    return [allowed[t] for t in types]


def build_gemma(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Gemma (`model_type: gemma`) and Gemma-2 (`gemma2`).

    Read from huggingface/transformers `src/transformers/models/gemma/modeling_gemma.py`
    (commit c4cdd1a0d93642f0143c66609d4273efc74c22cf) and `models/gemma2/modeling_gemma2.py`
    (commit 9a80143ca26066ee3266749a57c7b3850d8843be):
    - q/k/v/o projections with `head_dim` taken from the config (256 for the 2B models, so
      `nh*hd` can differ from `hidden_size`), biases only if `attention_bias`;
    - a GeGLU MLP (gate_proj, up_proj, down_proj, no biases);
    - Gemma: `input_layernorm`, `post_attention_layernorm`; Gemma-2 adds
      `pre_feedforward_layernorm` and `post_feedforward_layernorm` and applies
      `post_attention_layernorm` to the attention output before the residual add;
    - embeddings multiplied by `sqrt(hidden_size)` (a non-persistent buffer, not stored),
      `query_pre_attn_scalar` and the logit soft-capping are scalars (not stored);
    - LM head tied to `embed_tokens`;
    - Gemma-2: alternating sliding-window (`sliding_window`, even layers) and global layers.
    """
    hidden, heads, kv, hd, inter, vocab, n_layers = decoder_dims(cfg)
    gemma2 = _get(cfg, "model_type") == "gemma2"
    bias = bool(_get(cfg, "attention_bias", False))
    window = _int(cfg, "sliding_window", 0) or None
    sliding = _gemma2_sliding(cfg, n_layers) if gemma2 else [False] * n_layers
    embed, table = embedding_parts(cfg, hidden, vocab)
    layers = []
    for i in range(n_layers):
        p = f"layers.{i}."
        qkv = qkv_matrices(p, i, heads, kv, hd, hidden)
        o = [matrix(p + "o_proj", "attention", i, hidden, heads * hd)]
        if bias:
            qkv += [vector(p + "q_proj.bias", "bias", i, heads * hd),
                    vector(p + "k_proj.bias", "bias", i, kv * hd),
                    vector(p + "v_proj.bias", "bias", i, kv * hd)]
            o.append(vector(p + "o_proj.bias", "bias", i, hidden))
        attn = Attention(num_heads=heads, num_kv_heads=kv, head_dim=hd, v_head_dim=hd,
                         window=window if sliding[i] else None)
        ops = [norm_op("input_norm", [vector(p + "input_layernorm", "norm", i, hidden)],
                       hidden),
               matmul("qkv_proj", qkv, hidden),
               attention_op(attn),
               matmul("o_proj", o, heads * hd),
               norm_op("post_attn_norm",
                       [vector(p + "post_attention_layernorm", "norm", i, hidden)], hidden)]
        if gemma2:
            ops.append(norm_op("pre_ffn_norm",
                               [vector(p + "pre_feedforward_layernorm", "norm", i, hidden)],
                               hidden))
        ops += [matmul("mlp_up", [matrix(p + "gate_proj", "mlp", i, inter, hidden),
                                  matrix(p + "up_proj", "mlp", i, inter, hidden)], hidden),
                matmul("mlp_down", [matrix(p + "down_proj", "mlp", i, hidden, inter)], inter)]
        if gemma2:
            ops.append(norm_op("post_ffn_norm",
                               [vector(p + "post_feedforward_layernorm", "norm", i, hidden)],
                               hidden))
        layers.append(Layer(index=i, attention=attn, operators=tuple(ops)))
    head = head_ops(cfg, hidden, vocab, table, [vector("norm", "norm", None, hidden)])
    return dict(hidden_size=hidden, vocab_size=vocab, embed=embed, layers=tuple(layers),
                head=head, tied_embeddings=bool(_get(cfg, "tie_word_embeddings", True)))


BUILDERS: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    "llama": build_llama_like, "qwen2": build_llama_like, "qwen3": build_llama_like,
    "mistral": build_llama_like, "mobilellm": build_llama_like,
    "phi": build_phi, "phi3": build_phi3, "opt": build_opt,
    "gemma": build_gemma, "gemma2": build_gemma,
}


def build_model(cfg: Mapping[str, Any], *, name: str, source: str,
                published_parameters: int | None = None) -> ModelShape:
    from qmcsim.models.hymba import build_hymba
    from qmcsim.models.validate import check_config

    builders = {**BUILDERS, "hymba": build_hymba}
    model_type = cfg.get("model_type")
    if not isinstance(model_type, str) or model_type not in builders:
        shown = repr(model_type) if len(repr(model_type)) <= 40 else repr(model_type)[:37] + "..."
        raise UnsupportedModel("model_type", f"one of {sorted(builders)} expected, "
                               f"got {shown}")
    check_config(cfg)
    parts = builders[model_type](cfg)
    return ModelShape(name=name, family=str(model_type), source=source,
                      published_parameters=published_parameters, **parts)
