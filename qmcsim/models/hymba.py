"""Hymba (NVIDIA): attention heads and Mamba heads side by side in every layer.

Layout read from modeling_hymba.py; see hw_configs/models/TENSORS.md.

Per layer, one fused in_proj makes q, k, v (attention) and x, z (Mamba) from the input; the
attention output (num_heads x v_head_dim) and the Mamba output (d_inner) are normalised,
averaged and projected back by one out_proj; then a gated MLP. Most layers attend over a
sliding window; consecutive layers can share a KV cache (kv_reuse_group); 128 learned meta
tokens are prepended to every prompt.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qmcsim.models.hf import (
    UnsupportedModel,
    _get,
    _int,
    attention_op,
    decoder_dims,
    embedding_parts,
    head_ops,
    matmul,
    matrix,
    norm_op,
    vector,
)
from qmcsim.models.shape import Attention, Layer, Operator, Ssm


def _kv_sources(cfg: Mapping[str, Any], n_layers: int) -> list[int]:
    """For each layer, the layer whose KV cache it reads (itself unless in a reuse group)."""
    source = list(range(n_layers))
    groups = _get(cfg, "kv_reuse_group", []) or []
    for group in groups:
        if not isinstance(group, list) or not group or \
                not all(isinstance(g, int) and 0 <= g < n_layers for g in group):
            raise UnsupportedModel("kv_reuse_group", f"lists of layer indices expected, "
                                   f"got {group!r}")
        for member in group:
            source[member] = group[0]
    return source


def build_hymba(cfg: Mapping[str, Any]) -> dict[str, Any]:
    hidden, heads, kv, hd, inter, vocab, n_layers = decoder_dims(cfg, head_dim_field=False)
    v_hd = _int(cfg, "v_head_dim", hd)
    d_inner = _int(cfg, "mamba_expand") * hidden
    d_state = _int(cfg, "mamba_d_state")
    d_conv = _int(cfg, "mamba_d_conv")
    dt_rank = _int(cfg, "mamba_dt_rank")
    window = _int(cfg, "sliding_window", 0) or None
    global_layers = set(_get(cfg, "global_attn_idx", []) or [])
    kv_source = _kv_sources(cfg, n_layers)
    layer_type = _get(cfg, "layer_type", ["h"] * n_layers)
    if not isinstance(layer_type, list) or any(t != "h" for t in layer_type):
        raise UnsupportedModel("layer_type", f"every layer hybrid ('h') expected, got "
                               f"{layer_type!r}")
    if _int(cfg, "num_experts", 1) != 1:
        raise UnsupportedModel("num_experts", "1 expected (a dense MLP); mixture-of-experts "
                               f"Hymba is not mapped, got {cfg['num_experts']!r}")
    meta = _int(cfg, "num_memory_tokens", 0)
    embed, table = embedding_parts(cfg, hidden, vocab)
    attn_out = heads * v_hd
    layers = []
    for i in range(n_layers):
        p = f"layers.{i}."
        # KV consumers (later members of a kv_reuse_group) project q, x, z only
        owns_kv = kv_source[i] == i
        latent = heads * hd + (kv * hd + kv * v_hd if owns_kv else 0) + 2 * d_inner
        attn = Attention(num_heads=heads, num_kv_heads=kv, head_dim=hd, v_head_dim=v_hd,
                         # meta tokens stay visible to sliding-window layers
                         window=None if i in global_layers or window is None
                         else window + meta,
                         kv_source_layer=kv_source[i])
        ssm = Ssm(d_inner=d_inner, d_state=d_state, d_conv=d_conv)
        ssm_weights = [
            matrix(p + "mamba.x_proj", "ssm", i, dt_rank + 2 * d_state, d_inner),
            matrix(p + "mamba.dt_proj", "ssm", i, d_inner, dt_rank),
            vector(p + "mamba.dt_proj.bias", "bias", i, d_inner),
            matrix(p + "mamba.conv1d", "ssm", i, d_inner, d_conv),
            vector(p + "mamba.conv1d.bias", "bias", i, d_inner),
            matrix(p + "mamba.A_log", "ssm", i, d_inner, d_state),
            vector(p + "mamba.D", "ssm", i, d_inner),
            vector(p + "mamba.dt_layernorm", "norm", i, dt_rank),
            vector(p + "mamba.B_layernorm", "norm", i, d_state),
            vector(p + "mamba.C_layernorm", "norm", i, d_state),
        ]
        ssm_op = Operator(name="ssm_scan", kind="ssm_scan", weights=tuple(ssm_weights),
                          act_in=d_inner, act_out=d_inner,
                          flops_per_token=2 * sum(w.numel for w in ssm_weights)
                          + 6 * d_inner * d_state)
        layers.append(Layer(index=i, attention=attn, ssm=ssm, operators=(
            norm_op("input_norm", [vector(p + "input_layernorm", "norm", i, hidden)], hidden),
            matmul("in_proj", [matrix(p + "in_proj", "attention", i, latent, hidden)], hidden),
            attention_op(attn),
            ssm_op,
            norm_op("pre_avg_norm", [vector(p + "pre_avg_layernorm1", "norm", i, attn_out),
                                     vector(p + "pre_avg_layernorm2", "norm", i, d_inner)],
                    d_inner),
            matmul("out_proj", [matrix(p + "out_proj", "attention", i, hidden, d_inner)],
                   d_inner),
            norm_op("post_attn_norm", [vector(p + "pre_moe_layernorm", "norm", i, hidden)],
                    hidden),
            matmul("mlp_up", [matrix(p + "moe.experts.0.gate_proj", "mlp", i, inter, hidden),
                              matrix(p + "moe.experts.0.up_proj", "mlp", i, inter, hidden)],
                   hidden),
            matmul("mlp_down", [matrix(p + "moe.experts.0.down_proj", "mlp", i, hidden, inter)],
                   inter),
        )))
    extra = (matrix("memory_tokens", "meta", None, meta, hidden),) if meta else ()
    head = head_ops(cfg, hidden, vocab, table, [vector("final_layernorm", "norm", None, hidden)])
    return dict(hidden_size=hidden, vocab_size=vocab, embed=embed, layers=tuple(layers),
                head=head, extra_tensors=extra, meta_tokens=meta,
                tied_embeddings=bool(_get(cfg, "tie_word_embeddings", True)))
