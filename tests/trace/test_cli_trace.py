"""The `trace` command and `run` replaying a stored trace, run as subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]

# A config.json no preset ships: a 4-layer MobileLLM-style Llama (deep-thin, GQA, tied).
UNSHIPPED = {
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 256,
    "intermediate_size": 704, "num_attention_heads": 8, "num_key_value_heads": 2,
    "num_hidden_layers": 4, "vocab_size": 1000, "tie_word_embeddings": True,
    "max_position_embeddings": 2048, "rms_norm_eps": 1e-5,
}


def qmcsim(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "qmcsim", *args], cwd=cwd, text=True,
                          capture_output=True, timeout=120,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})


def run_config(tmp: Path, model: str, trace: str | None) -> Path:
    base = yaml.safe_load((REPO / "hw_configs" / "hymba-qmc.yaml").read_text())
    base.update(name="cli", model=model,
                workload={"prompt_tokens": 16, "generate_tokens": 4, "batch": 1})
    base["systems"] = base["systems"][:2]
    if trace is not None:
        base["trace"] = trace
    path = tmp / "run.yaml"
    path.write_text(yaml.safe_dump(base))
    return path


def test_unshipped_config_json_end_to_end(tmp_path: Path) -> None:
    model_dir = tmp_path / "tiny-llama"
    model_dir.mkdir()
    (model_dir / "config.json").write_text(json.dumps(UNSHIPPED))
    out = tmp_path / "tiny.parquet"
    done = qmcsim("trace", "--model", "tiny-llama/config.json", "--prompt", "16",
                  "--generate", "4", "-o", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert out.is_file() and ", 5 steps," in done.stdout   # 1 prefill + 4 decode

    # replay the stored trace, and generate the same run, through `run`
    results = {}
    for label, trace in (("stored", "tiny.parquet"), ("generated", None)):
        cfg = run_config(tmp_path, "tiny-llama/config.json", trace)
        done = qmcsim("run", str(cfg), "--out", str(tmp_path / label), "--no-progress",
                      cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        folder = next((tmp_path / label).iterdir())
        results[label] = pd.read_csv(folder / "per_step.csv")
    fp16 = {k: v[v.system == "fp16"].reset_index(drop=True) for k, v in results.items()}
    pd.testing.assert_frame_equal(fp16["stored"], fp16["generated"])
    # the stored FP16 trace puts every weight on 'dram', also for the QMC system
    stored_qmc = results["stored"][results["stored"].system == "qmc-3bit"]
    assert list(stored_qmc.time_ns) == list(fp16["stored"].time_ns)


@pytest.mark.parametrize(("args", "needle"), [
    (["--model", "smollm2-135m", "--prompt", "0", "--generate", "2"], "--prompt"),
    (["--model", "no-such-model", "--prompt", "4", "--generate", "2"], "no-such-model"),
    (["--model", "bad/config.json", "--prompt", "4", "--generate", "2"], "model_type"),
    (["--model", "smollm2-135m", "--prompt", "4", "--generate", "2", "--format",
      "qmc:rho=1.5"], "rho"),
    (["--model", "smollm2-135m", "--prompt", "4", "--generate", "2", "--place",
      "weights=reram"], "--place"),
])
def test_bad_input_exit_2_one_line_nothing_written(tmp_path: Path, args: list[str],
                                                   needle: str) -> None:
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text(json.dumps({**UNSHIPPED,
                                                              "model_type": "mamba"}))
    out = tmp_path / "out.parquet"
    done = qmcsim("trace", *args, "-o", str(out), cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad"]


def test_run_refuses_a_malformed_trace(tmp_path: Path) -> None:
    src = REPO / "traces" / "smollm2-135m-p32-g8-qmc.csv"
    lines = src.read_text().splitlines(keepends=True)
    lines[30] = lines[30].replace(",weights,", ",weigths,")
    (tmp_path / "bad.csv").write_text("".join(lines))
    cfg = run_config(tmp_path, "smollm2-135m", "bad.csv")
    done = qmcsim("run", str(cfg), "--out", str(tmp_path / "results"), "--no-progress",
                  cwd=tmp_path)
    assert done.returncode == 2
    message = done.stderr.strip()
    # lines[30] is line 31 of the file = data row 30
    assert "\n" not in message and "bad.csv" in message and "row 30" in message
    assert "traffic_class" in message
    assert not (tmp_path / "results").exists()


def test_run_refuses_memories_the_system_lacks(tmp_path: Path) -> None:
    cfg = run_config(tmp_path, "smollm2-135m",
                     str(REPO / "traces" / "smollm2-135m-p32-g8-qmc.csv"))
    done = qmcsim("run", str(cfg), "--out", str(tmp_path / "results"), "--no-progress",
                  cwd=tmp_path)
    assert done.returncode == 2
    assert "mram" in done.stderr and "'fp16'" in done.stderr
    assert not (tmp_path / "results").exists()
