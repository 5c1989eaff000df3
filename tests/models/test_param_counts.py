"""Every shipped model preset reproduces its published parameter count within 0.5 %."""

from __future__ import annotations

import pytest

from qmcsim.config.presets import available
from qmcsim.models.load import load_model

PRESETS = available("models")


def test_presets_include_the_reference_models_and_gemma() -> None:
    expected = {"llama-3.2-1b", "llama-3.2-3b", "qwen2.5-0.5b", "qwen2.5-1.5b", "qwen3-0.6b",
                "phi-3-mini-4k", "smollm2-135m", "smollm2-360m", "tinyllama-1.1b", "opt-125m",
                "opt-1.3b", "phi-1.5", "hymba-1.5b", "gemma-2b", "gemma-2-2b", "qwen3-8b"}
    assert expected <= set(PRESETS)


@pytest.mark.parametrize("name", PRESETS)
def test_parameter_count_matches_published(name: str) -> None:
    model = load_model(name, file="test", field_path="model")
    assert model.published_parameters is not None, f"{name} has no published_parameters"
    rel = abs(model.num_parameters - model.published_parameters) / model.published_parameters
    assert rel <= 0.005, (name, model.num_parameters, model.published_parameters)


def test_gemma2_alternates_sliding_and_global_layers() -> None:
    model = load_model("gemma-2-2b", file="test", field_path="model")
    windows = [layer.attention.window for layer in model.layers if layer.attention]
    assert windows[:4] == [4096, None, 4096, None]
    assert len(windows) == 26
    # Gemma-2 keeps four RMSNorms per layer, Gemma two
    norms = {w.name for op in model.layers[0].operators for w in op.weights
             if w.tensor_class == "norm"}
    assert len(norms) == 4


def test_gemma_head_dim_differs_from_hidden_over_heads() -> None:
    model = load_model("gemma-2-2b", file="test", field_path="model")
    q = next(w for op in model.layers[0].operators for w in op.weights
             if w.name.endswith("q_proj"))
    assert (q.rows, q.cols) == (8 * 256, 2304)   # nh*hd = 2048 != hidden 2304
    assert model.tied_embeddings and not any(t.tensor_class == "lm_head" for t in model.tensors)
