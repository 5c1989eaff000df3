"""Stored traces: round trips, chunked writing and streaming reading, malformed files."""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from qmcsim.config.schema import WorkloadConfig
from qmcsim.errors import TraceError
from qmcsim.formats.fp16 import Fp16Format
from qmcsim.formats.qmc import QmcFormat
from qmcsim.models.load import load_model
from qmcsim.trace.generate import Step
from qmcsim.trace.standalone import standalone_builder
from qmcsim.trace.store import NAMES, read_steps, scan_trace, trace_metadata, write_trace

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def steps() -> list[Step]:
    model = load_model("smollm2-135m", file="test", field_path="model")
    workload = WorkloadConfig(prompt_tokens=12, generate_tokens=5, prefill_chunk_tokens=8)
    return list(standalone_builder(model, workload, QmcFormat(),
                                   onchip_buffer_bytes=0).steps())


@pytest.mark.parametrize("csv_format", [False, True])
def test_round_trip(tmp_path: Path, steps: list[Step], csv_format: bool) -> None:
    out = write_trace(tmp_path / "t", steps, csv_format=csv_format, metadata={"model": "m"})
    assert out.steps == len(steps)
    assert list(read_steps(out.path)) == steps
    info = scan_trace(out.path)
    assert (info.steps, info.rows, info.memories) == (len(steps), out.rows, {"dram"})
    assert info.phases == {"prefill": 2, "decode": 5}
    assert trace_metadata(out.path) == ({} if csv_format
                                        else {"trace_schema": "1", "model": "m"})


def test_written_and_read_in_chunks(tmp_path: Path, steps: list[Step]) -> None:
    # the writer flushes a chunk at the first step boundary past rows_per_chunk rows
    out = write_trace(tmp_path / "t.parquet", steps, rows_per_chunk=500)
    assert pq.ParquetFile(out.path).metadata.num_row_groups == len(steps)
    two_steps = write_trace(tmp_path / "t2.parquet", steps, rows_per_chunk=3000)
    assert pq.ParquetFile(two_steps.path).metadata.num_row_groups < len(steps)
    for path in (out.path, write_trace(tmp_path / "t.csv", steps, csv_format=True).path):
        consumed: list[int] = []
        reader = read_steps(path, on_row=consumed.append, rows_per_chunk=100)
        first = next(reader)   # streaming: the first step arrives before the file is read
        assert first == steps[0]
        step_rows = 1 + sum(1 + len(op.accesses) for op in steps[0].ops)
        assert step_rows <= sum(consumed) + 100 and sum(consumed) <= step_rows
        assert [first, *reader] == steps
        assert sum(consumed) == out.rows


def test_no_partial_file_on_error(tmp_path: Path, steps: list[Step]) -> None:
    def broken():
        yield steps[0]
        raise RuntimeError("generator failed")

    target = tmp_path / "t.parquet"
    with pytest.raises(RuntimeError):
        write_trace(target, broken(), rows_per_chunk=10)
    assert list(tmp_path.iterdir()) == []


def test_shipped_examples_replay() -> None:
    shipped = sorted((REPO / "traces").glob("*.parquet")) + sorted((REPO / "traces").glob("*.csv"))
    assert shipped
    for path in shipped:
        assert path.stat().st_size < 2_000_000
        info = scan_trace(path)
        assert info.phases.get("decode", 0) >= 1


def test_external_csv_with_required_columns_only(tmp_path: Path) -> None:
    path = tmp_path / "ext.csv"
    path.write_text("step,phase,operator,traffic_class,memory,nbytes,is_write\n"
                    "0,prefill,mlp,weights,dram,100,0\n"
                    "0,prefill,mlp,activations,sram,10,true\n"
                    "0,prefill,attn,kv_cache,dram,30,1\n"
                    "1,decode,mlp,weights,dram,100,0\n")
    steps = list(read_steps(path))
    assert [(s.index, s.phase, len(s.ops)) for s in steps] == [(0, "prefill", 2),
                                                                (1, "decode", 1)]
    assert [a.nbytes for a in steps[0].ops[0].accesses] == [100, 10]
    assert steps[0].ops[1].accesses[0].is_write


# --- malformed files ------------------------------------------------------------------------

def write_csv(path: Path, rows: list[list[object]], header: tuple[str, ...] = NAMES) -> Path:
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    return path


GOOD = [0, "decode", 5, 1, 0, 3, "mlp_up", "weights", "mlp", "layers.3.up_proj", "codes",
        "dram", 0, 1024, 0, 0]


def one_line(exc: TraceError) -> str:
    message = str(exc)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(("column", "value", "expected"), [
    ("nbytes", -1, ">= 0"),
    ("traffic_class", "weight", "one of"),
    ("tensor_class", "conv", "one of"),
    ("component", "codebook", "one of"),
    ("phase", "generate", "one of"),
    ("nbytes", "12kB", "an integer"),
    ("is_write", "maybe", "0/1"),
    ("address", -8, ">= 0"),
    ("memory", "", "memory name"),
    ("op", "", "a value expected"),
    ("op", -2, ">= 0"),
    ("tokens", 0, ">= 1"),
    ("step", "", "a value expected"),
])
def test_bad_value_names_file_row_column(tmp_path: Path, column: str, value: object,
                                         expected: str) -> None:
    bad = list(GOOD)
    bad[NAMES.index(column)] = value
    path = write_csv(tmp_path / "bad.csv", [GOOD, GOOD, bad])
    with pytest.raises(TraceError) as info:
        scan_trace(path)
    assert (info.value.row, info.value.column) == (3, column)
    message = one_line(info.value)
    assert str(path) in message and "row 3" in message and column in message
    assert expected in message


def test_missing_column(tmp_path: Path, steps: list[Step]) -> None:
    header = tuple(n for n in NAMES if n != "nbytes")
    path = write_csv(tmp_path / "bad.csv", [[v for n, v in zip(NAMES, GOOD, strict=True)
                                             if n != "nbytes"]], header)
    with pytest.raises(TraceError) as info:
        scan_trace(path)
    assert info.value.column == "nbytes" and "missing" in one_line(info.value)
    table = pq.read_table(write_trace(tmp_path / "t.parquet", steps).path)
    pq.write_table(table.drop_columns(["traffic_class"]), tmp_path / "no_class.parquet")
    with pytest.raises(TraceError) as info:
        scan_trace(tmp_path / "no_class.parquet")
    assert info.value.column == "traffic_class"


def test_negative_size_in_parquet(tmp_path: Path, steps: list[Step]) -> None:
    table = pq.read_table(write_trace(tmp_path / "t.parquet", steps).path)
    nbytes = table.column("nbytes").to_pylist()
    nbytes[41] = -5
    table = table.set_column(NAMES.index("nbytes"), "nbytes", pa.array(nbytes, pa.int64()))
    pq.write_table(table, tmp_path / "neg.parquet", row_group_size=16)
    with pytest.raises(TraceError) as info:
        scan_trace(tmp_path / "neg.parquet")
    assert (info.value.row, info.value.column) == (42, "nbytes")


def test_wrong_column_type_in_parquet(tmp_path: Path, steps: list[Step]) -> None:
    table = pq.read_table(write_trace(tmp_path / "t.parquet", steps).path)
    table = table.set_column(NAMES.index("nbytes"), "nbytes",
                             table.column("nbytes").cast(pa.string()))
    pq.write_table(table, tmp_path / "str.parquet")
    with pytest.raises(TraceError) as info:
        scan_trace(tmp_path / "str.parquet")
    assert info.value.column == "nbytes" and "int" in one_line(info.value)


def test_truncated_parquet(tmp_path: Path, steps: list[Step]) -> None:
    path = write_trace(tmp_path / "t.parquet", steps).path
    data = path.read_bytes()
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(TraceError) as info:
        scan_trace(cut)
    assert str(cut) in one_line(info.value) and "truncated" in str(info.value)


def test_truncated_csv(tmp_path: Path, steps: list[Step]) -> None:
    path = write_trace(tmp_path / "t.csv", steps, csv_format=True).path
    data = path.read_bytes()
    rows = data.count(b"\n") - 1
    cut = tmp_path / "cut.csv"
    cut.write_bytes(data[: len(data) - 7])   # mid-row
    with pytest.raises(TraceError) as info:
        scan_trace(cut)
    assert info.value.row == rows and "truncated" in one_line(info.value)


def test_steps_must_ascend(tmp_path: Path) -> None:
    later = list(GOOD)
    later[0] = 1
    path = write_csv(tmp_path / "bad.csv", [later, GOOD])
    with pytest.raises(TraceError) as info:
        scan_trace(path)
    assert (info.value.row, info.value.column) == (2, "step")


def test_empty_and_missing_files(tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_text("")
    for path in (tmp_path / "empty.csv", tmp_path / "absent.parquet"):
        with pytest.raises(TraceError) as info:
            scan_trace(path)
        assert str(path) in one_line(info.value)
    header_only = write_csv(tmp_path / "header.csv", [])
    with pytest.raises(TraceError):
        scan_trace(header_only)


def test_readme_documents_every_column() -> None:
    readme = (REPO / "traces" / "README.md").read_text()
    assert all(f"| `{name}` |" in readme for name in NAMES)


def test_shipped_fp16_example_matches_generation() -> None:
    model = load_model("smollm2-135m", file="test", field_path="model")
    workload = WorkloadConfig(prompt_tokens=32, generate_tokens=8)
    fresh = standalone_builder(model, workload, Fp16Format(), onchip_buffer_bytes=4 * 2**20)
    stored = REPO / "traces" / "smollm2-135m-p32-g8-fp16.parquet"
    assert list(read_steps(stored)) == list(fresh.steps())
