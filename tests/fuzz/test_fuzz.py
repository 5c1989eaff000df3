"""Property-based fuzzing (hypothesis) of every input qmcsim reads: run configs, model
config.json files, stored traces and replay traces.

The property, for every mutated input: either a clean refusal (exit code 2, one `error:` line,
no traceback, nothing written) or a successful run. Mutations are drawn from a small catalogue
of edge values (bools, zero, negatives, huge and non-finite numbers, wrong types, paths, deep
and aliased YAML) placed at random fields, plus random byte flips, insertions and truncations.
Examples are few and the inputs small (SmolLM2-135M, a handful of tokens), so the suite adds
seconds, not minutes; CASES counts the examples each test draws (reported in docs/guarantees.md).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from qmcsim.cli import main
from qmcsim.errors import TraceError
from tests.conftest import DATA, ROOT

# examples per test; QMCSIM_FUZZ_SCALE=N multiplies them for a longer campaign off the suite
_SCALE = int(os.environ.get("QMCSIM_FUZZ_SCALE", "1"))
CASES = {name: n * _SCALE for name, n in {
    "run_config": 8, "run_config_text": 8, "model_json": 20, "csv_trace": 25,
    "parquet_trace": 25, "replay_trace": 8}.items()}
FUZZ = dict(deadline=None, derandomize=_SCALE == 1, database=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture,
                                   HealthCheck.too_slow])

EDGE_VALUES = st.sampled_from([
    True, False, None, 0, -1, 1, 3, 12, 2**31, 2**64, 10**30, -1e-300, 1e-300, 1e300,
    math.inf, -math.inf, math.nan, 0.5, "", "x", "auto", "../../../etc/passwd", "/dev/null",
    [], [1, 2], {}, {"value": 1}, {"value": 1, "source": "s"}, "a" * 300,
])

# shipped run configs, shrunk to a small model and workload so accepted mutations run in ~1 s
SHIPPED = [DATA / "tiny.yaml", ROOT / "hw_configs" / "hymba-qmc.yaml",
           ROOT / "hw_configs" / "hymba-qmc-paper.yaml"]
SMALL = ["--set", "workload.prompt_tokens=4", "--set", "workload.generate_tokens=1",
         "--no-progress"]


def small_config(path: Path) -> dict[str, Any]:
    cfg = yaml.safe_load(path.read_text())
    cfg["model"] = "smollm2-135m"
    cfg.pop("weights", None)
    for system in cfg["systems"]:
        for mem in system["memories"].values():
            if isinstance(mem.get("count"), int) and mem["count"] > 64:
                mem["count"] = "auto"
    return cfg


def paths_of(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key / index path in a nested config (the places a mutation can hit)."""
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            out += paths_of(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += paths_of(value, (*prefix, i))
    return out


@st.composite
def mutated_config(draw: st.DrawFn) -> dict[str, Any]:
    cfg = small_config(draw(st.sampled_from(SHIPPED)))
    for _ in range(draw(st.integers(1, 2))):
        places = paths_of(cfg)
        place = draw(st.sampled_from(places))
        parent = cfg
        for key in place[:-1]:
            parent = parent[key]
        kind = draw(st.sampled_from(["delete", "edge", "nudge"]))
        value = parent[place[-1]]
        if kind == "delete" and isinstance(parent, dict):
            del parent[place[-1]]
        elif kind == "nudge" and isinstance(value, (int, float)) and \
                not isinstance(value, bool):
            # a plausible neighbour: the runs that are accepted exercise the simulator
            factor = draw(st.sampled_from([0.5, 2, 3, 10]))
            parent[place[-1]] = type(value)(value * factor) if isinstance(value, float) \
                else max(1, int(value * factor))
        else:
            parent[place[-1]] = draw(EDGE_VALUES)
    return cfg


def call(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def assert_clean(code: int, out: str, err: str) -> None:
    """Exit 0, or exit 2 with exactly one error line; never a traceback."""
    event(f"exit {code}")
    assert "Traceback" not in out + err, err
    assert code in (0, 2), (code, err)
    if code == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), err


@pytest.fixture
def scratch(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
            ) -> Path:
    folder = tmp_path_factory.mktemp("fuzz")
    monkeypatch.chdir(folder)
    return folder


def _fresh(folder: Path) -> Path:
    """An empty sub-folder per example (hypothesis reuses the function's fixtures)."""
    n = len(list(folder.iterdir()))
    sub = folder / f"ex{n:04d}"
    sub.mkdir()
    return sub


@settings(max_examples=CASES["run_config"], **FUZZ)
@given(cfg=mutated_config())
def test_mutated_run_configs(capsys, scratch: Path, cfg: dict[str, Any]) -> None:
    here = _fresh(scratch)
    (here / "c.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    code, out, err = call(capsys, "run", str(here / "c.yaml"), "--out", str(here / "res"),
                          *SMALL)
    assert_clean(code, out, err)
    if code == 2:
        assert files_under(here) == {"c.yaml"}
    else:
        assert len(list((here / "res").iterdir())) == 1


@settings(max_examples=CASES["run_config_text"], **FUZZ)
@given(data=st.data())
def test_mutated_run_config_text(capsys, scratch: Path, data: st.DataObject) -> None:
    text = yaml.safe_dump(small_config(data.draw(st.sampled_from(SHIPPED))), sort_keys=False)
    kind = data.draw(st.sampled_from(["flip", "insert", "truncate", "duplicate"]))
    at = data.draw(st.integers(0, len(text) - 1))
    if kind == "flip":
        text = text[:at] + data.draw(st.sampled_from(list("{}[]:&*!|>-#'\"\t\x00 \n9."))) + \
            text[at + 1:]
    elif kind == "insert":
        text = text[:at] + data.draw(st.sampled_from(
            ["&a ", "*a", "<<: ", "[" * 100, "\n  ", ": ", "9" * 60, ".inf", "true"])) + text[at:]
    elif kind == "truncate":
        text = text[:at]
    else:
        lines = text.splitlines(keepends=True)
        i = data.draw(st.integers(0, len(lines) - 1))
        text = "".join(lines[:i + 1] + [lines[i]] + lines[i + 1:])
    here = _fresh(scratch)
    (here / "c.yaml").write_text(text)
    code, out, err = call(capsys, "run", str(here / "c.yaml"), "--out", str(here / "res"),
                          *SMALL)
    assert_clean(code, out, err)
    if code == 2:
        assert files_under(here) == {"c.yaml"}


MODEL_JSON = yaml.safe_load((ROOT / "hw_configs" / "models" / "smollm2-135m.yaml")
                            .read_text())["config"]
MODEL_FIELDS = sorted(k for k, v in MODEL_JSON.items() if not isinstance(v, (dict, list)))


@settings(max_examples=CASES["model_json"], **FUZZ)
@given(field=st.sampled_from([*MODEL_FIELDS, "sliding_window", "head_dim", "layer_types"]),
       value=EDGE_VALUES, also_scale=st.booleans())
def test_mutated_model_config_json(capsys, scratch: Path, field: str, value: Any,
                                   also_scale: bool) -> None:
    cfg = {**MODEL_JSON, field: value, "num_hidden_layers": 2}
    if also_scale:
        cfg["use_sliding_window"] = True
    here = _fresh(scratch)
    text = json.dumps(cfg, allow_nan=True)
    (here / "config.json").write_text(text)
    code, out, err = call(capsys, "trace", "--model", str(here / "config.json"), "--prompt",
                          "2", "--generate", "1", "--csv", "-o", str(here / "t.csv"))
    assert_clean(code, out, err)
    assert ("t.csv" in files_under(here)) == (code == 0)
    assert not any(name.endswith(".part") for name in files_under(here))


QMC_CSV = (ROOT / "traces" / "smollm2-135m-p32-g8-qmc.csv").read_bytes()
SMALL_CSV = b"".join(QMC_CSV.splitlines(keepends=True)[:400])
FP16_PARQUET = ROOT / "traces" / "smollm2-135m-p32-g8-fp16.parquet"


@settings(max_examples=CASES["csv_trace"], **FUZZ)
@given(data=st.data())
def test_mutated_csv_trace(scratch: Path, data: st.DataObject) -> None:
    from qmcsim.trace.store import scan_trace

    raw = bytearray(SMALL_CSV)
    for _ in range(data.draw(st.integers(1, 3))):
        if not raw:
            break
        at = data.draw(st.integers(0, len(raw) - 1))
        kind = data.draw(st.sampled_from(["byte", "cell", "cut"]))
        if kind == "byte":
            raw[at] = data.draw(st.integers(0, 255))
        elif kind == "cell":
            cell = data.draw(st.sampled_from([b"-1", b"1e300", b"nan", b"99999999999999999999999",
                                              b"", b"true", b"\xff\xfe", b",", b'"']))
            raw[at:at] = cell
        else:
            del raw[at:]
    here = _fresh(scratch)
    (here / "t.csv").write_bytes(bytes(raw))
    try:
        info = scan_trace(here / "t.csv")
    except TraceError as exc:
        event("refused")
        assert "\n" not in str(exc)
    else:
        event("accepted")
        assert info.steps >= 1 and all(v >= 0 for v in info.max_end.values())


def _steps(path: Path) -> list[Any]:
    from qmcsim.trace.store import read_steps

    return list(read_steps(path))


ORIGINAL_STEPS: list[Any] = []


@settings(max_examples=CASES["parquet_trace"], **FUZZ)
@given(at=st.integers(0, FP16_PARQUET.stat().st_size - 1), bit=st.integers(0, 7))
def test_flipped_bit_in_a_parquet_trace_never_changes_results_silently(
        scratch: Path, at: int, bit: int) -> None:
    from qmcsim.trace.store import trace_metadata

    if not ORIGINAL_STEPS:
        ORIGINAL_STEPS.extend(_steps(FP16_PARQUET))
    data = bytearray(FP16_PARQUET.read_bytes())
    data[at] ^= 1 << bit
    here = _fresh(scratch)
    (here / "t.parquet").write_bytes(bytes(data))
    try:
        steps = _steps(here / "t.parquet")
        trace_metadata(here / "t.parquet")
    except TraceError as exc:
        event("refused")
        assert "\n" not in str(exc)
    else:
        event("same steps")
        assert steps == ORIGINAL_STEPS


@settings(max_examples=CASES["replay_trace"], **FUZZ)
@given(memory=st.sampled_from(["qmc-mram", "lpddr5-6400-x16"]),
       lines=st.lists(st.one_of(
           st.builds(lambda a: f"LD {a:#x}", st.integers(0, 2**70)),
           st.builds(lambda a: f"ST {a}", st.integers(-5, 2**20)),
           st.builds(lambda a, c: f"{a},R,{c}", st.integers(0, 2**20), st.integers(-1, 10**21)),
           st.sampled_from(["", "# c", "LD", "LD 0x40 0x80", "XX 0x40", "0x40,Q", "\x00\xff",
                            "LD 0x" + "f" * 40, "address,op"])), min_size=1, max_size=6),
       csv=st.booleans(), channels=st.sampled_from(["1", "2", "3", "0", "-1"]))
def test_mutated_replay_traces(capsys, scratch: Path, memory: str, lines: list[str],
                               csv: bool, channels: str) -> None:
    here = _fresh(scratch)
    path = here / ("t.csv" if csv else "t.trace")
    path.write_bytes("".join(f"{x}\n" for x in lines).encode("utf-8", "surrogateescape"))
    code, out, err = call(capsys, "replay", str(path), "--memory", memory, "--channels",
                          channels)
    assert_clean(code, out, err)

