"""Numerical quantization: a tensor in a format's stored form, and back.

`Quantized` keeps what the memories store (integer codes, their scales, outliers) so that the
noise models can perturb the *codes* as a device would, and `dequantize()` rebuilds weights
from (possibly perturbed) codes. Inlier value = (lut[code] if lut else code - zero) * scale;
positions outside `inlier_mask` take `outlier_values`.

With `group_size`, `scale` and `zero` hold one column per group of `group_size` consecutive
input elements (shape (rows, ceil(cols / group_size))) and are expanded along the columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, kw_only=True, eq=False)
class Quantized:
    codes: np.ndarray                      # integer codes, same shape as the weights
    code_bits: int
    scale: np.ndarray                      # broadcasts against codes
    zero: np.ndarray | float = 0.0         # broadcasts against codes
    lut: np.ndarray | None = None          # code -> value table: (2**bits,) or (rows, 2**bits)
    inlier_mask: np.ndarray | None = None  # False where the weight is an outlier
    outlier_values: np.ndarray | None = None  # de-quantized outliers, full shape
    group_size: int | None = None          # scale/zero per group of input elements

    def _expand(self, a: np.ndarray | float, cols: int) -> np.ndarray | float:
        if self.group_size is None or np.ndim(a) < 2:
            return a
        return np.repeat(np.asarray(a), self.group_size, axis=-1)[..., :cols]

    @property
    def full_scale(self) -> np.ndarray | float:
        """`scale` broadcast against the codes (groups expanded)."""
        return self._expand(self.scale, self.codes.shape[-1])

    def dequantize(self, codes: np.ndarray | None = None) -> np.ndarray:
        c = self.codes if codes is None else codes
        scale = self._expand(self.scale, c.shape[-1])
        if self.lut is None:
            values = (c.astype(np.float32) - self._expand(self.zero, c.shape[-1])) * scale
        elif self.lut.ndim == 1:
            values = self.lut[c] * scale
        else:
            values = np.take_along_axis(self.lut, c.astype(np.int64), axis=1) * scale
        values = values.astype(np.float32)
        if self.inlier_mask is not None and self.outlier_values is not None:
            values = np.where(self.inlier_mask, values, self.outlier_values)
        return values


def affine_params(lo: np.ndarray, hi: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Asymmetric uniform grid over [lo, hi] with 2**bits levels: scale and zero point."""
    levels = 2**bits - 1
    scale = (hi - lo) / levels
    scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
    zero = np.round(-lo / scale).astype(np.float32)
    return scale, zero


def affine_codes(w: np.ndarray, scale: np.ndarray, zero: np.ndarray, bits: int) -> np.ndarray:
    return np.clip(np.round(w / scale + zero), 0, 2**bits - 1).astype(np.int16)


def rtn_per_channel(w: np.ndarray, bits: int, mask: np.ndarray | None = None,
                    scale_multiplier: float | np.ndarray = 1.0) -> Quantized:
    """Round-to-nearest, asymmetric, one scale and zero point per output row.

    With `mask`, the grid covers only the masked entries (QMC inliers).
    `scale_multiplier` shrinks or widens the min-max range (used by scale searches).
    """
    w = np.asarray(w, dtype=np.float32)
    if mask is None:
        lo, hi = w.min(axis=1, keepdims=True), w.max(axis=1, keepdims=True)
    else:
        lo = np.where(mask, w, np.inf).min(axis=1, keepdims=True)
        hi = np.where(mask, w, -np.inf).max(axis=1, keepdims=True)
        empty = ~np.isfinite(lo)
        lo, hi = np.where(empty, 0.0, lo), np.where(empty, 0.0, hi)
    mult = np.asarray(scale_multiplier, dtype=np.float32).reshape(-1, 1) \
        if np.ndim(scale_multiplier) else np.float32(scale_multiplier)
    centre = (lo + hi) / 2
    lo, hi = centre + (lo - centre) * mult, centre + (hi - centre) * mult
    scale, zero = affine_params(lo, hi, bits)
    return Quantized(codes=affine_codes(w, scale, zero, bits), code_bits=bits, scale=scale,
                     zero=zero, inlier_mask=mask)


def top_magnitude_mask(w: np.ndarray, rho: float) -> np.ndarray:
    """True for inliers: all but the round(rho * numel) largest |w| of the tensor."""
    flat = np.abs(np.asarray(w, dtype=np.float32)).ravel()
    k = round(rho * flat.size)
    inlier = np.ones(flat.size, dtype=bool)
    if k > 0:
        inlier[np.argpartition(flat, flat.size - k)[flat.size - k:]] = False
    return inlier.reshape(np.shape(w))


def qmc_quantize(w: np.ndarray, rho: float, inlier_bits: int, outlier_bits: int,
                 inlier_scale_multiplier: float | np.ndarray = 1.0) -> Quantized:
    """QMC: top-rho |w| outliers at `outlier_bits` (per-row grid over the outliers), the rest
    at `inlier_bits` (per-row grid over the inliers)."""
    w = np.asarray(w, dtype=np.float32)
    inlier = top_magnitude_mask(w, rho)
    q_in = rtn_per_channel(w, inlier_bits, mask=inlier,
                           scale_multiplier=inlier_scale_multiplier)
    q_out = rtn_per_channel(w, outlier_bits, mask=~inlier)
    return Quantized(codes=np.where(inlier, q_in.codes, 0).astype(np.int16),
                     code_bits=inlier_bits, scale=q_in.scale, zero=q_in.zero,
                     inlier_mask=inlier,
                     outlier_values=np.where(inlier, 0.0, q_out.dequantize()).astype(np.float32))


def group_view(w: np.ndarray, group_size: int | None) -> tuple[np.ndarray, int]:
    """(rows, n_groups, group_size) view of `w`, the last group padded by repeating the row's
    last element (so padding never widens a min-max range); returns the view and cols."""
    w = np.asarray(w, dtype=np.float32)
    if w.ndim == 1:
        w = w.reshape(-1, 1)
    rows, cols = w.shape
    g = cols if group_size is None else group_size
    n_groups = -(-cols // g)
    pad = n_groups * g - cols
    if pad:
        w = np.concatenate([w, np.repeat(w[:, -1:], pad, axis=1)], axis=1)
    return w.reshape(rows, n_groups, g), cols


def rtn_grouped(w: np.ndarray, bits: int, group_size: int | None = None, *,
                symmetric: bool = False) -> Quantized:
    """Round-to-nearest with one scale (and zero point) per group of `group_size` consecutive
    input elements of each row (None: one per row).

    Asymmetric: the grid spans [min(lo, 0), max(hi, 0)] so the integer zero point lies in
    [0, 2**bits - 1] and fits in `bits` bits (as GPTQ / AWQ checkpoints store it).
    Symmetric: scale = absmax / (2**(bits-1) - 1), codes offset by 2**(bits-1) (zero point
    implied, not stored). Error per weight <= scale / 2 in both cases.
    """
    grouped, cols = group_view(w, group_size)
    if symmetric:
        half = 2 ** (bits - 1)
        amax = np.abs(grouped).max(axis=2)
        scale = np.where(amax > 0, amax / (half - 1), 1.0).astype(np.float32)
        zero = np.full_like(scale, half)
    else:
        lo = np.minimum(grouped.min(axis=2), 0.0)
        hi = np.maximum(grouped.max(axis=2), 0.0)
        scale, zero = affine_params(lo, hi, bits)
    codes = affine_codes(grouped, scale[..., None], zero[..., None], bits)
    codes = codes.reshape(grouped.shape[0], -1)[:, :cols]
    return Quantized(codes=codes, code_bits=bits, scale=scale, zero=zero,
                     group_size=grouped.shape[2])
