"""Checkpoint tensor names -> qmcsim model tensor names (models/hf.py naming).

Hugging Face: drop a leading `model.`, a trailing `.weight`, and the `self_attn.` / `mlp.`
path parts: `model.layers.3.self_attn.q_proj.weight` -> `layers.3.q_proj`,
`model.layers.3.self_attn.q_proj.bias` -> `layers.3.q_proj.bias`.
GGUF (llama.cpp, Llama family): `blk.N.attn_q.weight` -> `layers.N.q_proj`, `token_embd` ->
`embed_tokens`, `output_norm` -> `norm`, `output` -> `lm_head`, see GGUF_LLAMA.
llama.cpp permutes the rows of q/k within each head for its rotary layout; per-row statistics
(the only kind the formats use) do not depend on the order of rows.
"""

from __future__ import annotations

import re

GGUF_LLAMA = {
    "attn_q": "q_proj", "attn_k": "k_proj", "attn_v": "v_proj", "attn_output": "o_proj",
    "ffn_gate": "gate_proj", "ffn_up": "up_proj", "ffn_down": "down_proj",
    "attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm",
}
GGUF_TOP = {"token_embd": "embed_tokens", "output_norm": "norm", "output": "lm_head"}
_BLK = re.compile(r"^blk\.(\d+)\.(.+)$")
_DROPPED_PARTS = {"self_attn", "mlp"}


def hf_to_model(name: str) -> str:
    if name.startswith("model."):
        name = name[len("model."):]
    if name.endswith(".weight"):
        name = name[: -len(".weight")]
    return ".".join(p for p in name.split(".") if p not in _DROPPED_PARTS)


def gguf_to_model(name: str) -> str | None:
    """Model name of a GGUF tensor, or None if the name is not a Llama-family tensor."""
    suffix = ""
    for end in (".weight", ".bias"):
        if name.endswith(end):
            name, suffix = name[: -len(end)], "" if end == ".weight" else end
    m = _BLK.match(name)
    if m:
        part = GGUF_LLAMA.get(m.group(2))
        return None if part is None else f"layers.{m.group(1)}.{part}{suffix}"
    top = GGUF_TOP.get(name)
    return None if top is None else top + suffix
