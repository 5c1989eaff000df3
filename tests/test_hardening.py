"""Issue #14 regression table: every bad input is refused with one line and exit code 2, before
any work, and leaves nothing behind. Each case runs the CLI's main() in-process."""

from __future__ import annotations

import json
import os
import shutil
import stat
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from qmcsim.cli import main
from tests.conftest import DATA, ROOT

TINY = yaml.safe_load((DATA / "tiny.yaml").read_text())
TRACE = ROOT / "traces" / "smollm2-135m-p32-g8-fp16.parquet"
MODEL_JSON = yaml.safe_load((ROOT / "hw_configs" / "models" / "smollm2-135m.yaml")
                            .read_text())["config"]


def run_main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:   # argparse usage errors
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def snapshot(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def assert_refused(code: int, out: str, err: str, fragment: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err + out
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and fragment in lines[0], lines[0]


# --- building the inputs --------------------------------------------------------------------

def tiny(**edits: object) -> dict:
    """tiny.yaml with edits at slash paths (list items by index)."""
    cfg = json.loads(json.dumps(TINY))
    for dotted, value in edits.items():
        node = cfg
        keys = dotted.split("/")
        for k in keys[:-1]:
            node = node[int(k)] if isinstance(node, list) else node[k]
        node[keys[-1]] = value
    return cfg


def yaml_text(cfg: dict) -> str:
    return yaml.safe_dump(cfg, sort_keys=False)


def single_system(preset: str, count: object, model: str = "smollm2-135m") -> dict:
    cfg = tiny(model=model)
    cfg["systems"] = [{"name": "fp16", "format": {"kind": "fp16"},
                       "memories": {"dram": {"preset": preset, "count": count}},
                       "placement": {"codes": "dram", "kv_cache": "dram",
                                     "activations": "dram"}}]
    return cfg


def deep_nesting(depth: int) -> str:
    return yaml_text(TINY) + "extra: " + "[" * depth + "]" * depth + "\n"


BILLION_LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}]\n" for i in range(8)) + yaml_text(TINY)

# name -> (config text, or a function of the scratch folder returning it; expected fragment)
RUN_CASES: dict[str, tuple[str | Callable[[Path], str], str]] = {
    # rules the simulator enforced late
    "dram count 12": (yaml_text(single_system("lpddr5-6400-x16", 12)),
                      "systems[0].memories.dram.count: the unit count must be a power of two"),
    "dram count auto -> 3": (yaml_text(single_system("lpddr5-6400-x16", "auto",
                                                     "llama-3.2-1b")),
                             "'auto' resolves to 3 units"),
    # non-finite and extreme numbers
    "merge_sync_ns .inf": (yaml_text(tiny(**{"systems/1/merge_sync_ns": float("inf")})),
                           "systems[1].merge_sync_ns: a finite number expected"),
    "read_latency_ns .inf": (yaml_text(tiny(**{"systems/0/memories/dram/params": {
        "read_latency_ns": float("inf")}})), "params.read_latency_ns: a finite number"),
    "read_bandwidth 1e-300": (yaml_text(tiny(**{"systems/0/memories/dram/params": {
        "read_bandwidth_gb_per_s": 1e-300}})),
        "params.read_bandwidth_gb_per_s: a value in [0.001, 100000] GB/s"),
    "read_bandwidth .inf": (yaml_text(tiny(**{"systems/0/memories/dram/params": {
        "read_bandwidth_gb_per_s": float("inf")}})), "read_bandwidth_gb_per_s: a finite"),
    "merge_sync_ns 1e300": (yaml_text(tiny(**{"systems/1/merge_sync_ns": 1e300})),
                            "systems[1].merge_sync_ns: a value in [0, 1e+09] ns"),
    "nan energy": (yaml_text(tiny(**{"systems/1/memories/mram/params": {
        "read_energy_pj_per_bit": float("nan")}})), "read_energy_pj_per_bit: a finite"),
    "prompt 1e9 tokens": (yaml_text(tiny(**{"workload/prompt_tokens": 10**9})),
                          "workload.prompt_tokens: a value in [1, 1.04858e+06] tokens"),
    # types and YAML
    "prompt_tokens true": (yaml_text(tiny(**{"workload/prompt_tokens": True})),
                           "workload.prompt_tokens: a number expected, got true"),
    "count true": (yaml_text(tiny(**{"systems/0/memories/dram/count": True})),
                   "systems[0].memories.dram.count: a number expected, got true"),
    "device param true": (yaml_text(tiny(**{"systems/0/memories/dram/params": {
        "static_power_mw": True}})), "params.static_power_mw: a number expected, got true"),
    "duplicate key": (yaml_text(TINY) + "accounting: paper\n",
                      "duplicate key 'accounting'"),
    "5000-deep nesting": (deep_nesting(5000), "nesting deeper than 64 levels"),
    "5000-digit integer": (yaml_text(TINY).replace("prompt_tokens: 16",
                                                   "prompt_tokens: " + "7" * 5000),
                           "an integer of at most 40 digits expected"),
    "billion laughs": (BILLION_LAUGHS, "once aliases are expanded"),
    "recursive alias": ("a: &a [*a]\n" + yaml_text(TINY), "recursive alias"),
    "2 MB document": ("# " + "x" * (2 << 20) + "\n" + yaml_text(TINY),
                      "a YAML file of at most 1,048,576 bytes"),
    "binary config": ("\udcff\udcfe\x00", "UTF-8 text expected"),
    "control character": ("name: a\x00b\n", "special characters are not allowed"),
    # presets are names
    "preset climbs out": (yaml_text(tiny(**{"systems/0/memories/dram/preset":
                                            "../../../../elsewhere/x"})),
                          "a devices preset name expected"),
    "compute preset path": (yaml_text(tiny(compute="/etc/passwd")),
                            "compute: a compute preset name expected"),
}


def model_json(**fields: object) -> dict:
    return {**MODEL_JSON, **fields}


MODEL_CASES: dict[str, tuple[dict, str]] = {
    "zero kv heads": (model_json(num_key_value_heads=0), "num_key_value_heads: at least 1"),
    "zero vocab": (model_json(vocab_size=0), "vocab_size: at least 1"),
    "zero intermediate": (model_json(intermediate_size=0), "intermediate_size: at least 1"),
    "zero hidden": (model_json(hidden_size=0), "hidden_size: at least 1"),
    "sliding_window -5": (model_json(use_sliding_window=True, sliding_window=-5),
                          "sliding_window: at least 0"),
    "sliding_window big": (model_json(use_sliding_window=True, sliding_window="big"),
                           "sliding_window: an integer expected, got 'big'"),
    "zero layers": (model_json(num_hidden_layers=0), "num_hidden_layers: at least 1"),
    "kv heads > heads": (model_json(num_key_value_heads=64),
                         "num_key_value_heads: at most num_attention_heads (9)"),
    "kv heads not a divisor": (model_json(num_key_value_heads=2),
                               "num_key_value_heads: a divisor of num_attention_heads"),
    "10M layers": (model_json(num_hidden_layers=10_000_000),
                   "num_hidden_layers: at most 1,024 expected (qmcsim builds every layer)"),
    "huge model": (model_json(hidden_size=65536, intermediate_size=262144,
                              num_attention_heads=64, num_key_value_heads=64),
                   "a model of at most 200,000,000,000 parameters"),
    "bool layers": (model_json(num_hidden_layers=True), "num_hidden_layers: an integer"),
    "hidden below heads": (model_json(hidden_size=3), "hidden_size: at least"),
    "unknown model type": (model_json(model_type=["llama"]), "model_type: one of"),
}


def _parquet_without_magic(folder: Path) -> Path:
    data = bytearray(TRACE.read_bytes())
    data[:4] = b"XXXX"
    (folder / "t.parquet").write_bytes(bytes(data))
    return folder / "t.parquet"


def _parquet_bad_metadata(folder: Path) -> Path:
    table = pq.read_table(TRACE)
    meta = dict(table.schema.metadata)
    meta[b"qmcsim.model"] = b"{not json"
    pq.write_table(table.replace_schema_metadata(meta), folder / "t.parquet")
    return folder / "t.parquet"


def _parquet_flipped_bit(folder: Path) -> Path:
    md = pq.ParquetFile(TRACE).metadata
    col = md.row_group(0).column(md.schema.names.index("nbytes"))
    data = bytearray(TRACE.read_bytes())
    data[col.data_page_offset + col.total_compressed_size // 2] ^= 0x10
    (folder / "t.parquet").write_bytes(bytes(data))
    return folder / "t.parquet"


def _parquet_with(folder: Path, column: str, value: object) -> Path:
    table = pq.read_table(TRACE)
    values = table.column(column).to_pylist()
    row = next(i for i, r in enumerate(table.column("traffic_class").to_pylist())
               if r == "weights")
    values[row] = value
    out = table.set_column(table.schema.get_field_index(column), column,
                           pa.array(values, type=table.schema.field(column).type))
    pq.write_table(out, folder / "t.parquet")
    return folder / "t.parquet"


def _csv_trace(folder: Path, data: bytes) -> Path:
    (folder / "t.csv").write_bytes(data)
    return folder / "t.csv"


TRACE_CASES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "non-UTF-8 CSV": (lambda f: _csv_trace(f, b"step,phase\n\xff\xfe,x\n"), "UTF-8 text expected"),
    "binary file": (lambda f: _csv_trace(f, bytes(range(256)) * 8), "UTF-8 text expected"),
    "parquet without magic": (_parquet_without_magic, "UTF-8 text expected"),
    "bad JSON metadata": (_parquet_bad_metadata, "valid JSON expected in the Parquet metadata"),
    "flipped bit in a page": (_parquet_flipped_bit, "CRC checksum verification failed"),
    "address beyond memory": (lambda f: _parquet_with(f, "address", 2**40),
                              "beyond its 68,719,476,736 bytes"),
    "size beyond memory": (lambda f: _parquet_with(f, "nbytes", 2**37),
                           "beyond its 68,719,476,736 bytes"),
    "address 2**80": (lambda f: _csv_trace(f, _csv_row(address=str(2**80))),
                      "column 'address': at most"),
    "flops 1e300": (lambda f: _csv_trace(f, _csv_row(flops="1e300")),
                    "column 'flops': a finite number in [0, 1e+18]"),
}


def _csv_row(**cells: str) -> bytes:
    row = {"step": "0", "phase": "prefill", "operator": "mlp_up", "traffic_class": "weights",
           "memory": "dram", "nbytes": "64", "is_write": "0", "address": "0", "flops": "0"}
    row.update(cells)
    return (",".join(row) + "\n" + ",".join(row.values()) + "\n").encode()


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("case", sorted(RUN_CASES))
def test_bad_run_config(capsys, scratch: Path, case: str) -> None:
    text, fragment = RUN_CASES[case]
    (scratch / "bad.yaml").write_text(text if isinstance(text, str) else text(scratch),
                                      encoding="utf-8", errors="surrogateescape")
    before = snapshot(scratch)
    code, out, err = run_main(capsys, "run", "bad.yaml", "--out", "res", "--no-progress")
    assert_refused(code, out, err, fragment)
    assert out == "" and snapshot(scratch) == before


def test_error_never_echoes_another_files_contents(capsys, scratch: Path) -> None:
    secret = scratch / "elsewhere"
    secret.mkdir()
    (secret / "x.yaml").write_text("kind: dram\nsecret_value: 'hunter2'\n")
    cfg = tiny(**{"systems/0/memories/dram/preset": "../../elsewhere/x"})
    (scratch / "bad.yaml").write_text(yaml_text(cfg))
    code, out, err = run_main(capsys, "run", "bad.yaml", "--out", "res")
    assert_refused(code, out, err, "preset name expected")
    assert "hunter2" not in err


@pytest.mark.parametrize("case", sorted(MODEL_CASES))
def test_bad_model_config_json(capsys, scratch: Path, case: str) -> None:
    cfg, fragment = MODEL_CASES[case]
    (scratch / "config.json").write_text(json.dumps(cfg))
    (scratch / "bad.yaml").write_text(yaml_text(tiny(model="config.json")))
    before = snapshot(scratch)
    code, out, err = run_main(capsys, "run", "bad.yaml", "--out", "res")
    assert_refused(code, out, err, fragment)
    assert snapshot(scratch) == before
    code, out, err = run_main(capsys, "trace", "--model", "config.json", "--prompt", "4",
                              "--generate", "1", "-o", "t.parquet")
    assert_refused(code, out, err, fragment)
    assert snapshot(scratch) == before


@pytest.mark.parametrize("case", sorted(TRACE_CASES))
def test_bad_stored_trace(capsys, scratch: Path, case: str) -> None:
    make, fragment = TRACE_CASES[case]
    trace = make(scratch)
    cfg = tiny(trace=trace.name)
    cfg["systems"][1]["memories"]["dram"]["count"] = 16
    (scratch / "run.yaml").write_text(yaml_text(cfg))
    before = snapshot(scratch)
    code, out, err = run_main(capsys, "run", "run.yaml", "--out", "res", "--no-progress")
    assert_refused(code, out, err, fragment)
    assert snapshot(scratch) == before


# --- --out and -o -----------------------------------------------------------------------------

def _out_cases(root: Path) -> dict[str, tuple[str, str]]:
    (root / "afile").write_text("x")
    return {
        "a file": ("afile", "a folder expected, "),
        "under a file": ("afile/res", "is a file"),
        "under /proc": ("/proc/qmcsim-res", "a writable location expected"),
        "/dev/null": ("/dev/null", "a folder expected"),
        "name too long": ("x" * 300, "names of at most 255 bytes"),
    }


@pytest.mark.parametrize("case", ["a file", "under a file", "under /proc", "/dev/null",
                                  "name too long"])
def test_bad_out_is_refused_before_simulating(capsys, scratch: Path, case: str) -> None:
    target, fragment = _out_cases(scratch)[case]
    before = snapshot(scratch)
    code, out, err = run_main(capsys, "run", str(DATA / "tiny.yaml"), "--out", target,
                              "--no-progress")
    assert_refused(code, out, err, fragment)
    assert out == ""   # no report printed: nothing was simulated
    assert snapshot(scratch) == before


def test_unwritable_out_folder_is_refused(capsys, scratch: Path) -> None:
    ro = scratch / "ro"
    ro.mkdir()
    os.chmod(ro, stat.S_IRUSR | stat.S_IXUSR)
    try:
        if os.access(ro, os.W_OK) and os.geteuid() == 0:
            pytest.skip("root writes into read-only folders; /proc case covers it")
        code, out, err = run_main(capsys, "run", str(DATA / "tiny.yaml"), "--out", "ro/res")
        assert_refused(code, out, err, "a writable location expected")
    finally:
        os.chmod(ro, stat.S_IRWXU)


TRACE_ARGS = ["trace", "--model", "smollm2-135m", "--prompt", "4", "--generate", "1"]


@pytest.mark.parametrize("args, fragment", [
    (["--format", "qmc:rho=["], "--format rho: a YAML value expected"),
    (["--format", "qmc:rho"], "--format: FIELD=VALUE expected"),
    (["--format", "qmc:rho=.inf"], "--format"),
    (["--format", "rtn:bits=true"], "--format"),
    (["--format", "nosuch"], "--format"),
    (["--prompt", "100000000"], "--prompt: a value in [1, 1.04858e+06] tokens"),
    (["--onchip-buffer-bytes", "-1"], "--onchip-buffer-bytes: >= 0"),
    (["--model", "../hw_configs/models/x"], "a models preset name expected"),
])
def test_bad_trace_arguments(capsys, scratch: Path, args: list[str], fragment: str) -> None:
    before = snapshot(scratch)
    code, out, err = run_main(capsys, *TRACE_ARGS, "-o", "t.parquet", *args)
    assert_refused(code, out, err, fragment)
    assert snapshot(scratch) == before


@pytest.mark.parametrize("target, fragment", [
    ("/dev/null", "is a device, FIFO or socket (never replaced)"),
    ("/proc/qmcsim.parquet", "a writable location expected"),
    ("afile/t.parquet", "is a file"),
    (".", "is a directory"),
    ("y" * 300 + ".parquet", "a file name of at most"),
])
def test_bad_trace_output(capsys, scratch: Path, target: str, fragment: str) -> None:
    (scratch / "afile").write_text("x")
    before = snapshot(scratch)
    code, out, err = run_main(capsys, *TRACE_ARGS, "-o", target)
    assert_refused(code, out, err, fragment)
    assert snapshot(scratch) == before
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


# --- replay ---------------------------------------------------------------------------------

def _ld(folder: Path, lines: list[str], name: str = "t.trace") -> Path:
    (folder / name).write_text("".join(f"{x}\n" for x in lines))
    return folder / name


@pytest.mark.parametrize("memory, extra, lines, fragment", [
    ("lpddr5-6400-x16", ["--channels", "3"], ["LD 0x40"], "--channels: the unit count must be "
     "a power of two"),
    ("lpddr5-6400-x16", ["--channels", "1099511627776"], ["LD 0x40"], "--channels: an integer "
     "in 1 .. 1024"),
    ("lpddr5-6400-x16", ["--request-bytes", "-64"], ["LD 0x40"], "--request-bytes: an integer "
     "in 1 .."),
    ("qmc-mram", ["--request-bytes", "0"], ["LD 0x40"], "--request-bytes: an integer in 1 .."),
    ("lpddr5-6400-x16", ["--set", "controller.page_policy"], ["LD 0x40"],
     "--set: controller.page_policy: expected field=value"),
    ("lpddr5-6400-x16", ["--set", "controller=1", "--set", "controller.x=2"], ["LD 0x40"],
     "cannot set a field inside it"),
    ("lpddr5-6400-x16", ["--set", "controller.page_policy=["], ["LD 0x40"],
     "a YAML value expected"),
    ("lpddr5-6400-x16", ["--set", "read_latency_ns=.inf"], ["LD 0x40"], "a finite number"),
    ("qmc-mram", [], [f"LD {2**80:#x}"], "an address below the memory's"),
    ("lpddr5-6400-x16", [], [f"LD {2**40:#x}"], "an address below the memory's"),
])
def test_bad_replay_input(capsys, scratch: Path, memory: str, extra: list[str],
                          lines: list[str], fragment: str) -> None:
    trace = _ld(scratch, lines)
    code, out, err = run_main(capsys, "replay", str(trace), "--memory", memory, *extra)
    assert_refused(code, out, err, fragment)
    assert out == ""


@pytest.mark.parametrize("memory, data, fragment", [
    ("lpddr5-6400-x16", bytes(range(256)) * 4, "UTF-8 text expected"),
    ("qmc-mram", b"\x89PNG\r\n\x1a\n" + bytes(200), "UTF-8 text expected"),
    ("lpddr5-6400-x16", b"0x40,R,100000000000000000000\n", "column 'arrival': at most 2**40"),
    ("qmc-mram", b"0x40,R,100000000000000000000\n", "column 'arrival': at most 2**40"),
])
def test_bad_replay_trace_file(capsys, scratch: Path, memory: str, data: bytes,
                               fragment: str) -> None:
    (scratch / "t.csv").write_bytes(data)
    code, out, err = run_main(capsys, "replay", "t.csv", "--memory", memory)
    assert_refused(code, out, err, fragment)


# --- --set on run configs -------------------------------------------------------------------

@pytest.mark.parametrize("assignment, fragment", [
    ("workload.prompt_tokens=[", "a YAML value expected"),
    ("systems[x].name=a", "a dotted field path expected"),
    ("=3", "expected path.to.field=value"),
    ("workload.batch=true", "workload.batch: a number expected, got true"),
    ("systems.fp16.merge_sync_ns=.nan", "systems[0].merge_sync_ns: a finite number"),
])
def test_bad_set_override(capsys, scratch: Path, assignment: str, fragment: str) -> None:
    code, out, err = run_main(capsys, "run", str(DATA / "tiny.yaml"), "--out", "res",
                              "--set", assignment)
    assert_refused(code, out, err, fragment)
    assert not (scratch / "res").exists()


# --- what still works -----------------------------------------------------------------------

def test_shipped_configs_and_presets_pass_every_check() -> None:
    from qmcsim.config.checks import check_prepared
    from qmcsim.config.loader import load_run
    from qmcsim.runner import prepare

    for path in [DATA / "tiny.yaml", *sorted((ROOT / "hw_configs").glob("hymba-*.yaml"))]:
        run = load_run(path)
        check_prepared(run, prepare(run))


def test_yaml_anchors_and_merge_keys_still_load(tmp_path: Path) -> None:
    from qmcsim.config.yamlio import read_yaml_mapping

    path = tmp_path / "a.yaml"
    path.write_text("base: &b {x: 1, y: 2}\nderived:\n  <<: *b\n  y: 3\nlist: [*b, *b]\n")
    assert read_yaml_mapping(path) == {"base": {"x": 1, "y": 2}, "derived": {"x": 1, "y": 3},
                                       "list": [{"x": 1, "y": 2}, {"x": 1, "y": 2}]}


def test_trace_writes_page_checksums_and_no_leftovers(capsys, scratch: Path) -> None:
    code, _, err = run_main(capsys, *TRACE_ARGS, "-o", "t.parquet")
    assert code == 0, err
    assert snapshot(scratch) == {"t.parquet"}
    shutil.copy(scratch / "t.parquet", scratch / "u.parquet")
    md = pq.ParquetFile(scratch / "t.parquet").metadata
    assert md.num_rows > 0
    # the writer asked for checksums: a flipped bit in a data page is found on read
    flipped = _parquet_flipped_bit_of(scratch / "u.parquet")
    from qmcsim.errors import TraceError
    from qmcsim.trace.store import scan_trace
    with pytest.raises(TraceError, match="CRC"):
        scan_trace(flipped)


def _parquet_flipped_bit_of(path: Path) -> Path:
    md = pq.ParquetFile(path).metadata
    col = md.row_group(0).column(md.schema.names.index("nbytes"))
    data = bytearray(path.read_bytes())
    data[col.data_page_offset + col.total_compressed_size // 2] ^= 0x10
    path.write_bytes(bytes(data))
    return path


def test_device_files_are_not_traces(capsys, scratch: Path) -> None:
    cfg = tiny(trace="/dev/zero")
    (scratch / "run.yaml").write_text(yaml_text(cfg))
    code, out, err = run_main(capsys, "run", "run.yaml", "--out", "res")
    assert_refused(code, out, err, "/dev/zero: <file>: a regular file expected")
    code, out, err = run_main(capsys, "replay", "/dev/zero", "--memory", "qmc-mram")
    assert_refused(code, out, err, "/dev/zero: <file>: a regular file expected")
