"""The accuracy pipeline on a tiny randomly initialised Llama (built here, no download)."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from qmcsim.accuracy.config import load_accuracy  # noqa: E402
from qmcsim.accuracy.evaluate import run_accuracy  # noqa: E402
from qmcsim.accuracy.model import weight_targets  # noqa: E402
from qmcsim.accuracy.perplexity import perplexity  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
VOCAB = 96


def tiny_llama():
    torch.manual_seed(0)
    cfg = transformers.LlamaConfig(vocab_size=VOCAB, hidden_size=64, intermediate_size=128,
                                   num_hidden_layers=2, num_attention_heads=4,
                                   num_key_value_heads=2, max_position_embeddings=256,
                                   tie_word_embeddings=True)
    model = transformers.LlamaForCausalLM(cfg)
    model.eval()
    return model


def tokens(n: int) -> torch.Tensor:
    # a repetitive sequence, so the model's perplexity is not just uniform noise
    return torch.tensor(np.random.default_rng(0).integers(0, VOCAB, size=n), dtype=torch.long)


def config(tmp_path: Path, **extra: object) -> Path:
    raw = {
        "name": "tiny", "model": {"hf_dir": "unused"}, "tokens": 200, "context_tokens": 64,
        "seeds": [0, 1],
        "variants": [
            {"name": "fp16", "format": {"kind": "fp16"}},
            {"name": "rtn-int4", "format": {"kind": "rtn", "bits": 4}},
            {"name": "qmc", "format": {"kind": "qmc", "rho": 0.3}, "scale_search": "mse"},
            {"name": "qmc-3b", "format": {"kind": "qmc", "rho": 0.3},
             "placement": {"codes": "qmc-reram-3b", "outlier_values": "qmc-mram"},
             "device_params": {"qmc-reram-3b": {"read_noise_sigma": 0.03},
                               "qmc-mram": {"read_bit_error_rate": 0.01}},
             "scale_search": "noise_aware"},
        ],
        "rho_sweep": {"rhos": [0.1, 0.3], "variants": ["qmc"]},
    }
    raw.update(extra)
    path = tmp_path / "acc.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_window_perplexity_equals_the_models_own_loss() -> None:
    model = tiny_llama()
    ids = tokens(64)
    ours = perplexity(model, ids, context=64, stride=64)
    with torch.inference_mode():
        loss = model(ids.unsqueeze(0), labels=ids.unsqueeze(0)).loss
    assert ours.scored == 63
    assert ours.mean_nll == pytest.approx(float(loss), rel=1e-5)
    # several windows score every token once
    assert perplexity(model, tokens(200), context=64, stride=64).scored == 199
    assert perplexity(model, tokens(200), context=64, stride=16).scored == 199


def test_variants_seeds_and_restored_weights(tmp_path: Path) -> None:
    resolved = load_accuracy(config(tmp_path))
    assert [v.name for v in resolved.variants] == ["fp16", "rtn-int4", "qmc", "qmc-3b",
                                                   "qmc@rho=0.1"]
    model = tiny_llama()
    targets = weight_targets(model, include_embeddings=False)
    assert len(targets) == 2 * 7            # q k v o gate up down per layer; no LM head
    before = [p.detach().clone() for _, p in targets]
    ids = tokens(200)
    result = run_accuracy(resolved, model, ids, targets)
    for b, (_, p) in zip(before, targets, strict=True):
        assert torch.equal(b, p)
    runs = result.runs
    assert runs.groupby("variant").size().to_dict() == {
        "fp16": 1, "rtn-int4": 1, "qmc": 1, "qmc-3b": 2, "qmc@rho=0.1": 1}
    assert np.all(np.isfinite(runs["perplexity"]))
    base = float(perplexity(model, ids, context=64, stride=64).perplexity)
    ppl = runs.set_index("variant")["perplexity"]
    assert ppl["fp16"] == pytest.approx(base, rel=1e-3)   # FP16 rounding only
    noisy = runs[runs.variant == "qmc-3b"]
    assert noisy["code_change_rate"].min() > 1e-3      # the read noise changed codes
    assert noisy["perplexity"].nunique() == 2          # seeds differ
    assert runs[runs.variant == "qmc"]["code_change_rate"].iloc[0] == 0.0
    # weight errors: noise adds to quantization error; more outliers, less inlier error
    t = result.tensors
    qmc3 = t[t.variant == "qmc-3b"]
    assert np.all(qmc3.rel_err_total >= qmc3.rel_err_quant)
    mean_err = t.groupby("variant")["rel_err_quant"].mean()
    assert mean_err["qmc"] < mean_err["qmc@rho=0.1"]
    assert mean_err["fp16"] < 1e-6
    assert np.all(qmc3.chosen_scale_multiplier <= qmc3.mse_scale_multiplier + 1e-6)
    s = result.summary.set_index("variant")
    assert s.loc["qmc-3b", "n_seeds"] == 2
    assert s.loc["qmc-3b", "perplexity_ci95_low"] < s.loc["qmc-3b", "perplexity_mean"]
    assert math.isnan(s.loc["qmc", "perplexity_ci95_half"])


def test_same_seed_same_perplexity(tmp_path: Path) -> None:
    resolved = load_accuracy(config(tmp_path, seeds=[5],
                                    variants=[yaml.safe_load(yaml.safe_dump(
                                        {"name": "n", "format": {"kind": "qmc"},
                                         "placement": {"codes": "qmc-reram-3b"},
                                         "device_params": {"qmc-reram-3b":
                                                           {"read_noise_sigma": 0.03}}}))],
                                    rho_sweep=None))
    model = tiny_llama()
    targets = weight_targets(model, include_embeddings=True)
    a = run_accuracy(resolved, model, tokens(100), targets)
    b = run_accuracy(resolved, model, tokens(100), targets)
    assert a.runs["perplexity"].tolist() == b.runs["perplexity"].tolist()
    assert a.tensors["rel_err_total"].tolist() == b.tensors["rel_err_total"].tolist()


def _char_tokenizer(directory: Path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers

    chars = [chr(c) for c in range(32, 32 + VOCAB - 1)]
    vocab = {"<unk>": 0, **{c: i + 1 for i, c in enumerate(chars)}}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split("", behavior="isolated")
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>")
    fast.save_pretrained(directory)


def test_cli_end_to_end_on_a_saved_tiny_model(tmp_path: Path) -> None:
    model_dir = tmp_path / "tiny-model"
    tiny_llama().save_pretrained(model_dir)
    _char_tokenizer(model_dir)
    text = tmp_path / "text.txt"
    text.write_text("Full fathom five thy father lies; of his bones are coral made. " * 8)
    cfg = config(tmp_path, model={"hf_dir": str(model_dir)}, text=str(text), tokens=300,
                 seeds=[0, 1], rho_sweep=None)
    out = tmp_path / "results"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run([sys.executable, "-m", "qmcsim", "accuracy", str(cfg), "--out",
                           str(out), "--variants", "fp16,qmc-3b"], cwd=ROOT,
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    folders = list(out.iterdir())
    assert len(folders) == 1
    names = sorted(p.name for p in folders[0].iterdir())
    assert names == ["ppl_vs_bits.png", "resolved_config.yaml", "runs.csv", "summary.csv",
                     "tensors.csv"]
    import pandas as pd

    summary = pd.read_csv(folders[0] / "summary.csv")
    assert summary["variant"].tolist() == ["fp16", "qmc-3b"]          # --variants
    assert summary["bits_per_weight"].tolist()[0] == 16.0
    resolved = yaml.safe_load((folders[0] / "resolved_config.yaml").read_text())
    conf = resolved["level_confusion_analytic"]["qmc-3b/codes"]["confusion"]
    assert len(conf) == 8
    assert "qmc-3b" in proc.stdout
    # stderr is no terminal here: one progress line per evaluation instead of a bar
    progress = [line for line in proc.stderr.splitlines() if line.startswith("[")]
    assert [line.split("]")[0] for line in progress] == ["[1/3", "[2/3", "[3/3"]
    assert progress[-1].startswith("[3/3] qmc-3b seed 1: perplexity ")
