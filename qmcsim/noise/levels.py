"""Multi-level cells: level Gaussians -> read thresholds -> level confusion matrix (analytic).

A cell programmed to level i reads a conductance G ~ N(mu_i f, sqrt((sigma_i f)^2 + r^2)), where
f = (t / t0)^-nu is power-law drift (NeuroSim-style, the same factor for every level) and r the
read noise. The sense amplifier compares G against fixed thresholds set at programming time
(default: where neighbouring t0 Gaussians cross, as NVMExplorer's fi_utils does), so
P(read j | programmed i) = Phi((t_j+1 - m_i) / s_i) - Phi((t_j - m_i) / s_i). Stuck cells read
level 0 (stuck-at-low) or the top level (stuck-at-high) whatever was programmed.
A measured confusion matrix, when a preset gives one, replaces the Gaussians (stuck cells are
still mixed in).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from qmcsim.errors import ConfigError, InternalError


class LevelCellParams(Protocol):
    """The preset fields a multi-level-cell technology gives its level model (any technology
    with these fields can use LevelModel; normalised conductance, top level = 1)."""

    @property
    def name(self) -> str: ...
    @property
    def bits_per_cell(self) -> int: ...
    @property
    def level_means(self) -> list[float] | None: ...
    @property
    def level_sigmas(self) -> list[float] | None: ...
    @property
    def level_thresholds(self) -> list[float] | None: ...
    @property
    def level_confusion(self) -> list[list[float]] | None: ...
    @property
    def read_noise_sigma(self) -> float: ...
    @property
    def drift_nu(self) -> float: ...
    @property
    def drift_t0_s(self) -> float: ...
    @property
    def stuck_at_low_fraction(self) -> float: ...
    @property
    def stuck_at_high_fraction(self) -> float: ...


def _phi(x: np.ndarray) -> np.ndarray:
    """Standard normal CDF (no scipy dependency)."""
    erf = np.vectorize(math.erf, otypes=[float])
    return 0.5 * (1.0 + erf(np.asarray(x, dtype=float) / math.sqrt(2.0)))


def gaussian_crossing(m1: float, s1: float, m2: float, s2: float) -> float:
    """The x in (m1, m2) where the pdfs N(m1, s1) and N(m2, s2) are equal (m1 < m2)."""
    if not m1 < m2:
        raise InternalError(f"level means must ascend, got {m1} and {m2}")
    if math.isclose(s1, s2, rel_tol=1e-12):
        return (m1 + m2) / 2
    # log N(x; m1, s1) = log N(x; m2, s2)  <=>  a x^2 + b x + c = 0
    a = 1 / s2**2 - 1 / s1**2
    b = 2 * (m1 / s1**2 - m2 / s2**2)
    c = m2**2 / s2**2 - m1**2 / s1**2 + 2 * math.log(s2 / s1)
    disc = b * b - 4 * a * c
    if disc >= 0:
        for root in sorted((-b + sgn * math.sqrt(disc)) / (2 * a) for sgn in (1, -1)):
            if m1 < root < m2:
                return root
    return m1 + (m2 - m1) * s1 / (s1 + s2)   # no crossing between the means: sigma-weighted


def crossing_thresholds(means: np.ndarray, sigmas: np.ndarray) -> np.ndarray:
    return np.array([gaussian_crossing(means[i], sigmas[i], means[i + 1], sigmas[i + 1])
                     for i in range(len(means) - 1)])


@dataclass(frozen=True, kw_only=True)
class LevelModel:
    """One MLC cell type at one read time. Conductances are normalised (top level = 1)."""

    bits_per_cell: int
    means: np.ndarray | None            # read-time level means (drift applied)
    sigmas: np.ndarray | None           # read-time level sigmas (programming, drift, read)
    thresholds: np.ndarray | None       # levels - 1 ascending read thresholds
    measured_confusion: np.ndarray | None = None
    stuck_low: float = 0.0
    stuck_high: float = 0.0

    @property
    def levels(self) -> int:
        return 2**self.bits_per_cell

    @classmethod
    def from_params(cls, p: LevelCellParams, read_time_s: float | None = None) -> LevelModel:
        """The level model of a multi-level-cell preset (e.g. MLC ReRAM), read `read_time_s`
        after programming (default: at the preset's reference time t0, i.e. no drift)."""
        measured = None if p.level_confusion is None else np.asarray(p.level_confusion, float)
        if measured is None and (p.level_means is None or p.level_sigmas is None):
            raise ConfigError(p.name, "level_means", "level_means and level_sigmas, or "
                              "level_confusion, expected for a multi-level-cell noise model")
        levels = 2**p.bits_per_cell
        if measured is not None and measured.shape != (levels, levels):
            raise ConfigError(p.name, "level_confusion", f"a {levels} x {levels} matrix "
                              f"expected for {p.bits_per_cell}-bit cells, got {measured.shape}")
        means = sigmas = thresholds = None
        if p.level_means is not None and p.level_sigmas is not None:
            m0 = np.asarray(p.level_means, float)
            s0 = np.asarray(p.level_sigmas, float)
            if m0.shape != (levels,) or s0.shape != (levels,) or np.any(np.diff(m0) <= 0) \
                    or np.any(s0 <= 0):
                raise ConfigError(p.name, "level_means", f"{levels} strictly ascending level "
                                  f"means and {levels} positive sigmas expected for "
                                  f"{p.bits_per_cell}-bit cells")
            thresholds = (np.asarray(p.level_thresholds, float) if p.level_thresholds
                          else crossing_thresholds(m0, s0))
            t = p.drift_t0_s if read_time_s is None else read_time_s
            if not t > 0:
                raise ConfigError(p.name, "read_time_s", f"a read time > 0 s expected, got {t}")
            f = (t / p.drift_t0_s) ** (-p.drift_nu)
            means = m0 * f
            sigmas = np.sqrt((s0 * f) ** 2 + p.read_noise_sigma**2)
        return cls(bits_per_cell=p.bits_per_cell, means=means, sigmas=sigmas,
                   thresholds=thresholds, measured_confusion=measured,
                   stuck_low=p.stuck_at_low_fraction, stuck_high=p.stuck_at_high_fraction)

    def _gaussians(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self.means is None or self.sigmas is None or self.thresholds is None:
            raise InternalError("a level model without a measured confusion matrix needs "
                                "level means, sigmas and thresholds")
        return self.means, self.sigmas, self.thresholds

    def confusion(self) -> np.ndarray:
        """Analytic P(read level j | programmed level i), rows sum to 1."""
        if self.measured_confusion is not None:
            base = self.measured_confusion.copy()
        else:
            means, sigmas, thresholds = self._gaussians()
            edges = np.concatenate(([-np.inf], thresholds, [np.inf]))
            z = (edges[None, :] - means[:, None]) / sigmas[:, None]
            cdf = _phi(z)
            base = np.diff(cdf, axis=1)
        healthy = 1.0 - self.stuck_low - self.stuck_high
        out = healthy * base
        out[:, 0] += self.stuck_low
        out[:, -1] += self.stuck_high
        return out

    def error_rate(self) -> np.ndarray:
        """Per programmed level: P(read level != programmed level)."""
        return 1.0 - np.diag(self.confusion())

    def one_level_rates(self) -> tuple[np.ndarray, np.ndarray]:
        """Per level: (p-, p+), the probabilities of reading one level below / above."""
        c = self.confusion()
        n = self.levels
        p_minus = np.array([c[i, i - 1] if i > 0 else 0.0 for i in range(n)])
        p_plus = np.array([c[i, i + 1] if i < n - 1 else 0.0 for i in range(n)])
        return p_minus, p_plus

    def sample_read(self, levels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Monte-Carlo: the levels read back from cells programmed to `levels`.

        Draws a conductance per cell from its level Gaussian and thresholds it (or, with a
        measured confusion matrix, draws the read level from its row), then sticks cells."""
        levels = np.asarray(levels, dtype=np.int64)
        n = levels.size
        if self.measured_confusion is not None:
            cum = np.cumsum(self.measured_confusion, axis=1)
            u = rng.random(n)
            read = np.minimum((u[:, None] >= cum[levels]).sum(axis=1), self.levels - 1)
        else:
            means, sigmas, thresholds = self._gaussians()
            g = means[levels] + sigmas[levels] * rng.standard_normal(n)
            read = np.searchsorted(thresholds, g, side="right")
        if self.stuck_low > 0 or self.stuck_high > 0:
            u = rng.random(n)
            read = np.where(u < self.stuck_low, 0, read)
            read = np.where((u >= self.stuck_low) & (u < self.stuck_low + self.stuck_high),
                            self.levels - 1, read)
        return read.astype(np.int64)
