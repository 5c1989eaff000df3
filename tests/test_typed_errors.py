"""Typed errors: user-reachable failures raise qmcsim.errors types naming file and field;
internal invariants are explicit raises (no `assert`, which `python -O` strips)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import simpy

from qmcsim.config.devices import load_device
from qmcsim.errors import ConfigError, SimulationError
from qmcsim.memories.base import Memory, Request, params_as, register
from qmcsim.memories.dram.memory import DramMemory
from qmcsim.memories.dram.params import DramParams
from qmcsim.memories.dram.replay import replay
from qmcsim.noise.levels import LevelModel
from tests.conftest import DATA

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "qmcsim"

# Where a plain ValueError may still be raised: pydantic validators (the loaders turn them into
# ConfigErrors with the field path) and helpers whose every caller converts it (named here).
CONVERTED_BY_CALLER = {
    ("trace/store.py", "_csv_value"),            # -> TraceError (file, row, column)
    ("accuracy/calibration.py", "select_samples"),   # -> ConfigError calibration.sequence_tokens
    ("models/shape.py", "__post_init__"),         # -> ConfigError (models/load.py)
    ("models/load.py", "_reject_constant"),       # -> ConfigError (models/load.py)
    ("memories/dram/mapping.py", "_log2"),         # -> ConfigError (config/checks.py, sweeps)
    ("memories/dram/mapping.py", "parse"),
}
VALIDATORS = {"field_validator", "model_validator"}


def _decorators(fn: ast.FunctionDef) -> set[str]:
    out = set()
    for d in fn.decorator_list:
        node = d.func if isinstance(d, ast.Call) else d
        out.add(node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", ""))
    return out


def untyped_raises() -> list[str]:
    """Every `assert`, and every plain ValueError/TypeError/KeyError raised outside a pydantic
    validator or a helper in CONVERTED_BY_CALLER, as 'path:line: what'."""
    found: list[str] = []

    def visit(node: ast.AST, rel: str, allowed: bool) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            allowed = bool(_decorators(node) & VALIDATORS) or (rel, node.name) in \
                CONVERTED_BY_CALLER   # type: ignore[arg-type]
        if isinstance(node, ast.Assert):
            found.append(f"{rel}:{node.lineno}: assert")
        elif isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and not allowed:
            name = getattr(node.exc.func, "id", "")
            if name in ("ValueError", "TypeError", "KeyError"):
                found.append(f"{rel}:{node.lineno}: raise {name}")
        for child in ast.iter_child_nodes(node):
            visit(child, rel, allowed)

    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        visit(ast.parse(path.read_text()), rel, False)
    return found


def test_no_assert_and_no_untyped_raise_outside_validators() -> None:
    assert untyped_raises() == []


def test_the_audit_catches_a_bare_assert(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / "qmcsim"
    pkg.mkdir()
    (pkg / "m.py").write_text("def f(x):\n    assert x\n    raise TypeError(x)\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", pkg)
    assert untyped_raises() == ["m.py:2: assert", "m.py:3: raise TypeError"]


# ---- plug-ins
def test_a_plugin_class_with_a_taken_kind_names_itself() -> None:
    class Clash(Memory):
        kind = "dram"

    with pytest.raises(ConfigError, match=r"test_typed_errors\..*Clash: kind: .*'dram'"):
        register(Clash)


def test_a_technology_handed_another_kinds_preset_says_which() -> None:
    flash = load_device("ufs4-nand", file="t", field_path="x")
    with pytest.raises(ConfigError, match=r"ufs4-nand: kind: a DramParams preset expected"):
        params_as(flash, DramParams)
    with pytest.raises(ConfigError, match="DramParams preset expected"):
        DramMemory.replay_trace(Path("unused.csv"), flash, channels=1, request_bytes=None)


def _cells(**over: object) -> SimpleNamespace:   # a plug-in's level fields (LevelCellParams)
    fields = dict(name="pcm-x", bits_per_cell=2, level_means=[0.1, 0.4, 0.6, 0.9],
                  level_sigmas=[0.02] * 4, level_thresholds=None, level_confusion=None,
                  read_noise_sigma=0.0, drift_nu=0.05, drift_t0_s=1.0,
                  stuck_at_low_fraction=0.0, stuck_at_high_fraction=0.0)
    return SimpleNamespace(**{**fields, **over})


@pytest.mark.parametrize(("over", "field"), [
    ({"level_means": [0.1, 0.6, 0.4, 0.9]}, "level_means"),
    ({"level_sigmas": [0.02, 0.0, 0.02, 0.02]}, "level_means"),
    ({"level_means": None}, "level_means"),
    ({"level_confusion": [[1.0, 0.0], [0.0, 1.0]]}, "level_confusion"),
])
def test_a_plugins_level_data_is_checked_with_its_preset_and_field(over: dict, field: str
                                                                   ) -> None:
    LevelModel.from_params(_cells())   # the unmodified fields are fine
    with pytest.raises(ConfigError, match=rf"^pcm-x: {field}: "):
        LevelModel.from_params(_cells(**over))


def test_a_read_time_before_programming_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="read_time_s: a read time > 0 s expected"):
        LevelModel.from_params(_cells(), read_time_s=0.0)


# ---- requests and the simulation
def test_request_is_validated_when_built() -> None:
    with pytest.raises(SimulationError, match="positive size"):
        Request(address=0, nbytes=0, is_write=False, traffic_class="weights")


def test_a_request_past_the_dram_is_a_simulation_error() -> None:
    params = load_device("lpddr5-6400-x16", file="t", field_path="x")
    mem = DramMemory(simpy.Environment(), "dram", params, count=1)
    mem.env.process(mem.serve(Request(address=mem.capacity_bytes - 64, nbytes=128,
                                      is_write=False, traffic_class="weights")))
    with pytest.raises(SimulationError, match="outside memory 'dram'"):
        mem.env.run()


def test_replay_arguments_are_config_errors(tmp_path: Path) -> None:
    params = load_device("lpddr5-6400-x16", file="t", field_path="x")
    trace = tmp_path / "t.csv"
    trace.write_text("0x0,R\n")
    with pytest.raises(ConfigError, match="request_bytes: a multiple of the 32-byte burst"):
        replay(trace, params, request_bytes=48)
    with pytest.raises(ConfigError, match="outstanding: at least 1 expected"):
        replay(trace, params, outstanding=0)


# ---- the CLI: one line, exit code 2, no traceback
def test_cli_a_broken_plugin_is_one_line(tmp_path: Path) -> None:
    """An installed technology whose class takes a kind already registered."""
    site = tmp_path / "site"
    info = site / "clash-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: clash\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[qmcsim.memories]\nclash = clash_tech\n")
    (site / "clash_tech.py").write_text(
        "from qmcsim.memories.base import register\n"
        "from qmcsim.memories.queued import QueuedMemory\n\n\n"
        "@register\nclass Clash(QueuedMemory):\n    kind = 'sram'\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(site)])}
    out = subprocess.run([sys.executable, "-m", "qmcsim", "run", str(DATA / "tiny.yaml"),
                          "--out", str(tmp_path / "results"), "--no-progress"], env=env,
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert "clash_tech.Clash: kind:" in out.stderr and "'sram'" in out.stderr
    assert not (tmp_path / "results").exists()
