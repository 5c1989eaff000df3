"""SpQR (Vahe1994/SpQR): `bits`-bit codes in groups of `group_size` input elements; each group's
scale and zero point quantized to `scale_bits` / `zero_bits` bits, those in turn grouped by
`stats_group_size` groups (along the output rows) with an FP16 scale and zero each (second
level); outliers kept in FP16 with a 16-bit column index (32 bits per outlier, as SpQR counts).

bits/weight = w + (qs + qz) / g + 2 * (16 + 16) / (g * qq_g) + 32 * outlier_share
            = 3 + 6 / 16 + 64 / 256 + 0.32 per 1 % outliers = 3.625 + 0.32 at the defaults.
(Sizes in whole groups: a partial group still stores its statistics.)

Outliers: SpQR flags a weight whose exclusion from its group lowers the group's (Hessian
weighted) quantization error by more than a threshold relative to the mean error. Without
calibration data qmcsim uses the identity Hessian: in each group the smallest and the largest
weight are the candidates (only they move the min-max grid); a candidate is an outlier if
leaving it out lowers its group's squared 3-bit error by more than `outlier_threshold` x the
tensor's mean group error. The default threshold 1.0 flags ~1 % of Student-t(6..10) weights
(SpQR's typical share); it is a proxy, not SpQR's calibrated criterion. The analytic layout
(no weights) assumes `outlier_share`.

With calibration data (`quantize(w, calibration)`) the quantizer is SpQR's own: GPTQ with
these groups, quantized statistics and Hessian-sensitivity outliers (`spqr_gptq`); the
stored outliers are then the ones that pass chose (`Quantized.inlier_mask`).
"""

from __future__ import annotations

import math
from typing import ClassVar, Literal

import numpy as np
from pydantic import Field

from qmcsim.formats.base import FP16_BITS, Component, FormatConfig, register_format
from qmcsim.formats.calibration import LayerCalibration
from qmcsim.formats.quantize import Quantized, affine_codes, affine_params, group_view
from qmcsim.formats.spqr_gptq import spqr_quantize
from qmcsim.models.shape import Tensor

OUTLIER_INDEX_BITS = 16


def _group_error(s: np.ndarray, bits: int) -> np.ndarray:
    """Squared error of min-max `bits` RTN over the last axis of sorted groups `s`."""
    scale, zero = affine_params(s[..., :1], s[..., -1:], bits)
    q = (affine_codes(s, scale, zero, bits) - zero) * scale
    return ((s - q) ** 2).sum(axis=-1)


def spqr_outlier_mask(w: np.ndarray, bits: int, group_size: int,
                      threshold: float) -> np.ndarray:
    """True for inliers; identity-Hessian leave-one-out criterion (see module docstring)."""
    groups, cols = group_view(w, group_size)
    order = np.argsort(groups, axis=2)
    s = np.take_along_axis(groups, order, axis=2)
    full = _group_error(s, bits)
    cut = threshold * float(full.mean())
    drop_min = full - _group_error(s[..., 1:], bits) > cut
    drop_max = full - _group_error(s[..., :-1], bits) > cut
    outlier_sorted = np.zeros(s.shape, dtype=bool)
    outlier_sorted[..., 0] = drop_min
    outlier_sorted[..., -1] |= drop_max
    outlier = np.zeros_like(outlier_sorted)
    np.put_along_axis(outlier, order, outlier_sorted, axis=2)
    # padded copies (a partial last group) are cut off here
    return ~outlier.reshape(groups.shape[0], -1)[:, :cols]


@register_format
class SpqrFormat(FormatConfig):
    kind: Literal["spqr"] = "spqr"
    uses_calibration: ClassVar[bool] = True
    bits: int = Field(3, ge=2, le=8, description="w: code bits")
    group_size: int = Field(16, ge=2, description="g: input elements per first-level group")
    scale_bits: int = Field(3, ge=1, le=16, description="qs: bits of a quantized group scale")
    zero_bits: int = Field(3, ge=1, le=16, description="qz: bits of a quantized group zero")
    stats_group_size: int = Field(16, ge=1, description="qq_g: first-level statistics per "
                                  "second-level group")
    outlier_share: float = Field(0.01, ge=0, lt=1, description="nominal outlier share "
                                 "(analytic layout)")
    outlier_threshold: float = Field(1.0, gt=0, description="leave-one-out error reduction "
                                     "over the mean group error that makes an outlier")

    def _layout(self, tensor: Tensor, n_out: int) -> tuple[Component, ...]:
        col_groups = math.ceil(tensor.cols / self.group_size)
        first = tensor.rows * col_groups
        second = math.ceil(tensor.rows / self.stats_group_size) * col_groups
        return (
            Component(name="codes", elements=tensor.numel, element_bits=self.bits),
            Component(name="scales", elements=first,
                      element_bits=self.scale_bits + self.zero_bits, metadata=True),
            # second level: FP16 scale + zero for the scales, and for the zeros
            Component(name="scales", elements=second, element_bits=2 * 2 * FP16_BITS,
                      metadata=True),
            Component(name="outlier_values", elements=n_out, element_bits=FP16_BITS),
            Component(name="outlier_indices", elements=n_out, element_bits=OUTLIER_INDEX_BITS,
                      metadata=True),
        )

    def quantized_layout(self, tensor: Tensor) -> tuple[Component, ...]:
        return self._layout(tensor, round(self.outlier_share * tensor.numel))

    def layout_of(self, tensor: Tensor, q: Quantized) -> tuple[Component, ...]:
        """The layout of a quantized tensor: as many outliers as its quantizer kept."""
        n_out = 0 if q.inlier_mask is None else int((~q.inlier_mask).sum())
        return self._layout(tensor, n_out)

    def measured_layout(self, tensor: Tensor, weights: np.ndarray) -> tuple[Component, ...]:
        return self._layout(tensor, int((~self.inlier_mask(weights)).sum()))

    def inlier_mask(self, weights: np.ndarray) -> np.ndarray:
        return spqr_outlier_mask(weights, self.bits, self.group_size, self.outlier_threshold)

    def quantize(self, weights: np.ndarray,
                 calibration: LayerCalibration | None = None) -> Quantized:
        """Group RTN over the inliers with the group scale and zero themselves quantized
        (min-max, `scale_bits` / `zero_bits`, per `stats_group_size` rows); outliers FP16.
        With calibration: SpQR's GPTQ pass (module docstring)."""
        w = np.asarray(weights, dtype=np.float32)
        w = w.reshape(-1, 1) if w.ndim == 1 else w
        if calibration is not None:
            return spqr_quantize(w, calibration.hessian, bits=self.bits,
                                 group_size=self.group_size, scale_bits=self.scale_bits,
                                 zero_bits=self.zero_bits,
                                 stats_group_size=self.stats_group_size,
                                 threshold=self.outlier_threshold)
        inlier = self.inlier_mask(w)
        groups, cols = group_view(np.where(inlier, w, np.nan), self.group_size)
        with np.errstate(all="ignore"):
            lo = np.nan_to_num(np.nanmin(groups, axis=2))
            hi = np.nan_to_num(np.nanmax(groups, axis=2))
        scale, zero = affine_params(lo, hi, self.bits)
        scale_q = _requantize_rows(scale, self.scale_bits, self.stats_group_size)
        scale = np.where(scale_q > 0, scale_q, scale)
        zero = np.round(_requantize_rows(zero, self.zero_bits, self.stats_group_size))
        codes = affine_codes(group_view(w, self.group_size)[0], scale[..., None],
                             zero[..., None], self.bits)
        codes = codes.reshape(w.shape[0], -1)[:, :cols]
        outliers = np.where(inlier, 0.0, w.astype(np.float16).astype(np.float32))
        return Quantized(codes=codes, code_bits=self.bits, scale=scale.astype(np.float32),
                         zero=zero.astype(np.float32), group_size=self.group_size,
                         inlier_mask=inlier, outlier_values=outliers.astype(np.float32))


def _requantize_rows(stat: np.ndarray, bits: int, rows_per_group: int) -> np.ndarray:
    """Min-max RTN of a (rows, n_groups) statistic in blocks of `rows_per_group` rows."""
    rows = stat.shape[0]
    pad = -rows % rows_per_group
    s = np.concatenate([stat, np.repeat(stat[-1:], pad, axis=0)]) if pad else stat
    blocks = s.reshape(-1, rows_per_group, s.shape[1])
    lo, hi = blocks.min(axis=1, keepdims=True), blocks.max(axis=1, keepdims=True)
    sc, ze = affine_params(lo, hi, bits)
    q = (affine_codes(blocks, sc, ze, bits) - ze) * sc
    return q.reshape(-1, s.shape[1])[:rows].astype(np.float32)
