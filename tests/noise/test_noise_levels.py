"""Level model: thresholds, analytic confusion, and Monte-Carlo agreement."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qmcsim.config.devices import load_device
from qmcsim.errors import ConfigError
from qmcsim.noise.levels import LevelModel, gaussian_crossing


def _pdf(x: float, m: float, s: float) -> float:
    return math.exp(-0.5 * ((x - m) / s) ** 2) / (s * math.sqrt(2 * math.pi))


def _device(name: str, **over: object):
    return load_device(name, dict(over) if over else None, file="test", field_path="dev")


def test_crossing_is_midpoint_for_equal_sigmas_and_equal_pdf_otherwise() -> None:
    assert gaussian_crossing(0.0, 0.1, 1.0, 0.1) == pytest.approx(0.5)
    x = gaussian_crossing(0.2038, 0.0304, 0.3846, 0.0335)
    assert 0.2038 < x < 0.3846
    assert _pdf(x, 0.2038, 0.0304) == pytest.approx(_pdf(x, 0.3846, 0.0335), rel=1e-9)


def test_presets_give_stochastic_confusions_with_3bit_cells_noisier_than_2bit() -> None:
    m3 = LevelModel.from_params(_device("qmc-reram-3b"))
    m2 = LevelModel.from_params(_device("qmc-reram-2b"))
    for m in (m3, m2):
        c = m.confusion()
        assert np.allclose(c.sum(axis=1), 1.0)
        assert np.all(np.diff(m.thresholds) > 0)
    assert m3.error_rate().mean() > 100 * m2.error_rate().mean()
    assert 1e-4 < m3.error_rate().mean() < 0.05


@pytest.mark.parametrize("over", [
    {},                                                   # the preset as it is
    {"read_noise_sigma": 0.02},                           # extra read noise
    {"drift_nu": 0.02, "read_noise_sigma": 0.01},         # drift (read at t = 1e4 s)
    {"stuck_at_low_fraction": 0.01, "stuck_at_high_fraction": 0.02},
])
def test_monte_carlo_level_errors_agree_with_analytic(over: dict) -> None:
    params = _device("qmc-reram-3b", **over)
    model = LevelModel.from_params(params, read_time_s=1e4 if "drift_nu" in over else None)
    analytic = model.confusion()
    rng = np.random.default_rng(1234)
    n = 100_000
    for level in range(model.levels):
        read = model.sample_read(np.full(n, level), rng)
        observed = np.bincount(read, minlength=model.levels) / n
        se = np.sqrt(analytic[level] * (1 - analytic[level]) / n)
        # 5 standard errors (plus a floor for probabilities near 0) over 64 entries
        assert np.all(np.abs(observed - analytic[level]) <= 5 * se + 3 / n), (level, observed,
                                                                              analytic[level])


def test_drift_lowers_levels_so_reads_err_downwards() -> None:
    params = _device("qmc-reram-3b", drift_nu=0.05)
    fresh = LevelModel.from_params(params)
    late = LevelModel.from_params(params, read_time_s=1e6)
    p_minus_late, p_plus_late = late.one_level_rates()
    assert p_minus_late.sum() > 10 * fresh.one_level_rates()[0].sum()
    assert p_minus_late.sum() > p_plus_late.sum()


def test_measured_confusion_is_used_and_sampled() -> None:
    conf = [[0.9, 0.1, 0.0, 0.0], [0.05, 0.9, 0.05, 0.0], [0.0, 0.0, 1.0, 0.0],
            [0.0, 0.0, 0.2, 0.8]]
    model = LevelModel.from_params(_device("qmc-reram-2b", level_confusion=conf))
    assert np.allclose(model.confusion(), conf)
    read = model.sample_read(np.full(50_000, 3), np.random.default_rng(0))
    assert set(np.unique(read)) == {2, 3}
    assert abs(np.mean(read == 2) - 0.2) < 5 * math.sqrt(0.16 / 50_000)


def test_stuck_at_fractions() -> None:
    model = LevelModel.from_params(_device("qmc-reram-2b", stuck_at_low_fraction=0.1,
                                           stuck_at_high_fraction=0.05))
    n = 200_000
    read = model.sample_read(np.full(n, 1), np.random.default_rng(7))
    for level, p in ((0, 0.1), (3, 0.05), (1, 0.85)):
        assert abs(np.mean(read == level) - p) < 5 * math.sqrt(p * (1 - p) / n)


@pytest.mark.parametrize("over, field", [
    ({"level_confusion": [[0.5, 0.4, 0.0, 0.0]] * 4}, "level_confusion"),
    ({"level_sigmas": [0.01, 0.0, 0.02, 0.01]}, "level_sigmas"),
    ({"stuck_at_low_fraction": 1.5}, "stuck_at_low_fraction"),
])
def test_bad_noise_parameters_are_config_errors(over: dict, field: str) -> None:
    with pytest.raises(ConfigError) as err:
        _device("qmc-reram-2b", **over)
    assert f"dev.params.{field}" in str(err.value)
