"""One weight matrix through a variant: quantize (deterministic, cached across seeds), then read
back through the devices' errors (per seed). numpy only.

QMC: inlier codes (in row-major order of the inlier positions) are what the `codes` device
stores; outlier codes (the per-row `outlier_bits` grid over the outliers, as qmc_quantize
builds it) are what the `outlier_values` device stores. Scales, zero points and outlier
positions are stored without error.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from qmcsim.errors import ConfigError, InternalError
from qmcsim.accuracy.config import Variant
from qmcsim.formats.base import Accounting, Component
from qmcsim.formats.calibration import LayerCalibration
from qmcsim.formats.quantize import Quantized, qmc_quantize, rtn_per_channel, top_magnitude_mask
from qmcsim.noise.inject import BitFlipNoise, LevelNoise, NoiseModel, perturb_codes, perturb_fp16
from qmcsim.noise.mapping import code_error_table
from qmcsim.noise.scale_search import search_multipliers
from qmcsim.formats.qmc import QmcFormat
from qmcsim.models.shape import Tensor, TensorClass


@dataclass(frozen=True, kw_only=True)
class QuantizedTensor:
    q: Quantized
    clean: np.ndarray                      # de-quantized without device errors
    outliers: Quantized | None = None      # QMC: the outlier codes, when they are noisy
    mse_multiplier_mean: float | None = None
    chosen_multiplier_mean: float | None = None


def error_table(noise: NoiseModel, code_bits: int) -> np.ndarray:
    """Per-code expected squared code error table for the scale search."""
    if isinstance(noise, LevelNoise):
        return code_error_table(noise.model.confusion(), code_bits, noise.cell_bits,
                                noise.mapping)
    return np.full(2**code_bits, noise.bit_error_rate * sum(4**b for b in range(code_bits)))


def quantize_tensor(w: np.ndarray, variant: Variant,
                    calibration: LayerCalibration | None = None) -> QuantizedTensor:
    """`calibration`: the layer's input statistics, used by calibrated formats (required)."""
    w = np.asarray(w, dtype=np.float32)
    fmt = variant.fmt
    if variant.calibrated:
        if calibration is None:
            raise ConfigError(f"variant {variant.name}", "calibration", f"the layer's "
                              f"calibration statistics expected (format {variant.kind!r} is "
                              "calibrated)")
        q = fmt.quantize(w, calibration=calibration)  # type: ignore[call-arg]
        return QuantizedTensor(q=q, clean=q.dequantize())
    if variant.kind != "qmc":
        q = fmt.quantize(w)
        return QuantizedTensor(q=q, clean=q.dequantize())
    if not isinstance(fmt, QmcFormat):
        raise InternalError(f"variant {variant.name!r}: a qmc format expected")
    rho, ib, ob = fmt.rho, fmt.inlier_bits, fmt.outlier_bits
    mult: float | np.ndarray = 1.0
    mse_mean = chosen_mean = None
    if variant.config.scale_search != "none":
        inl = top_magnitude_mask(w, rho)
        aware = variant.config.scale_search == "noise_aware" and "codes" in variant.noise
        found = search_multipliers(w, ib, inlier_mask=inl, error_table=error_table(
            variant.noise["codes"], ib) if aware else None)
        mult = found.multipliers
        mse_mean, chosen_mean = float(np.mean(found.mse_multipliers)), float(np.mean(mult))
    q = qmc_quantize(w, rho, ib, ob, inlier_scale_multiplier=mult)
    outliers = None
    if "outlier_values" in variant.noise:
        if q.inlier_mask is None:
            raise InternalError("a QMC quantization without its inlier mask")
        outliers = rtn_per_channel(w, ob, mask=~q.inlier_mask)
    return QuantizedTensor(q=q, clean=q.dequantize(), outliers=outliers,
                           mse_multiplier_mean=mse_mean, chosen_multiplier_mean=chosen_mean)


def read_back(qt: QuantizedTensor, variant: Variant,
              rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """The weights as read from the devices, and the fraction of stored codes that changed."""
    if not variant.noisy:
        return qt.clean, 0.0
    q = qt.q
    codes_noise = variant.noise.get("codes")
    if variant.kind == "fp16":
        read = perturb_fp16(q.codes, codes_noise, rng)
        changed = float(np.mean(read.view(np.uint16) != np.asarray(q.codes).view(np.uint16)))
        return read.astype(np.float32), changed
    mask = q.inlier_mask if q.inlier_mask is not None else np.ones(q.codes.shape, bool)
    stored = q.codes[mask]
    read_codes = perturb_codes(stored, q.code_bits, codes_noise, rng)
    changed_n = int(np.sum(read_codes != stored))
    total_n = stored.size
    codes = q.codes.copy()
    codes[mask] = read_codes
    if qt.outliers is not None:
        out_stored = qt.outliers.codes[~mask]
        out_read = perturb_codes(out_stored, qt.outliers.code_bits,
                                 variant.noise["outlier_values"], rng)
        changed_n += int(np.sum(out_read != out_stored))
        total_n += out_stored.size
        out_codes = qt.outliers.codes.copy()
        out_codes[~mask] = out_read
        q = dataclasses.replace(q, outlier_values=np.where(
            mask, 0.0, qt.outliers.dequantize(out_codes)).astype(np.float32))
    return q.dequantize(codes), changed_n / max(total_n, 1)


def stored_layout(variant: Variant, name: str, w: np.ndarray, q: Quantized,
                  accounting: Accounting) -> tuple[Component, ...]:
    """What the format stores for this tensor: outlier counts as the quantizer chose them
    (`layout_of`, SqueezeLLM / SpQR), else the layout measured on the weights."""
    kind: TensorClass = "mlp" if ".mlp." in name or name.startswith("mlp.") else "attention"
    tensor = Tensor(name=name, tensor_class=kind, layer=None, rows=w.shape[0], cols=w.shape[1])
    layout_of = getattr(variant.fmt, "layout_of", None)
    if layout_of is not None:
        parts: tuple[Component, ...] = layout_of(tensor, q)
        return parts if accounting == "full" else tuple(c for c in parts if not c.metadata)
    return variant.fmt.layout(tensor, accounting, weights=w)


def relative_error(w: np.ndarray, w_hat: np.ndarray) -> float:
    w64 = np.asarray(w, np.float64)
    den = float(np.sum(w64**2))
    return float(np.sum((w64 - w_hat) ** 2)) / den if den > 0 else 0.0


__all__ = ["BitFlipNoise", "QuantizedTensor", "error_table", "quantize_tensor", "read_back",
           "relative_error"]
