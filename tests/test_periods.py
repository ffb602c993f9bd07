"""Lomb-Scargle periods: recovery on simulated curves of known period, failures."""

import numpy as np
import pytest

from rnngmm.errors import BadLightCurve
from rnngmm.periods import available_backend, frequency_grid, lomb_scargle_period
from rnngmm.preprocess import clean
from rnngmm.simulate import SIMULATORS, asassn_cadence, photometric_error


def is_harmonic(found, true, tolerance=0.01):
    """True if ``found`` is the period or its half/double (the usual aliases)."""
    return any(abs(found / (true * k) - 1) < tolerance for k in (1.0, 0.5, 2.0))


@pytest.mark.parametrize("backend", sorted({"astropy", available_backend()}))
def test_recovers_sinusoid_period_on_survey_cadence(backend):
    rng = np.random.default_rng(4)
    time = asassn_cadence(rng, 250)
    mag = 14 + 0.3 * np.sin(2 * np.pi * time / 0.4567) + rng.normal(0, 0.03, len(time))
    period, power = lomb_scargle_period(time, mag, np.full(len(time), 0.03), backend=backend)
    assert abs(period / 0.4567 - 1) < 1e-3
    assert 0.5 < power <= 1


@pytest.mark.parametrize("label", ["RRAB", "CEPH", "RRCD", "DSCT", "ECL"])
def test_recovers_simulated_periods_aliases_aside(label):
    hits = 0
    for seed in range(6):
        rng = np.random.default_rng(seed)
        time = asassn_cadence(rng, 250)
        delta, true_period, _ = SIMULATORS[label](rng, time)
        err = photometric_error(np.full(len(time), 13.5))
        mag = 13.5 + delta + rng.normal(0, 1, len(time)) * err
        time, mag, err, _ = clean(time, mag, err)
        period, _ = lomb_scargle_period(time, mag, err)
        hits += is_harmonic(period, true_period)
    assert hits >= 5, f"{label}: only {hits}/6 periods recovered"


def test_frequency_grid_covers_the_search_range():
    time = np.array([0.0, 100.0])
    fmin, df, n = frequency_grid(time, min_period=0.1, max_period=1000.0, samples_per_peak=5)
    assert fmin == pytest.approx(1 / 100.0)  # capped at the baseline
    assert df == pytest.approx(1 / 500.0)
    assert fmin + df * (n - 1) <= 10.0 < fmin + df * n


def test_large_mjd_offsets_do_not_hurt_short_periods():
    rng = np.random.default_rng(1)
    time = np.sort(rng.uniform(0, 2000, 300)) + 2458000.0
    mag = np.sin(2 * np.pi * time / 0.0712)
    period, _ = lomb_scargle_period(time, mag, np.full(300, 0.05))
    assert abs(period / 0.0712 - 1) < 1e-4


@pytest.mark.parametrize("time, mag, reason", [
    ([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], "too few points"),
    ([5.0] * 10, list(range(10)), "zero time baseline"),
    (list(range(10)), [7.0] * 10, "constant magnitudes"),
    (np.linspace(0, 0.02, 10), list(range(10)), "too short"),
    ([-2409998.5] + list(range(56000, 56009)), list(range(10)), "baseline too long"),
])
def test_failures_are_bad_lightcurves(time, mag, reason):
    with pytest.raises(BadLightCurve, match=reason):
        lomb_scargle_period(np.array(time), np.array(mag, float), np.full(len(mag), 0.1))
