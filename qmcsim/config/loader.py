"""Load a run config: YAML, `--set` overrides, validation, cross-checks, preset resolution."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qmcsim.compute import ComputeParams
from qmcsim.config.devices import load_device
from qmcsim.config.presets import load_raw_preset
from qmcsim.config.schema import RunConfig, SystemConfig
from qmcsim.config.sourced import rewrap_sourced, unwrap_sourced
from qmcsim.config.checks import check_bounds, check_resolved
from qmcsim.config.yamlio import load_validated, validate_strict
from qmcsim.errors import ConfigError
from qmcsim.formats.base import COMPONENT_NAMES, format_registry
from qmcsim.memories.base import DeviceParams
from qmcsim.models.load import load_model
from qmcsim.models.shape import ModelShape


@dataclass(frozen=True, kw_only=True)
class ResolvedSystem:
    index: int
    config: SystemConfig
    devices: dict[str, DeviceParams]
    compute: ComputeParams

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def field_path(self) -> str:
        return f"systems[{self.index}]"


@dataclass(frozen=True, kw_only=True)
class ResolvedRun:
    file: str
    config: RunConfig
    model: ModelShape
    systems: tuple[ResolvedSystem, ...]
    baseline: str

    def to_dict(self) -> dict[str, Any]:
        """The fully resolved config: the run config plus every preset it named, sourced."""
        out = self.config.model_dump(mode="json")
        out["baseline"] = self.baseline
        out["resolved_model"] = {"name": self.model.name, "source": self.model.source,
                                 "family": self.model.family,
                                 "parameters": self.model.num_parameters,
                                 "published_parameters": self.model.published_parameters}
        out["resolved_presets"] = {}
        for system in self.systems:
            devices = {}
            for mem, params in system.devices.items():
                devices[mem] = rewrap_sourced(params.model_dump(mode="json"), params.sources)
            compute = rewrap_sourced(system.compute.model_dump(mode="json", exclude_none=True),
                                     system.compute.sources)
            out["resolved_presets"][system.name] = {"memories": devices, "compute": compute}
        return out


def load_compute(name: str, *, file: str, field_path: str) -> ComputeParams:
    raw, path = load_raw_preset("compute", name, file=file, field_path=field_path)
    values, sources = unwrap_sourced(raw, file=str(path))
    values["sources"] = sources
    params = validate_strict(ComputeParams, values, str(path))
    check_bounds(params.model_dump(), str(path))
    return params


def _check_system(system: SystemConfig, where: str, file: str) -> None:
    placement = system.placement.model_dump()
    for key, mem in placement.items():
        if mem is not None and mem not in system.memories:
            raise ConfigError(file, f"{where}.placement.{key}",
                              f"a memory of this system expected ({', '.join(system.memories)}),"
                              f" got {mem!r}")
    if system.onchip_buffer is not None and system.onchip_buffer not in system.memories:
        raise ConfigError(file, f"{where}.onchip_buffer",
                          f"a memory of this system expected ({', '.join(system.memories)}), "
                          f"got {system.onchip_buffer!r}")
    needed = set(_components_of(system))
    for comp in COMPONENT_NAMES:
        if comp in needed and placement.get(comp) is None:
            raise ConfigError(file, f"{where}.placement.{comp}",
                              f"format {system.format.kind!r} stores {comp}: name a memory")


def _components_of(system: SystemConfig) -> list[str]:
    from qmcsim.models.shape import Tensor

    probe = Tensor(name="probe", tensor_class="mlp", layer=0, rows=64, cols=64)
    return [c.name for c in system.format.layout(probe, "full")]


def load_run(path: str | Path, overrides: list[str] | None = None) -> ResolvedRun:
    path = Path(path)
    file = str(path)
    cfg = load_validated(path, RunConfig, overrides, drop_loc=frozenset(format_registry()))
    names = [s.name for s in cfg.systems]
    for i, name in enumerate(names):
        if names.index(name) != i:
            raise ConfigError(file, f"systems[{i}].name", f"unique names expected, {name!r} "
                              "appears twice")
    baseline = cfg.baseline or next((s.name for s in cfg.systems if s.format.kind == "fp16"),
                                    None)
    if baseline is None:
        raise ConfigError(file, "systems", "an FP16 system expected (the baseline of the ratios)")
    if baseline not in names:
        raise ConfigError(file, "baseline", f"one of the systems' names expected, got {baseline!r}")
    for i, system in enumerate(cfg.systems):
        _check_system(system, f"systems[{i}]", file)
    model = load_model(cfg.model, file=file, field_path="model", base_dir=path.parent)
    default_compute = load_compute(cfg.compute, file=file, field_path="compute")
    systems = []
    for i, system in enumerate(cfg.systems):
        where = f"systems[{i}]"
        devices = {mem: load_device(mc.preset, mc.params, file=file,
                                    field_path=f"{where}.memories.{mem}")
                   for mem, mc in system.memories.items()}
        compute = default_compute if system.compute is None else load_compute(
            system.compute, file=file, field_path=f"{where}.compute")
        systems.append(ResolvedSystem(index=i, config=system, devices=devices, compute=compute))
    run = ResolvedRun(file=file, config=cfg, model=model, systems=tuple(systems),
                      baseline=baseline)
    check_resolved(run)   # bounds of every number, unit counts (qmcsim/config/checks.py)
    return run
