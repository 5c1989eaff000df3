"""Typed errors. The library raises these; only the CLI prints them and picks exit codes."""

from __future__ import annotations


class QmcsimError(Exception):
    """Base class of every error qmcsim raises on purpose."""


class ConfigError(QmcsimError):
    """Bad input: names the file, the field path inside it, and what was expected."""

    def __init__(self, file: str, field_path: str, expected: str) -> None:
        self.file = str(file)
        self.field_path = field_path or "<top level>"
        self.expected = expected
        super().__init__(f"{self.file}: {self.field_path}: {expected}")

    def __reduce__(self):  # type: ignore[no-untyped-def]
        # pickled by its fields (it crosses process boundaries from run and sweep workers)
        return type(self), (self.file, self.field_path, self.expected)


class CapacityError(ConfigError):
    """A placement does not fit the memory it was assigned to."""


class TraceError(QmcsimError):
    """A trace file is malformed: names the file, the row and the column."""

    def __init__(self, file: str, row: int | None, column: str | None, expected: str) -> None:
        self.file, self.row, self.column, self.expected = str(file), row, column, expected
        where = ", ".join(p for p in (f"row {row}" if row is not None else "",
                                       f"column {column!r}" if column else "") if p)
        super().__init__(f"{self.file}: {where or '<file>'}: {expected}")

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return type(self), (self.file, self.row, self.column, self.expected)


class SimulationError(QmcsimError):
    """The simulator reached a state its model does not allow (a bug or an impossible config)."""


class InternalError(QmcsimError):
    """An internal invariant broke: a bug in qmcsim (or in a technology module), not in the
    input. Raised explicitly where `assert` would vanish under `python -O`."""
