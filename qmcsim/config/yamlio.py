"""YAML reading with errors that name the file and place, and pydantic errors as field paths.

Every YAML document qmcsim reads goes through a strict safe loader that rejects duplicate
keys, documents nested deeper than MAX_DEPTH, alias expansions larger than MAX_NODES nodes
("billion laughs") or recursive, and integer literals longer than MAX_INT_DIGITS. Files larger
than MAX_DOCUMENT_BYTES are refused before they are parsed. Where PyYAML is built with libyaml,
libyaml scans and parses into events (5-10x faster than PyYAML's pure-Python scanner) and the
same Python composer and constructor as `StrictLoader` build the document, so every check
above runs unchanged; the composer recurses in Python, where MAX_DEPTH stops it.
"""

from __future__ import annotations

import copy
import functools
import math
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from yaml.composer import Composer
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.reader import Reader, ReaderError
from yaml.resolver import Resolver

from qmcsim.errors import ConfigError

M = TypeVar("M", bound=BaseModel)

MAX_DOCUMENT_BYTES = 1 << 20      # 1 MiB; the largest shipped config is a few kB
MAX_DEPTH = 64                    # nesting of mappings and lists
MAX_NODES = 100_000               # nodes after expanding every alias
MAX_INT_DIGITS = 40               # longer integer literals are not physical quantities
MAX_SHOWN_CHARS = 60              # longest value an error message echoes


class _Strict(Composer, SafeConstructor):
    """The limits (depth, alias expansion, integer length) and no duplicate keys, over
    PyYAML's composer and safe constructor (the parser is the loader's)."""

    _depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise ConstructorError(None, None, f"nesting deeper than {MAX_DEPTH} levels",
                                       self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def get_single_node(self) -> Node | None:
        node = super().get_single_node()
        if node is not None:
            _expanded_size(node, {}, set())
        return node

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                key = self.construct_object(key_node, deep=True)
                if key in seen:
                    raise ConstructorError(None, None, f"duplicate key {_shown(key)}",
                                           key_node.start_mark)
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


class StrictLoader(_Strict, yaml.SafeLoader):
    """SafeLoader with limits (depth, alias expansion, integer length) and no duplicate keys."""


def _construct_int(loader: StrictLoader, node: ScalarNode) -> int:
    text = str(node.value)
    if len(text.replace("_", "").lstrip("+-")) > MAX_INT_DIGITS:
        raise ConstructorError(None, None, f"an integer of at most {MAX_INT_DIGITS} digits "
                               f"expected, got one of {len(text)}", node.start_mark)
    return int(yaml.SafeLoader.construct_yaml_int(loader, node))


StrictLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)

try:
    from yaml._yaml import CParser
except ImportError:   # PyYAML built without libyaml
    CParser = None

StrictCLoader: type | None = None
if CParser is not None:
    class _StrictCLoader(_Strict, CParser, Resolver):  # type: ignore[misc,valid-type]
        """StrictLoader's composer and constructor over libyaml's events."""

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            Composer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)

    _StrictCLoader.yaml_constructors = StrictLoader.yaml_constructors
    StrictCLoader = _StrictCLoader


def _expanded_size(node: Node, sizes: dict[int, int], stack: set[int]) -> int:
    """Nodes in the document once every alias is expanded; raises past MAX_NODES."""
    key = id(node)
    if key in sizes:
        return sizes[key]
    if key in stack:
        raise ConstructorError(None, None, "a recursive alias (an anchor used inside itself)",
                               node.start_mark)
    size = 1
    if isinstance(node, (SequenceNode, MappingNode)):
        stack.add(key)
        children = node.value if isinstance(node, SequenceNode) else \
            [n for pair in node.value for n in pair]
        for child in children:
            size += _expanded_size(child, sizes, stack)
            if size > MAX_NODES:
                raise ConstructorError(None, None, f"more than {MAX_NODES:,} values once "
                                       "aliases are expanded", node.start_mark)
        stack.discard(key)
    sizes[key] = size
    return size


def parse_yaml(text: str) -> Any:
    """One YAML document through StrictLoader (yaml.YAMLError on bad or excessive input)."""
    if len(text) > MAX_DOCUMENT_BYTES:
        raise ConstructorError(None, None, f"a document of at most {MAX_DOCUMENT_BYTES:,} "
                               f"characters expected, got {len(text):,}", None)
    if StrictCLoader is None:
        return yaml.load(text, Loader=StrictLoader)  # noqa: S506 (a SafeLoader)
    bad = Reader.NON_PRINTABLE.search(text)   # PyYAML's reader's check and message
    if bad:
        raise ReaderError("<unicode string>", bad.start(), ord(bad.group()), "unicode",
                          "special characters are not allowed")
    return yaml.load(text, Loader=StrictCLoader)  # noqa: S506 (a safe constructor)


def yaml_problem(exc: yaml.YAMLError) -> tuple[str, str]:
    """(where, what) of a YAML error: line and column, and the problem."""
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "<file>"
    problem = getattr(exc, "problem", None) or getattr(exc, "reason", None)
    return where, str(problem) if problem else "malformed YAML"


@functools.lru_cache(maxsize=256)
def _parse_frozen(text: str) -> Any:
    return parse_yaml(text)


def _parse_cached(text: str) -> Any:
    """parse_yaml of a file's text, cached by content: a sweep resolves the same presets for
    every point, and the strict loader is pure Python. Callers get their own copy."""
    return _fresh(_parse_frozen(text), {})


def _fresh(node: Any, seen: dict[int, Any]) -> Any:
    """copy.deepcopy of a parsed document, ~2x faster: new dicts and lists (shared where an
    alias shared them), the immutable scalars reused, anything else deep-copied."""
    kind = type(node)
    if kind is dict or kind is list:
        copied = seen.get(id(node))
        if copied is None:
            if kind is dict:
                copied = seen[id(node)] = {}
                for k, v in node.items():
                    copied[k] = _fresh(v, seen)
            else:
                copied = seen[id(node)] = []
                copied.extend(_fresh(v, seen) for v in node)
        return copied
    if kind in (str, int, float, bool, type(None)):
        return node
    return copy.deepcopy(node)


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_DOCUMENT_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(str(path), "", "file not found") from None
    except OSError as exc:
        raise ConfigError(str(path), "", f"cannot read file ({exc.__class__.__name__})") from None
    if len(data) > MAX_DOCUMENT_BYTES:
        raise ConfigError(str(path), "", f"a YAML file of at most {MAX_DOCUMENT_BYTES:,} bytes "
                          "expected")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(str(path), "", "UTF-8 text expected (binary file?)") from None
    try:
        data_ = _parse_cached(text)
    except yaml.YAMLError as exc:
        where, problem = yaml_problem(exc)
        raise ConfigError(str(path), where, f"valid YAML expected ({problem})") from None
    except RecursionError:   # defence in depth: MAX_DEPTH stops this first
        raise ConfigError(str(path), "", f"nesting deeper than {MAX_DEPTH} levels") from None
    if not isinstance(data_, dict):
        raise ConfigError(str(path), "", "expected a YAML mapping at the top level")
    return data_


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= MAX_SHOWN_CHARS else text[:MAX_SHOWN_CHARS - 3] + "..."


def format_loc(loc: tuple[Any, ...], prefix: str = "") -> str:
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _describe(err: Any) -> str:
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        return "unknown field (check spelling and units in the name)"
    if kind == "missing":
        return "required field is missing"
    value = err.get("input")
    if isinstance(value, float) and not math.isfinite(value):
        return f"a finite number expected, got {value}"
    if kind == "value_error" and isinstance(value, (dict, list)):
        return str(err.get("msg", "invalid value"))   # a record's own check names the value
    shown = _shown(value) if not isinstance(value, (dict, list)) else type(value).__name__
    return f"{err.get('msg', 'invalid value')}, got {shown}"


def validation_to_config_error(exc: ValidationError, file: str, prefix: str = "",
                               drop_loc: frozenset[str] = frozenset()) -> ConfigError:
    """The first pydantic error, as one line: file, field path, what was expected."""
    err = exc.errors()[0]
    loc = tuple(p for p in err["loc"] if p not in drop_loc)
    return ConfigError(file, format_loc(loc, prefix), _describe(err))


def plain_number_problem(raw: Any, validated: Any, loc: tuple[Any, ...] = ()
                         ) -> tuple[tuple[Any, ...], str] | None:
    """The first place where the input was a bool that validation turned into a number, or
    where a number is not finite: (location, what was expected). `validated` is the model's
    `model_dump()`, walked in parallel with the raw input."""
    if isinstance(raw, bool):
        if not isinstance(validated, bool) and isinstance(validated, (int, float)):
            return loc, f"a number expected, got {str(raw).lower()}"
        return None
    if isinstance(validated, float) and not math.isfinite(validated):
        return loc, f"a finite number expected, got {validated}"
    if isinstance(raw, dict) and isinstance(validated, dict):
        for key, value in raw.items():
            if key in validated:
                found = plain_number_problem(value, validated[key], (*loc, key))
                if found:
                    return found
        for key, value in validated.items():   # non-finite defaults or derived values
            if key not in raw and isinstance(value, float) and not math.isfinite(value):
                return (*loc, key), f"a finite number expected, got {value}"
    elif isinstance(raw, list) and isinstance(validated, (list, tuple)):
        for i, (r, v) in enumerate(zip(raw, validated, strict=False)):
            found = plain_number_problem(r, v, (*loc, i))
            if found:
                return found
    return None


def validate_strict(model: type[M], raw: Any, file: str, prefix: str = "",
                    drop_loc: frozenset[str] = frozenset()) -> M:
    """`model.model_validate(raw)`, plus: no bool taken as a number, no inf or nan."""
    try:
        obj = model.model_validate(raw)
    except ValidationError as exc:
        raise validation_to_config_error(exc, file, prefix, drop_loc) from None
    found = plain_number_problem(raw, obj.model_dump())
    if found:
        loc, expected = found
        raise ConfigError(file, format_loc(tuple(p for p in loc if p not in drop_loc), prefix),
                          expected)
    return obj


def load_validated(path: Path, model: type[M], overrides: list[str] | None = None,
                   drop_loc: frozenset[str] = frozenset()) -> M:
    """A YAML file, `--set` overrides applied, validated into `model`; errors as ConfigError."""
    from qmcsim.config.overrides import apply_overrides

    raw = apply_overrides(read_yaml_mapping(path), overrides or [])
    return validate_strict(model, raw, str(path), drop_loc=drop_loc)
