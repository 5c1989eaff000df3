"""A sweep point's key is what its result depends on, not where its files are: the same files
reached by other paths (a copied folder or checkout, absolute paths, sources that name the
config's path) are the same points and are resumed; an edited model config.json or stored
trace is a new point."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import yaml

from qmcsim.sweep import load_sweep, resolve_points, run_sweep
from tests.conftest import ROOT

TINY_LLAMA = {
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 128,
    "intermediate_size": 352, "num_attention_heads": 4, "num_key_value_heads": 2,
    "num_hidden_layers": 2, "vocab_size": 512, "tie_word_embeddings": True,
    "max_position_embeddings": 512, "rms_norm_eps": 1e-5,
}


def _write_trace(folder: Path, generate: int) -> None:
    done = subprocess.run([sys.executable, "-m", "qmcsim", "trace", "--model",
                           "tiny-llama/config.json", "--prompt", "8", "--generate", str(generate),
                           "-o", "tiny.parquet"], cwd=folder, capture_output=True, text=True,
                          timeout=120, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr


def _study(folder: Path) -> Path:
    """A run config naming its model and trace by absolute path, and a 2-point sweep of it."""
    (folder / "tiny-llama").mkdir(parents=True)
    (folder / "tiny-llama" / "config.json").write_text(json.dumps(TINY_LLAMA))
    _write_trace(folder, generate=2)
    base = yaml.safe_load((ROOT / "tests" / "data" / "tiny.yaml").read_text())
    # an override's source names this file's path: provenance, not part of the key
    base["systems"][1]["memories"]["reram"]["params"] = {"interface_bandwidth_gb_per_s": 211.2}
    base.update(model=str(folder / "tiny-llama" / "config.json"),
                trace=str(folder / "tiny.parquet"),
                workload={"prompt_tokens": 8, "generate_tokens": 2, "batch": 1})
    (folder / "run.yaml").write_text(yaml.safe_dump(base))
    sweep = folder / "sweep.yaml"
    sweep.write_text(yaml.safe_dump({"name": "keys", "base": "run.yaml", "parameters": [
        {"path": "systems.qmc.format.rho", "values": [0.2, 0.4]}]}))
    return sweep


def _keys(sweep: Path) -> list[str]:
    cfg, base = load_sweep(sweep)
    return [t.key for p in resolve_points(cfg, base) for t in p.tasks]


def _moved(src: Path, dst: Path) -> Path:
    """A copy of the study in `dst`, its run config's absolute paths pointing into `dst`."""
    shutil.copytree(src, dst)
    run = dst / "run.yaml"
    run.write_text(run.read_text().replace(str(src), str(dst)))
    return dst / "sweep.yaml"


def test_the_same_files_at_another_path_are_the_same_points(tmp_path):
    here = _study(tmp_path / "here")
    there = _moved(tmp_path / "here", tmp_path / "there")
    assert (tmp_path / "there" / "run.yaml").read_text() != \
        (tmp_path / "here" / "run.yaml").read_text()
    keys = _keys(here)
    assert len(set(keys)) == 3 and _keys(there) == keys   # FP16 is the same at both points

    out = tmp_path / "out"
    cfg, base = load_sweep(here)
    first = run_sweep(cfg, base, out)
    cfg, base = load_sweep(there)
    again = run_sweep(cfg, base, out)   # the same sweep from the copy: nothing recomputed
    assert first.computed == 3 and again.computed == 0
    assert again.table.equals(first.table)


def test_an_edited_model_or_trace_is_a_new_point(tmp_path):
    sweep = _study(tmp_path / "s")
    keys = _keys(sweep)
    config = tmp_path / "s" / "tiny-llama" / "config.json"
    config.write_text(json.dumps({**TINY_LLAMA, "intermediate_size": 384}))
    _write_trace(tmp_path / "s", generate=2)   # the trace's model name is unchanged
    edited = _keys(sweep)
    assert not set(edited) & set(keys)

    config.write_text(json.dumps(TINY_LLAMA))
    assert _keys(sweep) != keys   # the trace written for the edited model still differs
    _write_trace(tmp_path / "s", generate=2)
    assert _keys(sweep) == keys   # same bytes again: the same points


def test_accuracy_keys_hash_the_model_and_texts_not_their_paths(tmp_path):
    from qmcsim.accuracy.config import AccuracyConfig
    from qmcsim.sweep.accuracy import AccuracyJob
    from qmcsim.sweep.inputs import accuracy_keyed

    for where in ("a", "b"):
        (tmp_path / where / "model" / "sub").mkdir(parents=True)
        (tmp_path / where / "model" / "config.json").write_text("{}")
        (tmp_path / where / "model" / "sub" / "tokenizer.json").write_text("{}")
        (tmp_path / where / "eval.txt").write_text("Full fathom five")
        (tmp_path / where / "cal.txt").write_text("thy father lies")

    def keyed(where, hf_dir, text):
        cfg = AccuracyConfig.model_validate({
            "model": {"hf_dir": hf_dir}, "text": text,
            "variants": [{"name": "fp16", "format": {"kind": "fp16"}}],
            "calibration": {"texts": ["cal.txt", "builtin:tempest"], "sequences": 4}})
        job = AccuracyJob(resolved=SimpleNamespace(config=cfg), base_dir=str(tmp_path / where))
        return accuracy_keyed(cfg.model_dump(mode="json"), job)

    a = keyed("a", "model", "eval.txt")
    moved = (str(tmp_path / "b" / "model"), str(tmp_path / "b" / "eval.txt"))
    assert keyed("b", *moved) == a
    assert a["calibration"]["texts"][1] == "builtin:tempest" and a["calibration"]["sequences"] == 4
    (tmp_path / "b" / "cal.txt").write_text("thy mother lies")
    assert keyed("b", *moved)["calibration"] != a["calibration"]
    (tmp_path / "b" / "model" / "sub" / "tokenizer.json").rename(
        tmp_path / "b" / "model" / "sub" / "vocab.json")   # a folder's file names count too
    assert keyed("b", *moved)["model"] != a["model"]
