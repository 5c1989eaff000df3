"""SqueezeLLM dense-and-sparse (SqueezeAILab/SqueezeLLM).

Dense: every weight as a `bits`-bit index into a per-output-channel look-up table of
2**bits FP16 centroids (non-uniform, k-means). Sparse: the outliers kept in FP16 in CSR form,
an int32 column index per outlier and an int32 row pointer per row + 1.

bits/weight = bits + 2**bits * 16 / in_features + share * (16 + 32) + 32 * (rows + 1) / numel;
at 3 bits, in_features 4096 and 0.45 % outliers: 3 + 0.031 + 0.216 + 0.008 = 3.255 (~3.24).

Outliers: `outlier_rule: iqr` (|w| > Q3 + r * IQR, r = `iqr_range`) or `magnitude` (top
`outlier_share` by |w|), computed on the weights when they are given; the analytic layout
(no weights) assumes the nominal `outlier_share`.

Numerics (Kim et al., "SqueezeLLM: Dense-and-Sparse Quantization", ICML 2024, arXiv
2306.07629): the centroids of each row minimise the sensitivity-weighted error
sum_j F_ij (w_ij - c(w_ij))^2 over the dense (inlier) weights; the outliers are kept exactly
(FP16) in the sparse part. The paper's F is the diagonal Fisher information (squared gradients
of the loss over calibration samples). With calibration data qmcsim uses the layer-wise proxy
F_ij = H_jj = mean x_j^2, the diagonal of the layer-output-error Hessian (the layer-wise
objective the paper contrasts with its end-to-end Fisher; gradients through the whole model
are not computed here): the same weight for every row of a column. Without calibration, plain
(unweighted) k-means. Also unlike the paper, the sparse part holds only the outliers of the
range rule, not the extra top-sensitivity weights.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from typing import ClassVar

from qmcsim.formats.base import FP16_BITS, Component, FormatConfig, register_format
from qmcsim.formats.calibration import LayerCalibration
from qmcsim.formats.outliers import iqr_mask, magnitude_share_mask
from qmcsim.formats.quantize import Quantized
from qmcsim.models.shape import Tensor

CSR_INDEX_BITS = 32


def kmeans_rows(w: np.ndarray, k: int, mask: np.ndarray | None = None,
                iterations: int = 12, sample_weight: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
    """1-D k-means per row over the masked entries: sorted centroids (rows, k) and codes.

    Initialised at evenly spaced quantiles; Lloyd iterations vectorised over rows. Codes of
    unmasked entries are the nearest centroid too. With `sample_weight` (broadcast to w's
    shape, >= 0) the centroids minimise sum weight * (w - centroid)^2: a weighted mean per
    cluster (the nearest centroid stays the best assignment of each weight)."""
    w = np.asarray(w, dtype=np.float32)
    rows, cols = w.shape
    m = np.ones_like(w, dtype=bool) if mask is None else mask
    sw = np.ones(w.shape) if sample_weight is None else \
        np.broadcast_to(np.asarray(sample_weight, np.float64), w.shape)
    filled = np.where(m, w, np.nan)
    probs = (np.arange(k) + 0.5) / k
    with np.errstate(all="ignore"):
        cent = np.nanquantile(filled, probs, axis=1).T.astype(np.float32)   # (rows, k)
    cent = np.where(np.isfinite(cent), cent, 0.0).astype(np.float32)
    offsets = (np.arange(rows) * k)[:, None]
    for _ in range(iterations):
        cent.sort(axis=1)
        codes = _nearest(w, cent)
        idx = (codes + offsets)[m]
        sums = np.bincount(idx, weights=(sw * w)[m], minlength=rows * k).reshape(rows, k)
        mass = np.bincount(idx, weights=sw[m], minlength=rows * k).reshape(rows, k)
        with np.errstate(all="ignore"):
            cent = np.where(mass > 0, sums / mass, cent).astype(np.float32)
    cent.sort(axis=1)
    return cent, _nearest(w, cent)


def _nearest(w: np.ndarray, cent: np.ndarray) -> np.ndarray:
    mids = (cent[:, 1:] + cent[:, :-1]) / 2                      # (rows, k-1), sorted
    codes = np.zeros(w.shape, dtype=np.int16)
    for j in range(mids.shape[1]):
        codes += w > mids[:, j:j + 1]
    return codes


@register_format
class SqueezeLlmFormat(FormatConfig):
    kind: Literal["squeezellm"] = "squeezellm"
    uses_calibration: ClassVar[bool] = True
    bits: int = Field(3, ge=2, le=8, description="dense LUT code bits")
    outlier_rule: Literal["iqr", "magnitude"] = "iqr"
    outlier_share: float = Field(0.0045, ge=0, lt=1, description="nominal outlier share "
                                 "(analytic layout; the magnitude rule's share)")
    iqr_range: float = Field(1.8, gt=0, description="r in |w| > Q3 + r * (Q3 - Q1)")

    def _layout(self, tensor: Tensor, n_out: int) -> tuple[Component, ...]:
        return (
            Component(name="codes", elements=tensor.numel, element_bits=self.bits),
            Component(name="scales", elements=tensor.rows * 2**self.bits,
                      element_bits=FP16_BITS, metadata=True),             # per-row LUT
            Component(name="outlier_values", elements=n_out, element_bits=FP16_BITS),
            Component(name="outlier_indices", elements=n_out, element_bits=CSR_INDEX_BITS,
                      metadata=True),                                      # CSR columns
            Component(name="outlier_indices", elements=tensor.rows + 1,
                      element_bits=CSR_INDEX_BITS, metadata=True),         # CSR row pointers
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
        if self.outlier_rule == "iqr":
            return iqr_mask(weights, self.iqr_range)
        return magnitude_share_mask(weights, self.outlier_share)

    def quantize(self, weights: np.ndarray,
                 calibration: LayerCalibration | None = None) -> Quantized:
        w = np.asarray(weights, dtype=np.float32)
        w = w.reshape(-1, 1) if w.ndim == 1 else w
        inlier = self.inlier_mask(w)
        sensitivity = None if calibration is None else \
            np.maximum(np.diag(calibration.hessian), 0.0)[None, :]
        lut, codes = kmeans_rows(w, 2**self.bits, inlier, sample_weight=sensitivity)
        outliers = np.where(inlier, 0.0, w.astype(np.float16).astype(np.float32))
        return Quantized(codes=codes, code_bits=self.bits,
                         scale=np.ones(1, dtype=np.float32), lut=lut,
                         inlier_mask=inlier, outlier_values=outliers.astype(np.float32))
