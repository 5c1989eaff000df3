"""Checks of a config.json mapping before any model is built: types, bounds, consistency.

Every field a builder reads as a size is an integer (never a bool) within a stated range, the
attention heads are consistent, and the model is small enough to build and simulate
(MAX_LAYERS, MAX_PARAMETERS). Errors are UnsupportedModel naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qmcsim.models.hf import UnsupportedModel

MAX_LAYERS = 1024                  # deepest published decoders have ~128; every layer is built
MAX_PARAMETERS = 200_000_000_000   # 200 B; edge SLMs are below 10 B

# field -> (smallest, largest) accepted value, checked wherever the field is present
DIMENSIONS: dict[str, tuple[int, int]] = {
    "hidden_size": (1, 1 << 17),
    "num_attention_heads": (1, 1 << 12),
    "num_key_value_heads": (1, 1 << 12),
    "head_dim": (1, 1 << 13),
    "v_head_dim": (1, 1 << 13),
    "intermediate_size": (1, 1 << 19),
    "ffn_dim": (1, 1 << 19),
    "vocab_size": (1, 1 << 22),
    "num_hidden_layers": (1, MAX_LAYERS),
    "max_position_embeddings": (1, 1 << 24),
    "word_embed_proj_dim": (1, 1 << 17),
    "mamba_expand": (1, 64),
    "mamba_d_state": (1, 1 << 12),
    "mamba_d_conv": (1, 1 << 10),
    "mamba_dt_rank": (1, 1 << 14),
    "num_memory_tokens": (0, 1 << 16),
    "num_experts": (1, 1 << 10),
}
# 0 or null: no sliding window (as Gemma and Hymba read it); else a window of >= 1 tokens
WINDOW_FIELDS = ("sliding_window",)


def _as_int(cfg: Mapping[str, Any], key: str, low: int, high: int) -> int | None:
    value = cfg.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        raise UnsupportedModel(key, f"an integer expected, got {shown}")
    if not low <= value <= high:
        what = "at most" if value > high else "at least"
        limit = high if value > high else low
        extra = " (qmcsim builds every layer)" if key == "num_hidden_layers" and \
            value > high else ""
        raise UnsupportedModel(key, f"{what} {limit:,} expected{extra}, got {value:,}")
    return value


def check_config(cfg: Mapping[str, Any]) -> None:
    """Raise UnsupportedModel for the first field of `cfg` a builder could not map."""
    dims = {key: _as_int(cfg, key, *bounds) for key, bounds in DIMENSIONS.items()}
    for key in WINDOW_FIELDS:
        _as_int(cfg, key, 0, 1 << 24)
    heads, kv = dims["num_attention_heads"], dims["num_key_value_heads"]
    if heads is not None and kv is not None:
        if kv > heads:
            raise UnsupportedModel("num_key_value_heads", f"at most num_attention_heads "
                                   f"({heads}) expected, got {kv}")
        if heads % kv:
            raise UnsupportedModel("num_key_value_heads", f"a divisor of num_attention_heads "
                                   f"({heads}) expected, got {kv}")
    hidden = dims["hidden_size"]
    if hidden is not None and heads is not None and hidden < heads:
        raise UnsupportedModel("hidden_size", f"at least num_attention_heads ({heads}) "
                               f"expected, got {hidden}")
    if hidden is not None and heads is not None and dims["head_dim"] is None and \
            hidden % heads:
        raise UnsupportedModel("hidden_size", f"a multiple of num_attention_heads ({heads}) "
                               f"expected (no head_dim given), got {hidden}")
    layers = dims["num_hidden_layers"]
    for key in ("global_attn_idx",):
        value = cfg.get(key)
        if value is not None and (not isinstance(value, list) or not all(
                isinstance(i, int) and not isinstance(i, bool) and
                0 <= i < (layers or MAX_LAYERS) for i in value)):
            raise UnsupportedModel(key, "a list of layer indices expected")
    estimate = _parameter_estimate(dims)
    if estimate > MAX_PARAMETERS:
        raise UnsupportedModel("num_hidden_layers", f"a model of at most {MAX_PARAMETERS:,.0f} "
                               f"parameters expected; these dimensions give about "
                               f"{estimate:,.0f}")


def _parameter_estimate(dims: Mapping[str, int | None]) -> int:
    """Attention + MLP + embeddings, from the dimensions alone (an upper-bound style guess)."""
    hidden = dims["hidden_size"] or 1
    heads = dims["num_attention_heads"] or 1
    hd = dims["head_dim"] or max(1, hidden // heads)
    inter = dims["intermediate_size"] or dims["ffn_dim"] or 1
    layers = dims["num_hidden_layers"] or 1
    vocab = dims["vocab_size"] or 1
    per_layer = 4 * hidden * heads * hd + 3 * hidden * inter
    return layers * per_layer + 2 * vocab * hidden
