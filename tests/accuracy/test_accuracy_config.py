"""Accuracy config validation and the CLI's bad-input path (no torch needed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from qmcsim.accuracy.config import load_accuracy
from qmcsim.accuracy.stats import mean_ci95
from qmcsim.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
BASELINES = ROOT / "hw_configs" / "accuracy-smollm2.yaml"
EXAMPLE = ROOT / "hw_configs" / "accuracy-smollm2-rho.yaml"


def test_baselines_config_resolves_with_calibration() -> None:
    resolved = load_accuracy(BASELINES)
    v = {x.name: x for x in resolved.variants}
    assert list(v) == ["fp16", "rtn-int4", "rtn-int4-g128", "mxint4", "awq", "gptq",
                       "squeezellm", "spqr", "qmc", "qmc-reram-2b", "qmc-reram-3b"]
    assert {n for n, x in v.items() if x.calibrated} == {"awq", "gptq", "squeezellm", "spqr"}
    assert v["awq"].fmt.algorithm == "awq"
    assert v["gptq"].fmt.act_order is True
    cal = resolved.config.calibration
    assert cal is not None and cal.sequences * cal.sequence_tokens >= 8192
    assert not any("tempest" in t for t in cal.texts)


def test_a_calibrated_format_needs_calibration(tmp_path: Path) -> None:
    raw = yaml.safe_load(BASELINES.read_text())
    del raw["calibration"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match="calibration") as err:
        load_accuracy(bad)
    assert "variants[4].format" in str(err.value)


def test_example_config_resolves_with_its_sweep() -> None:
    resolved = load_accuracy(EXAMPLE)
    names = [v.name for v in resolved.variants]
    assert names[:7] == ["fp16", "rtn-int4", "mxint4", "qmc", "qmc-reram-2b", "qmc-reram-3b",
                         "qmc-reram-3b-mse-scales"]
    assert "qmc-reram-2b@rho=0.1" in names and "qmc-reram-3b@rho=0.5" in names
    assert "qmc-reram-2b@rho=0.3" not in names        # the variant itself is rho 0.3
    v = {x.name: x for x in resolved.variants}
    assert v["qmc-reram-2b"].cells == 2 and v["qmc-reram-3b"].cells == 3
    assert not v["qmc"].noisy and v["qmc-reram-3b"].noisy
    assert set(v["qmc-reram-3b"].noise) == {"codes"}   # the study's MRAM is noise-free


@pytest.mark.parametrize("override, field", [
    ("variants.qmc.format.rho=1.5", "variants[3].format.rho"),
    ("variants.qmc.colour=red", "variants[3].colour"),
    ("variants.qmc.placement.codes=no-such-device", "variants[3].placement.codes.preset"),
    ("variants.rtn-int4.placement.outlier_values=qmc-mram",
     "variants[1].placement.outlier_values"),
    ("variants.fp16.scale_search=mse", "variants[0].scale_search"),
    ("variants.qmc.format.kind=int3", "variants[3].format.kind"),
    ("rho_sweep.variants=[fp16]", "rho_sweep.variants[0]"),
    ("variants.qmc-reram-3b.device_params.qmc-reram-3b.read_noise_sigma=-1",
     "variants[5].placement.codes.params.read_noise_sigma"),
])
def test_bad_input_names_the_field(override: str, field: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_accuracy(EXAMPLE, [override])
    assert field in str(err.value)


def test_cli_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path: Path) -> None:
    raw = yaml.safe_load(EXAMPLE.read_text())
    raw["variants"][0]["format"]["kind"] = "fp17"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(raw))
    out = tmp_path / "results"
    proc = subprocess.run([sys.executable, "-m", "qmcsim", "accuracy", str(bad), "--out",
                           str(out)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "variants[0].format.kind" in proc.stderr
    assert not out.exists()


def test_mean_ci95_uses_student_t() -> None:
    mean, half = mean_ci95([10.0, 12.0])
    assert mean == 11.0 and half == pytest.approx(12.706 * 2**0.5 / 2**0.5)
    mean, half = mean_ci95([1.0, 2.0, 3.0])
    assert half == pytest.approx(4.303 * 1.0 / 3**0.5)


def test_without_torch_the_command_says_how_to_install(tmp_path: Path) -> None:
    code = ("import sys; sys.modules['torch'] = None; from qmcsim.cli import main; "
            f"sys.exit(main(['accuracy', {str(EXAMPLE)!r}, '--out', {str(tmp_path / 'r')!r}]))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2
    assert "pip install -e .[accuracy]" in proc.stderr and proc.stderr.count("\n") == 1
    assert not (tmp_path / "r").exists()


def test_no_torch_import_outside_the_accuracy_models() -> None:
    code = ("import importlib, pkgutil, sys, qmcsim\n"
            "for m in pkgutil.walk_packages(qmcsim.__path__, 'qmcsim.'):\n"
            "    if not m.name.endswith('__main__'): importlib.import_module(m.name)\n"
            "from qmcsim.cli import build_parser; build_parser()\n"
            "print('torch' in sys.modules, 'transformers' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "False"]


def test_variants_option_selects_and_rejects_names(tmp_path: Path, capsys) -> None:
    from qmcsim.cli import main
    from qmcsim.commands.accuracy import only_variants

    resolved = load_accuracy(EXAMPLE)
    picked = only_variants(resolved, "fp16, qmc-reram-2b", file="x.yaml")
    names = [v.name for v in picked.variants]
    assert names[:2] == ["fp16", "qmc-reram-2b"]
    assert {v.base for v in picked.variants} == {"fp16", "qmc-reram-2b"}
    assert "qmc-reram-2b@rho=0.1" in names              # its sweep points come along
    out = tmp_path / "r"
    assert main(["accuracy", str(EXAMPLE), "--variants", "fp16,nope", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--variants" in err and "'nope'" in err and err.count("\n") == 1
    assert not out.exists()


def test_cli_unusable_out_is_refused_before_the_model_loads(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    proc = subprocess.run([sys.executable, "-m", "qmcsim", "accuracy", str(EXAMPLE), "--out",
                           str(tmp_path / "afile" / "res")], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "--out" in proc.stderr and "is a file" in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]
