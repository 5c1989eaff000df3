"""Stored traces: the columnar schema (traces/README.md), a chunked writer (Parquet row groups
or CSV) and a streaming, validating reader that yields one Step at a time.

One row per memory access, plus one `compute` row per operator carrying its flops (so an
operator without accesses survives a round trip). Rows of one step are contiguous and steps
ascend; rows of one operator are contiguous. Neither the writer nor the reader ever holds more
than one step plus one chunk of rows, so traces of any length stream in bounded memory.

External traces are checked row by row; the first problem raises TraceError naming the file,
the 1-based data row (the header is not counted) and the column. Callers that must not act on
a bad trace run `scan_trace` (one full streaming pass) before replaying it.
"""

from __future__ import annotations

import csv
import json
import math
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from qmcsim.errors import InternalError, TraceError
from qmcsim.formats.base import COMPONENT_NAMES
from qmcsim.models.shape import MATRIX_CLASSES
from qmcsim.trace.generate import TRAFFIC_CLASSES, Access, OpStep, Step

SCHEMA_VERSION = "1"
COMPUTE = "compute"
ROW_CLASSES: tuple[str, ...] = (*TRAFFIC_CLASSES, COMPUTE)
PHASES: tuple[str, ...] = ("prefill", "decode")
TENSOR_CLASSES: frozenset[str] = frozenset(MATRIX_CLASSES | {"norm", "bias", "meta"})
PARQUET_MAGIC = b"PAR1"
ROWS_PER_CHUNK = 65_536
# Plausibility bounds on stored values (qmcsim's own traces stay far below them)
MAX_FLOPS_PER_ROW = 1e18       # one operator of one step: 2 x 1e9 weights x 5e8 tokens
MAX_TOKEN = 2**31 - 1          # token positions and tokens per step
MAX_BYTE = 2**62               # addresses and sizes (a memory of 4 EiB)


@dataclass(frozen=True)
class Column:
    name: str
    kind: str           # int, str, bool, float
    required: bool
    nullable: bool
    doc: str


COLUMNS: tuple[Column, ...] = (
    Column("step", "int", True, False, "step index, from 0; ascending, rows of a step together"),
    Column("phase", "str", True, False, "prefill or decode"),
    Column("token", "int", False, False, "0-based position of the step's first new token "
           "(meta tokens included); default 0"),
    Column("tokens", "int", False, False, "new tokens per sequence in the step (>= 1); "
           "default 1"),
    Column("op", "int", False, False, "operator index within the step; default: a new "
           "operator wherever (layer, operator) changes"),
    Column("layer", "int", False, True, "decoder layer, empty outside the layers "
           "(embedding, final norm, LM head)"),
    Column("operator", "str", True, False, "operator name (qkv_proj, attn_core, mlp_up, ...)"),
    Column("traffic_class", "str", True, False, "weights, kv_cache, ssm_state, activations; "
           "compute for the operator's flops row"),
    Column("tensor_class", "str", False, True, "weights: attention, mlp, ssm, embeddings, "
           "lm_head, norm, bias, meta"),
    Column("tensor", "str", False, True, "weights: tensor name (HF state-dict key without "
           "'model.')"),
    Column("component", "str", False, True, "weights: stored component (codes, scales, "
           "outlier_values, outlier_indices)"),
    Column("memory", "str", True, True, "memory (stream) serving the access; empty only on "
           "compute rows"),
    Column("address", "int", False, False, "first byte of the range in that memory; "
           "default 0"),
    Column("nbytes", "int", True, False, "bytes moved, >= 0 (0 on compute rows)"),
    Column("is_write", "bool", True, False, "1 = write, 0 = read (CSV also true/false)"),
    Column("flops", "float", False, False, "operations of the operator (compute rows); "
           "default 0"),
)
COLUMN_BY_NAME = {c.name: c for c in COLUMNS}
_ARROW = {"int": pa.int64(), "str": pa.string(), "bool": pa.bool_(), "float": pa.float64()}
_NARROW = {"step": pa.int32(), "tokens": pa.int32(), "op": pa.int32(), "layer": pa.int32()}
SCHEMA = pa.schema([pa.field(c.name, _NARROW.get(c.name, _ARROW[c.kind]), nullable=c.nullable)
                    for c in COLUMNS])
NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)


# --- writing --------------------------------------------------------------------------------

def step_rows(step: Step) -> Iterator[tuple[Any, ...]]:
    """The rows of one step, in COLUMNS order."""
    head = (step.index, step.phase, step.first_token, step.tokens)
    for i, op in enumerate(step.ops):
        yield (*head, i, op.layer, op.operator, COMPUTE, None, None, None, None, 0, 0, False,
               float(op.flops))
        for a in op.accesses:
            yield (*head, i, op.layer, op.operator, a.traffic_class, a.tensor_class, a.tensor,
                   a.component, a.memory, a.address, a.nbytes, a.is_write, 0.0)


@dataclass(frozen=True, kw_only=True)
class WriteSummary:
    path: Path
    file_format: str
    steps: int
    rows: int
    nbytes: int


def write_trace(path: str | Path, steps: Iterable[Step], *, csv_format: bool = False,
                metadata: dict[str, Any] | None = None,
                rows_per_chunk: int = ROWS_PER_CHUNK) -> WriteSummary:
    """Write `steps` to `path` (Parquet, or CSV with `csv_format`), one chunk of rows at a time.

    The file appears only when complete: rows go to a unique temporary file beside `path`
    (qmcsim.results.atomic_file), renamed at the end; on any error it is removed. Parquet
    pages carry CRC checksums, verified on every read.
    """
    from qmcsim.results import atomic_file

    path = Path(path)
    n_steps = n_rows = 0
    with atomic_file(path) as tmp:
        writer: _ParquetSink | _CsvSink = (_CsvSink(tmp) if csv_format
                                           else _ParquetSink(tmp, metadata or {}))
        with writer:
            buffer: list[tuple[Any, ...]] = []
            for step in steps:
                n_steps += 1
                buffer.extend(step_rows(step))
                if len(buffer) >= rows_per_chunk:
                    writer.write(buffer)
                    n_rows += len(buffer)
                    buffer = []
            writer.write(buffer)
            n_rows += len(buffer)
    return WriteSummary(path=path, file_format="csv" if csv_format else "parquet",
                        steps=n_steps, rows=n_rows, nbytes=path.stat().st_size)


class _ParquetSink:
    def __init__(self, path: Path, metadata: dict[str, Any]) -> None:
        meta = {b"qmcsim.trace_schema": SCHEMA_VERSION.encode()}
        meta.update({f"qmcsim.{k}".encode(): json.dumps(v).encode() for k, v in metadata.items()})
        self.writer = pq.ParquetWriter(path, SCHEMA.with_metadata(meta), compression="zstd",
                                       write_page_checksum=True)

    def write(self, rows: list[tuple[Any, ...]]) -> None:
        if rows:
            columns = list(zip(*rows, strict=True))
            self.writer.write_table(pa.Table.from_arrays(
                [pa.array(col, type=f.type) for col, f in zip(columns, SCHEMA, strict=True)],
                schema=SCHEMA))

    def __enter__(self) -> _ParquetSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.writer.close()


class _CsvSink:
    def __init__(self, path: Path) -> None:
        self.file = open(path, "w", newline="", encoding="utf-8")
        self.writer = csv.writer(self.file, lineterminator="\n")
        self.writer.writerow(NAMES)

    def write(self, rows: list[tuple[Any, ...]]) -> None:
        self.writer.writerows(tuple(_csv_cell(v) for v in row) for row in rows)

    def __enter__(self) -> _CsvSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.file.close()


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def trace_metadata(path: str | Path) -> dict[str, Any]:
    """The qmcsim.* key-value metadata of a Parquet trace (empty for CSV)."""
    path = Path(path)
    if not _is_parquet(path):
        return {}
    raw = _open_parquet(path).schema_arrow.metadata or {}
    out: dict[str, Any] = {}
    for k, v in raw.items():
        if not k.startswith(b"qmcsim."):
            continue
        try:
            key = k.decode()[len("qmcsim."):]
            out[key] = v.decode() if k == b"qmcsim.trace_schema" else json.loads(v)
        except (ValueError, RecursionError):
            raise TraceError(str(path), None, None, f"valid JSON expected in the Parquet "
                             f"metadata key {k[:60]!r}") from None
    return out


# --- reading --------------------------------------------------------------------------------

Batch = tuple[int, dict[str, list[Any]]]   # (1-based row number of the first row, columns)


def _is_parquet(path: Path) -> bool:
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):   # not /dev/zero, a FIFO, a folder
            raise TraceError(str(path), None, None, "a regular file expected")
        with open(path, "rb") as f:
            return f.read(4) == PARQUET_MAGIC
    except FileNotFoundError:
        raise TraceError(str(path), None, None, "file does not exist") from None
    except OSError as exc:
        raise TraceError(str(path), None, None, f"unreadable ({exc.strerror})") from None


def _open_parquet(path: Path) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(path, page_checksum_verification=True)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise TraceError(str(path), None, None, "a complete Parquet file expected "
                         f"(truncated or corrupt: {_first_line(exc)})") from None


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _arrow_kind_ok(kind: str, t: pa.DataType) -> bool:
    if pa.types.is_dictionary(t):
        t = t.value_type
    if kind == "int":
        return pa.types.is_integer(t)
    if kind == "float":
        return pa.types.is_integer(t) or pa.types.is_floating(t)
    if kind == "bool":
        return pa.types.is_boolean(t)
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _check_header(file: str, names: Iterable[str]) -> list[str]:
    present = [n for n in names if n in COLUMN_BY_NAME]
    for c in COLUMNS:
        if c.required and c.name not in present:
            raise TraceError(file, None, c.name, "required column missing (needs "
                             f"{', '.join(x.name for x in COLUMNS if x.required)})")
    return present


def _parquet_batches(path: Path, rows_per_chunk: int) -> Iterator[Batch]:
    file = str(path)
    pf = _open_parquet(path)
    schema = pf.schema_arrow
    present = _check_header(file, schema.names)
    for name in present:
        t = schema.field(name).type
        if not _arrow_kind_ok(COLUMN_BY_NAME[name].kind, t):
            raise TraceError(file, None, name, f"{COLUMN_BY_NAME[name].kind} values expected, "
                             f"column type is {t}")
    row = 1
    it = pf.iter_batches(batch_size=rows_per_chunk, columns=present)
    while True:
        try:
            batch = next(it)
        except StopIteration:
            return
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise TraceError(file, row, None, "readable rows expected (truncated or corrupt: "
                             f"{_first_line(exc)})") from None
        yield row, {name: batch.column(name).to_pylist() for name in present}
        row += batch.num_rows


def _csv_value(kind: str, text: str) -> Any:
    if text == "":
        return None
    if kind == "int":
        return int(text)
    if kind == "float":
        value = float(text)
        if not math.isfinite(value):
            raise ValueError(text)
        return value
    if kind == "bool":
        return _BOOLS[text.lower()]
    return text


_BOOLS = {"0": False, "1": True, "false": False, "true": True}
_EXPECTED = {"int": "an integer", "float": "a finite number", "bool": "0/1 or true/false",
             "str": "text"}


def _csv_batches(path: Path, rows_per_chunk: int) -> Iterator[Batch]:
    file = str(path)
    ends_with_newline = False
    with open(path, "rb") as raw:
        raw.seek(0, os.SEEK_END)
        size = raw.tell()
        if size:
            raw.seek(size - 1)
            ends_with_newline = raw.read(1) == b"\n"
    if not size:
        raise TraceError(file, None, None, "empty file (a header row expected)")
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        try:
            header = next(reader)
        except csv.Error as exc:
            raise TraceError(file, None, None, f"a CSV header expected ({exc})") from None
        except UnicodeDecodeError:
            raise TraceError(file, None, None, "UTF-8 text expected (a binary file, or a "
                             "Parquet file without its PAR1 magic bytes?)") from None
        present = _check_header(file, header)
        index = {name: header.index(name) for name in present}
        kinds = {name: COLUMN_BY_NAME[name].kind for name in present}
        cols: dict[str, list[Any]] = {name: [] for name in present}
        first = row = 1
        try:
            for fields in reader:
                if len(fields) != len(header):
                    raise TraceError(file, row, None, f"{len(header)} fields expected, got "
                                     f"{len(fields)}" + (" (truncated file?)"
                                                         if len(fields) < len(header) else ""))
                for name in present:
                    text = fields[index[name]]
                    try:
                        cols[name].append(_csv_value(kinds[name], text))
                    except (ValueError, KeyError):
                        raise TraceError(file, row, name, f"{_EXPECTED[kinds[name]]} expected, "
                                         f"got {text!r}") from None
                if row - first + 1 >= rows_per_chunk:
                    yield first, cols
                    cols = {name: [] for name in present}
                    first = row + 1
                row += 1
        except csv.Error as exc:
            raise TraceError(file, row, None, f"valid CSV expected ({exc})") from None
        except UnicodeDecodeError:
            raise TraceError(file, row, None, "UTF-8 text expected (a binary file, or a "
                             "Parquet file without its PAR1 magic bytes?)") from None
        if not ends_with_newline and row > 1:
            raise TraceError(file, row - 1, None, "the last row does not end with a newline "
                             "(truncated file?)")
        if cols[present[0]]:
            yield first, cols


def _batches(path: Path, rows_per_chunk: int) -> Iterator[Batch]:
    if rows_per_chunk < 1:
        raise InternalError(f'"rows_per_chunk" must be >= 1, got {rows_per_chunk}')
    return (_parquet_batches(path, rows_per_chunk) if _is_parquet(path)
            else _csv_batches(path, rows_per_chunk))


def _range(value: int, low: int, high: int) -> str:
    return f">= {low} expected, got {value}" if value < low else \
        f"at most {high:,} expected, got {value:,}"


def _bad(file: str, row: int, column: str, expected: str) -> TraceError:
    return TraceError(file, row, column, expected)


@dataclass
class _StepBuilder:
    index: int
    phase: str
    first_token: int
    tokens: int
    ops: list[OpStep]


def _check_enum(file: str, row: int, column: str, value: Any, allowed: Iterable[str],
                nullable: bool) -> None:
    if value is None and nullable:
        return
    if value not in allowed:
        raise _bad(file, row, column, f"one of {', '.join(sorted(allowed))} expected, "
                   f"got {value!r}")


def read_steps(path: str | Path, on_row: Callable[[int], None] | None = None, *,
               rows_per_chunk: int = ROWS_PER_CHUNK) -> Iterator[Step]:
    """Stream the steps of a stored trace, validating every row; TraceError on the first
    problem. Reads `rows_per_chunk` rows at a time; `on_row` (tests, progress) is told the
    row count of each chunk once it is consumed."""
    path = Path(path)
    file = str(path)
    current: _StepBuilder | None = None
    op_key: tuple[Any, ...] | None = None
    op_name: tuple[Any, Any] = (None, None)
    accesses: list[Access] = []
    flops = 0.0
    last_row = 0

    def close_op() -> None:
        nonlocal accesses, flops
        if current is not None and op_key is not None:
            current.ops.append(OpStep(layer=op_name[0], operator=op_name[1],
                                      accesses=tuple(accesses), flops=flops))
        accesses, flops = [], 0.0

    def finish() -> Step:
        if current is None:
            raise InternalError("a trace step finished before it started")
        return Step(index=current.index, phase=current.phase,  # type: ignore[arg-type]
                    tokens=current.tokens, context=current.first_token + current.tokens,
                    ops=tuple(current.ops))

    for start, cols in _batches(path, rows_per_chunk):
        n = len(cols["step"])
        get = {name: cols.get(name) for name in NAMES}
        for i in range(n):
            row = start + i
            last_row = row
            step = get["step"][i]  # type: ignore[index]
            phase = get["phase"][i]  # type: ignore[index]
            token = get["token"][i] if get["token"] is not None else 0
            tokens = get["tokens"][i] if get["tokens"] is not None else 1
            layer = get["layer"][i] if get["layer"] is not None else None
            operator = get["operator"][i]  # type: ignore[index]
            cls = get["traffic_class"][i]  # type: ignore[index]
            memory = get["memory"][i]  # type: ignore[index]
            address = get["address"][i] if get["address"] is not None else 0
            nbytes = get["nbytes"][i]  # type: ignore[index]
            is_write = get["is_write"][i]  # type: ignore[index]
            op_flops = get["flops"][i] if get["flops"] is not None else 0.0
            for name, value in (("step", step), ("phase", phase), ("token", token),
                                ("tokens", tokens), ("operator", operator),
                                ("traffic_class", cls), ("address", address),
                                ("nbytes", nbytes), ("is_write", is_write),
                                ("flops", op_flops)):
                if value is None:
                    raise _bad(file, row, name, "a value expected, the cell is empty")
            if step < 0:
                raise _bad(file, row, "step", f">= 0 expected, got {step}")
            _check_enum(file, row, "phase", phase, PHASES, False)
            if not 0 <= token <= MAX_TOKEN:
                raise _bad(file, row, "token", _range(token, 0, MAX_TOKEN))
            if not 1 <= tokens <= MAX_TOKEN:
                raise _bad(file, row, "tokens", _range(tokens, 1, MAX_TOKEN))
            if layer is not None and layer < 0:
                raise _bad(file, row, "layer", f">= 0 or empty expected, got {layer}")
            if not operator:
                raise _bad(file, row, "operator", "a non-empty name expected")
            _check_enum(file, row, "traffic_class", cls, ROW_CLASSES, False)
            if not 0 <= address <= MAX_BYTE:
                raise _bad(file, row, "address", _range(address, 0, MAX_BYTE))
            if not 0 <= nbytes <= MAX_BYTE:
                raise _bad(file, row, "nbytes", _range(nbytes, 0, MAX_BYTE))
            if not math.isfinite(op_flops) or not 0 <= op_flops <= MAX_FLOPS_PER_ROW:
                raise _bad(file, row, "flops", f"a finite number in [0, {MAX_FLOPS_PER_ROW:g}] "
                           f"expected, got {op_flops}")

            # step boundaries
            if current is None or step != current.index:
                if current is not None:
                    if step < current.index:
                        raise _bad(file, row, "step", f"ascending steps expected, {step} "
                                   f"after {current.index}")
                    close_op()
                    yield finish()
                current = _StepBuilder(index=step, phase=phase, first_token=token,
                                       tokens=tokens, ops=[])
                op_key = None
            else:
                for name, value, expected in (("phase", phase, current.phase),
                                              ("token", token, current.first_token),
                                              ("tokens", tokens, current.tokens)):
                    if value != expected:
                        raise _bad(file, row, name, f"one value per step expected: step "
                                   f"{step} has {expected!r}, this row {value!r}")
            # operator boundaries
            key = ((get["op"][i],) if get["op"] is not None else (layer, operator))
            if key[0] is None and get["op"] is not None:
                raise _bad(file, row, "op", "a value expected, the cell is empty")
            if get["op"] is not None and key[0] < 0:  # type: ignore[operator]
                raise _bad(file, row, "op", f">= 0 expected, got {key[0]}")
            if key != op_key:
                if get["op"] is not None and op_key is not None and \
                        key[0] < op_key[0]:
                    raise _bad(file, row, "op", f"ascending operator indices expected, "
                               f"{key[0]} after {op_key[0]}")
                close_op()
                op_key, op_name = key, (layer, operator)
            elif (layer, operator) != op_name:
                raise _bad(file, row, "operator", f"one operator per op index expected: "
                           f"op {key[0]} is {op_name[1]!r} (layer {op_name[0]}), this row "
                           f"{operator!r} (layer {layer})")
            flops += op_flops
            if cls == COMPUTE:
                if nbytes != 0:
                    raise _bad(file, row, "nbytes", f"0 expected on a compute row, got {nbytes}")
                continue
            if not memory:
                raise _bad(file, row, "memory", "a memory name expected on an access row")
            tensor_class = get["tensor_class"][i] if get["tensor_class"] is not None else None
            component = get["component"][i] if get["component"] is not None else None
            _check_enum(file, row, "tensor_class", tensor_class, TENSOR_CLASSES, True)
            _check_enum(file, row, "component", component, COMPONENT_NAMES, True)
            accesses.append(Access(
                memory=memory, address=address, nbytes=nbytes, is_write=bool(is_write),
                traffic_class=cls, component=component, tensor_class=tensor_class,
                tensor=get["tensor"][i] if get["tensor"] is not None else None))
        if on_row is not None:
            on_row(n)
    if current is None:
        raise TraceError(file, None, None, f"at least one row expected (rows read: {last_row})")
    close_op()
    yield finish()


@dataclass(frozen=True, kw_only=True)
class TraceInfo:
    """What one validating pass over a trace found."""

    path: Path
    steps: int
    rows: int
    memories: frozenset[str]
    phases: dict[str, int]
    max_end: dict[str, int]    # memory -> highest byte an access reaches (address + nbytes)


def scan_trace(path: str | Path) -> TraceInfo:
    """Validate a whole trace in one streaming pass; TraceError on the first bad row."""
    memories: set[str] = set()
    phases: dict[str, int] = {}
    max_end: dict[str, int] = {}
    rows = 0

    def count(n: int) -> None:
        nonlocal rows
        rows += n

    steps = 0
    for step in read_steps(path, on_row=count):
        steps += 1
        phases[step.phase] = phases.get(step.phase, 0) + 1
        for op in step.ops:
            for a in op.accesses:
                memories.add(a.memory)
                if a.nbytes and a.address + a.nbytes > max_end.get(a.memory, 0):
                    max_end[a.memory] = a.address + a.nbytes
    return TraceInfo(path=Path(path), steps=steps, rows=rows, memories=frozenset(memories),
                     phases=phases, max_end=max_end)
