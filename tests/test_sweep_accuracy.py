"""Accuracy sweeps: rho x noise seeds through the sweep machinery, mean and 95 % CI per point,
each seed stored on its own (a tiny randomly initialised Llama, built here)."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

VOCAB = 96


def _tiny_model(directory):
    from tokenizers import Tokenizer, models, pre_tokenizers

    torch.manual_seed(0)
    cfg = transformers.LlamaConfig(vocab_size=VOCAB, hidden_size=32, intermediate_size=64,
                                   num_hidden_layers=1, num_attention_heads=2,
                                   num_key_value_heads=1, max_position_embeddings=128,
                                   tie_word_embeddings=True)
    transformers.LlamaForCausalLM(cfg).save_pretrained(directory)
    chars = [chr(c) for c in range(32, 32 + VOCAB - 1)]
    tok = Tokenizer(models.WordLevel({"<unk>": 0, **{c: i + 1 for i, c in enumerate(chars)}},
                                     unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split("", behavior="isolated")
    transformers.PreTrainedTokenizerFast(tokenizer_object=tok,
                                         unk_token="<unk>").save_pretrained(directory)


def test_rho_by_seed_sweep_gives_mean_and_ci_per_point(tmp_path):
    from qmcsim.accuracy.stats import mean_ci95
    from qmcsim.sweep import load_sweep, run_sweep

    _tiny_model(tmp_path / "model")
    (tmp_path / "text.txt").write_text("Full fathom five thy father lies; " * 8)
    (tmp_path / "acc.yaml").write_text(yaml.safe_dump({
        "name": "tiny", "model": {"hf_dir": "model"}, "text": "text.txt", "tokens": 96,
        "context_tokens": 48, "seeds": [0],
        "variants": [
            {"name": "fp16", "format": {"kind": "fp16"}},
            {"name": "qmc-3b", "format": {"kind": "qmc", "rho": 0.3},
             "placement": {"codes": "qmc-reram-3b", "outlier_values": "qmc-mram"},
             "device_params": {"qmc-reram-3b": {"read_noise_sigma": 0.05}}}]}))
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(yaml.safe_dump({
        "name": "acc", "kind": "accuracy", "base": "acc.yaml", "seeds": [0, 1, 2],
        "parameters": [{"path": "variants.qmc-3b.format.rho", "values": [0.1, 0.3]}]}))
    cfg, base = load_sweep(sweep)
    result = run_sweep(cfg, base, tmp_path / "out")
    assert result.failures.empty and result.computed == 6   # 2 points x 3 seeds
    table = result.table.set_index(["point", "variant"])
    assert table.loc[(0, "fp16"), "n_seeds"] == 1 and table.loc[(0, "qmc-3b"), "n_seeds"] == 3
    assert table.loc[(1, "qmc-3b"), "variants.qmc-3b.format.rho"] == 0.3
    # the mean and CI are those of the three stored per-seed perplexities
    store = tmp_path / "out" / "points"
    point = next(p for p in resolve(cfg, base) if p.index == 1)
    per_seed = [float(pd_read(store / f"{t.key}.parquet").set_index("variant")
                      .loc["qmc-3b", "perplexity"]) for t in point.tasks]
    assert len(set(per_seed)) > 1   # the seeds draw different read noise
    mean, half = mean_ci95(np.array(per_seed))
    assert table.loc[(1, "qmc-3b"), "perplexity_mean"] == pytest.approx(mean)
    assert table.loc[(1, "qmc-3b"), "perplexity_ci95_half"] == pytest.approx(half)
    assert run_sweep(cfg, base, tmp_path / "out").computed == 0


def resolve(cfg, base):
    from qmcsim.sweep import resolve_points

    return resolve_points(cfg, base)


def pd_read(path):
    import pandas as pd

    return pd.read_parquet(path)
