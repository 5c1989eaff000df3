"""The technology contract: only qmcsim/memories/ knows technology kinds and their classes;
everyone else asks the registry. And the answers the registry gives (area roles, one
statistics helper, Request checks, the one capacity formula)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import simpy

from qmcsim.errors import SimulationError
from qmcsim.memories.base import (ClassStats, Memory, MemoryUnits, Request, registry,
                                  technology)

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "qmcsim"


def _technology_names() -> tuple[set[str], set[str], set[str]]:
    """(kinds, class names, technology module names) of every registered technology."""
    kinds, classes, modules = set(), set(), set()
    for kind, cls in registry().items():
        kinds.add(kind)
        for c in (cls, cls.params_class):
            if c.__module__.startswith("qmcsim.memories.") and c.__name__ not in (
                    "DeviceParams", "QueuedMemory", "Memory"):
                classes.add(c.__name__)
        modules.add(cls.__module__)
        modules.add(cls.params_class.__module__)
    modules.discard("qmcsim.memories.base")
    return kinds, classes, modules


def violations(source: str) -> list[str]:
    """Where `source` names a technology: a kind compared or collected as a literal, a
    technology's class, or an import from a technology module."""
    kinds, classes, modules = _technology_names()
    tree = ast.parse(source)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare | ast.Set | ast.Tuple | ast.List):
            for sub in ast.walk(node):
                if isinstance(sub, ast.Constant) and sub.value in kinds:
                    found.append(f"line {sub.lineno}: kind {sub.value!r}")
        elif isinstance(node, ast.Dict):
            for key in node.keys:
                if isinstance(key, ast.Constant) and key.value in kinds:
                    found.append(f"line {key.lineno}: kind {key.value!r} as a key")
        elif isinstance(node, ast.Name) and node.id in classes:
            found.append(f"line {node.lineno}: class {node.id}")
        elif isinstance(node, ast.ImportFrom) and node.module is not None and any(
                node.module == m or node.module.startswith(m + ".") or m.startswith(
                    node.module + ".") and any(a.name == m.rsplit(".", 1)[1]
                                               for a in node.names) for m in modules):
            found.append(f"line {node.lineno}: import from {node.module}")
        elif isinstance(node, ast.ImportFrom) and any(a.name in classes for a in node.names):
            found.append(f"line {node.lineno}: imports a technology class")
    return found


def test_the_detector_catches_what_the_old_code_did():
    assert violations('NVM_KINDS = frozenset({"reram", "mram"})')
    assert violations('if params.kind == "dram":\n    pass')
    assert violations("from qmcsim.memories.reram import ReramParams")
    assert violations("isinstance(p, DramParams)")
    assert not violations('place = {"codes": "main"}\nmemory = "dram"')


def test_no_module_outside_memories_names_a_technology():
    offenders = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if (PACKAGE / "memories") in path.parents:
            continue
        found = violations(path.read_text())
        if found:
            offenders[str(path.relative_to(ROOT))] = found
    assert offenders == {}


def test_every_technology_answers_its_area_role():
    roles = {kind: cls.area_role for kind, cls in registry().items()}
    assert roles["reram"] == roles["mram"] == "nvm"
    assert roles["flash"] == roles["lpddr"] == "replaced"
    assert roles["sram"] == "none"
    # command-level DRAM states no role: volatile and off the chip, it is what NVM replaces
    from qmcsim.config.devices import load_device

    dram = load_device("lpddr5-6400-x16", file="test", field_path="preset")
    assert technology("dram").role_in_area(dram) == "replaced"


def test_fp16_baseline_area_counts_dram_and_flash_in_run_and_formats():
    """`run`'s weight area of the baseline is what `formats --config` says NVM replaces."""
    from qmcsim.area import area_comparison, weight_area_mm2
    from qmcsim.config.loader import load_run
    from qmcsim.runner import prepare

    run = load_run(ROOT / "hw_configs" / "hymba-qmc.yaml")
    placed = {s.name: (s, p) for s, p in prepare(run)}
    a = area_comparison(*placed["qmc-3bit"], *placed["fp16"])
    fp16 = placed["fp16"][1]
    assert set(a.replaced_mm2) == {"dram", "flash (copy)"}
    assert a.replaced_mm2["dram"] == fp16.footprint("dram").weight_area_mm2 > 100
    assert weight_area_mm2(fp16) == pytest.approx(a.replaced_total_mm2, rel=1e-12)
    assert weight_area_mm2(placed["qmc-3bit"][1]) == pytest.approx(a.nvm_total_mm2, rel=1e-12)


def test_capacity_is_preset_capacity_times_units():
    from qmcsim.config.devices import load_device

    mram = load_device("qmc-mram", file="test", field_path="preset")
    units = MemoryUnits(name="m", params=mram, count=3)
    assert units.capacity_bytes == 3 * mram.capacity_bytes
    assert units.build(simpy.Environment()).capacity_bytes == units.capacity_bytes


@pytest.mark.parametrize("address, nbytes", [(-1, 64), (0, 0), (0, -8)])
def test_request_is_checked_when_built(address: int, nbytes: int):
    with pytest.raises(SimulationError):
        Request(address=address, nbytes=nbytes, is_write=False, traffic_class="weights")


def test_record_adds_parts_and_counts_the_request_once():
    mem = Memory(simpy.Environment(), "m", _any_params(), 1)
    req = Request(address=0, nbytes=128, is_write=True, traffic_class="kv_cache")
    mem.record(req, energy_pj=1.5, queue_ticks=2.0, row_misses=1, complete=False)
    mem.record(req, energy_pj=0.5, row_hits=3, busy_ticks=10.0)
    assert mem.stats.of("kv_cache") == ClassStats(
        write_bytes=128, requests=1, dynamic_energy_pj=2.0, busy_ticks=10.0, queue_ticks=2.0,
        row_hits=3, row_misses=1)


def _any_params():
    from qmcsim.config.devices import load_device

    return load_device("sram-22nm", file="test", field_path="preset")


class _Stuck(Memory):
    """A broken technology: its requests never complete."""

    kind = "stuck-test-only"

    def serve(self, request):
        yield self.env.event()   # never triggered


def test_a_request_no_memory_completes_is_a_simulation_error():
    from qmcsim.engine.simulate import Replay
    from qmcsim.trace.generate import Access, OpStep, Step

    env = simpy.Environment()
    mem = _Stuck(env, "m", _any_params(), 1)
    step = Step(index=0, phase="decode", tokens=1, context=1, ops=(OpStep(
        layer=0, operator="mlp", flops=0.0, accesses=(Access(
            memory="m", address=0, nbytes=64, is_write=False, traffic_class="weights"),)),))
    compute = _any_compute()
    with pytest.raises(SimulationError, match="step 0"):
        Replay({"m": mem}, compute, "fp16", 0.0, include_static=False).run([step])


def _any_compute():
    from qmcsim.config.loader import load_compute

    return load_compute("jetson-agx-orin", file="test", field_path="compute")
