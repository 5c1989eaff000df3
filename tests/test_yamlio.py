"""The strict YAML loader over libyaml's events reads every shipped file exactly as the
pure-Python StrictLoader does, and rejects hostile documents with the same messages."""

from __future__ import annotations

import pytest
import yaml

from qmcsim.config.yamlio import StrictCLoader, StrictLoader
from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(StrictCLoader is None, reason="PyYAML without libyaml")

HOSTILE = {
    "duplicate key": ("a: 1\nb: 2\na: 3\n", "duplicate key 'a'"),
    "deep nesting": ("x: " + "[" * 100 + "]" * 100 + "\n", "nesting deeper than 64 levels"),
    "long integer": ("x: " + "7" * 50 + "\n", "an integer of at most 40 digits expected"),
    "recursive alias": ("a: &a [*a]\n", "recursive alias"),
    "billion laughs": ("a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 9) + "]\n"
        for i in range(8)), "once aliases are expanded"),
}


def test_shipped_yaml_reads_the_same_with_libyaml():
    files = sorted(ROOT.glob("hw_configs/**/*.yaml")) + sorted(ROOT.glob("tests/**/*.yaml"))
    assert len(files) > 20
    for path in files:
        text = path.read_text(encoding="utf-8")
        pure = yaml.load(text, Loader=StrictLoader)  # noqa: S506
        fast = yaml.load(text, Loader=StrictCLoader)  # noqa: S506
        assert repr(fast) == repr(pure), path


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_documents_fail_alike(name):
    text, message = HOSTILE[name]
    said = []
    for loader in (StrictLoader, StrictCLoader):
        with pytest.raises(yaml.YAMLError) as exc:
            yaml.load(text, Loader=loader)  # noqa: S506
        said.append(str(exc.value.problem))
    assert message in said[0] and said[0] == said[1]


def test_cached_documents_are_fresh_copies_with_aliases_kept():
    import copy

    from qmcsim.config.yamlio import _parse_cached

    text = "x: &a [1, {b: 2.5, c: null}]\ny: *a\nz: {s: text, t: 2026-12-02}\n"
    first, second = _parse_cached(text), _parse_cached(text)
    assert first == second == copy.deepcopy(first)
    assert first["x"] is first["y"]          # an alias stays one object, as deepcopy keeps it
    first["x"][1]["b"] = 0                   # a caller's edit stays in its copy
    assert second["x"][1]["b"] == 2.5 and _parse_cached(text)["y"][1]["b"] == 2.5
