"""Checks of a whole resolved config before anything is simulated.

- Every number is finite and within a physically plausible range stated per field (by the unit
  in its name, see BOUNDS_BY_SUFFIX, or by its exact name, BOUNDS_BY_NAME).
- Every memory's unit count satisfies its model's rules (a DRAM channel count is a power of two
  for the address mapping), both as written and as `count: auto` resolves it.
- A stored trace's accesses fall inside the memories that serve them.

Errors are ConfigError naming the file and the field path.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from qmcsim.errors import ConfigError

if TYPE_CHECKING:
    from qmcsim.config.loader import ResolvedRun, ResolvedSystem
    from qmcsim.memories.base import DeviceParams
    from qmcsim.placement import Placement
    from qmcsim.trace.store import TraceInfo

# (low, high, unit): the unit in a field's name bounds its value (inclusive)
BOUNDS_BY_SUFFIX: tuple[tuple[str, float, float, str], ...] = (
    ("_pj_per_bit", 0.0, 1e6, "pJ/bit"),
    ("_gb_per_s", 1e-3, 1e5, "GB/s (1 MB/s .. 100 TB/s)"),
    ("_mb_per_mm2", 1e-6, 1e6, "Mb/mm^2"),
    ("_mt_per_s", 1.0, 1e6, "MT/s"),
    ("_ns", 0.0, 1e9, "ns (at most 1 s)"),
    ("_pj", 0.0, 1e12, "pJ"),
    ("_mw", 0.0, 1e6, "mW (at most 1 kW)"),
    ("_bytes", 0.0, float(2**50), "bytes (at most 1 PiB)"),
    ("_cycles", 1.0, 1e20, "cycles"),
    ("_gbit", 1.0, 1e6, "Gbit"),
    ("_fp16", 1e-6, 1e6, "TFLOP/s"),
    ("_int8", 1e-6, 1e6, "TOP/s"),
    ("_rate", 0.0, 1.0, "a probability"),
    ("_fraction", 0.0, 1.0, "a fraction"),
)
BOUNDS_BY_NAME: dict[str, tuple[float, float, str]] = {
    "prompt_tokens": (1, 2**20, "tokens"),
    "generate_tokens": (1, 2**20, "tokens"),
    "prefill_chunk_tokens": (1, 2**20, "tokens"),
    "batch": (1, 2**16, "sequences"),
    "count": (1, 2**24, "units"),
    "seed": (0, 2**63 - 1, "a seed"),
}
CYCLE_PREFIX = ("n_", 0.0, 1e6, "clock cycles")
GENERIC_BOUND = 1e15   # any other number: finite and |x| <= this


def bound_of(name: str) -> tuple[float, float, str]:
    if name in BOUNDS_BY_NAME:
        return BOUNDS_BY_NAME[name]
    for suffix, low, high, unit in BOUNDS_BY_SUFFIX:
        if name.endswith(suffix):
            return low, high, unit
    if name.startswith(CYCLE_PREFIX[0]):
        return CYCLE_PREFIX[1], CYCLE_PREFIX[2], CYCLE_PREFIX[3]
    return -GENERIC_BOUND, GENERIC_BOUND, "a number of plausible size"


def _numbers(node: Any, path: str, name: str) -> Iterator[tuple[str, str, float]]:
    """(path, field name, value) of every number under `node` (bools are not numbers)."""
    if isinstance(node, bool) or node is None:
        return
    if isinstance(node, (int, float)):
        yield path, name, node
    elif isinstance(node, Mapping):
        for key, value in node.items():
            if key != "sources":
                yield from _numbers(value, f"{path}.{key}" if path else str(key), str(key))
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from _numbers(value, f"{path}[{i}]", name)


def bounds_problem(values: Mapping[str, Any], prefix: str = "") -> tuple[str, str] | None:
    """The first number outside its field's bounds: (field path, what was expected)."""
    for path, name, value in _numbers(values, prefix, prefix.rsplit(".", 1)[-1]):
        low, high, unit = bound_of(name)
        if isinstance(value, float) and not math.isfinite(value):
            return path, f"a finite number expected, got {value}"
        if not low <= value <= high:
            return path, f"a value in [{low:g}, {high:g}] {unit} expected, got {value:g}"
    return None


def check_bounds(values: Mapping[str, Any], file: str, prefix: str = "") -> None:
    found = bounds_problem(values, prefix)
    if found:
        raise ConfigError(file, *found)


def check_device(params: DeviceParams, *, preset_file: str, run_file: str,
                 params_path: str, overridden: frozenset[str]) -> None:
    """Bounds of every number of a resolved device preset; an overridden field is reported
    against the run config (`params_path`), the others against the preset file."""
    values = params.model_dump()
    for key, value in values.items():
        if key in overridden:
            check_bounds({key: value}, run_file, params_path)
        else:
            check_bounds({key: value}, preset_file)


def unit_count_problem(params: DeviceParams, count: int) -> str | None:
    """What the memory model says about `count` units of `params` (None: fine)."""
    import simpy

    from qmcsim.memories.base import MemoryUnits

    low, high, _ = BOUNDS_BY_NAME["count"]
    if not low <= count <= high:
        return f"a value in [{low:g}, {high:g}] units expected, got {count}"
    try:
        org = getattr(params, "org", None)
        controller = getattr(params, "controller", None)
        if org is not None and controller is not None:   # a DRAM: its address mapping's rules
            from qmcsim.memories.dram.mapping import AddressMapping
            mapping = AddressMapping.parse(controller.address_mapping, org.organisation(),
                                           count)
            _ = mapping.widths   # raises unless every level is a power of two
        MemoryUnits(name="m", params=params, count=count).build(simpy.Environment())
    except (ValueError, ConfigError) as exc:
        text = exc.expected if isinstance(exc, ConfigError) else str(exc)
        return text.replace('"count"', "the unit count")
    return None


def check_resolved(run: ResolvedRun) -> None:
    """Checks that need the resolved presets but no placement: bounds and written counts."""
    check_bounds(run.config.model_dump(), run.file)
    for system in run.systems:
        for mem, mc in system.config.memories.items():
            if mc.count != "auto":
                problem = unit_count_problem(system.devices[mem], int(mc.count))
                if problem:
                    raise ConfigError(run.file, f"{system.field_path}.memories.{mem}.count",
                                      f"{problem} ({system.devices[mem].name})")


def check_prepared(run: ResolvedRun, prepared: list[tuple[ResolvedSystem, Placement]],
                   trace: TraceInfo | None = None) -> None:
    """Checks after placement, before the first step: what `count: auto` resolved to, and
    that a stored trace's accesses fit the memories of every system."""
    for system, placement in prepared:
        for mem, mc in system.config.memories.items():
            if mc.count == "auto":
                count = placement.hardware[mem].count
                problem = unit_count_problem(system.devices[mem], count)
                if problem:
                    raise ConfigError(run.file, f"{system.field_path}.memories.{mem}.count",
                                      f"'auto' resolves to {count} units of "
                                      f"{system.devices[mem].name}, but {problem}; write an "
                                      "explicit count")
        if trace is None:
            continue
        for mem, end in sorted(trace.max_end.items()):
            capacity = placement.hardware[mem].capacity_bytes
            if end > capacity:
                raise ConfigError(run.file, "trace", f"accesses of the stored trace "
                                  f"{str(trace.path)!r} to memory {mem!r} reach byte {end:,}, "
                                  f"beyond its {capacity:,} bytes in system {system.name!r}")
