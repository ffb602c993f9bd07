"""Lomb-Scargle periods: recovery on simulated curves of known period, failures."""

import numpy as np
import pytest

from rnngmm.errors import BadLightCurve
from rnngmm.lightcurves.periods import available_backend, frequency_grid, lomb_scargle_period
from rnngmm.lightcurves.preprocess import clean
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


# --- coarse-then-refined search (issue 16.4) --------------------------------

from rnngmm.lightcurves import periods  # noqa: E402

needs_nifty = pytest.mark.skipif(available_backend() != "nifty-ls",
                                 reason="the refined search needs nifty-ls (finufft)")


def _crts_cadence(rng, n_points):
    """8 yearly seasons of 200 nights, 12 nights each, 4 points a night ~10 min
    apart at a random time of night (a CRTS-like 2900 d baseline)."""
    nights = np.concatenate([56000 + 365.25 * s + np.sort(rng.choice(200, 12, replace=False))
                             for s in range(8)])
    start = nights + rng.uniform(0.5, 0.9, len(nights))
    time = np.repeat(start, 4) + np.tile(np.arange(4) * 0.007, len(nights))
    return np.sort(rng.choice(time, n_points, replace=False))


def _curve(seed, period, shape="sine", amplitude=0.3, noise=0.03, n_points=300):
    rng = np.random.default_rng(seed)
    time = _crts_cadence(rng, n_points)
    phase = 2 * np.pi * (time / period + rng.uniform())
    signal = np.sin(phase)
    if shape == "saw":  # RR Lyrae-like harmonics
        signal = signal + 0.5 * np.sin(2 * phase + 1) + 0.25 * np.sin(3 * phase + 2)
    err = noise * rng.uniform(0.7, 1.3, len(time))
    mag = 14 + amplitude * signal + rng.normal(0, 1, len(time)) * err
    return time, mag, err


@needs_nifty
@pytest.mark.parametrize("true_period, shape", [
    (0.0613, "sine"), (0.0587, "saw"), (0.5123, "sine"), (0.4871, "saw"),
    (297.0, "sine"), (311.0, "sine")])  # long: ~9 cycles, harmonics would bias LS
def test_refined_search_finds_short_and_long_periods(true_period, shape):
    for seed in range(3):
        time, mag, err = _curve(seed, true_period, shape)
        assert frequency_grid(time)[2] > periods.SMALL_GRID  # the coarse search is used
        period, power = lomb_scargle_period(time, mag, err)
        assert abs(period / true_period - 1) < 1e-3, (seed, period)
        assert 0.5 < power <= 1


def _random_curve(rng):
    """Random cadence (survey-like or uniform), period, shape, amplitude, noise."""
    n_points = int(rng.integers(40, 400))
    if rng.uniform() < 0.5:
        time = asassn_cadence(rng, n_points)
    else:
        time = np.sort(rng.uniform(0, rng.uniform(100, 3000), n_points)) + 56000.0
    err = rng.uniform(0.01, 0.1, len(time))
    period = np.exp(rng.uniform(np.log(0.05), np.log(500)))
    phase = 2 * np.pi * time / period
    signal = np.sin(phase) + rng.uniform(0, 0.6) * np.sin(2 * phase + rng.uniform(0, 6))
    amplitude = rng.choice([0.0, 0.02, 0.1, 0.5])  # 0: noise only
    mag = 15 + amplitude * signal + rng.normal(0, 1, len(time)) * err
    return time, mag, err


def _compare(time, mag, err):
    """(same peak?, refined power, exhaustive power); checks the refined
    result is the exhaustive grid's peak refined off the grid when the same."""
    period, power = lomb_scargle_period(time, mag, err)
    brute_period, brute_power = periods.exhaustive_period(time, mag, err)
    fmin, df, n = frequency_grid(time)
    assert fmin <= 1 / period <= fmin + df * (n - 1)
    same = abs(1 / period - 1 / brute_period) <= df * (1 + 1e-9)
    if same:  # off-grid refinement: never below the grid's maximum
        assert power >= brute_power - 1e-6
    return same, power, brute_power


@needs_nifty
def test_refined_search_agrees_with_the_exhaustive_fine_grid():
    rng = np.random.default_rng(2016)
    n_curves, same = 80, 0
    for _ in range(n_curves):
        agree, power, brute_power = _compare(*_random_curve(rng))
        same += agree
        if not agree:  # a missed peak (pure noise): never much below the grid's
            assert power > 0.9 * brute_power
    assert same >= 0.95 * n_curves


@needs_nifty
def test_refined_search_matches_exhaustive_on_clear_signals():
    rng = np.random.default_rng(7)
    for _ in range(30):
        time, mag, err = _random_curve(rng)
        mag = mag + 0.3 * np.sin(2 * np.pi * time / np.exp(rng.uniform(np.log(0.05), 5)))
        assert _compare(time, mag, err)[0]


@needs_nifty
def test_refined_search_is_deterministic_across_plan_caches_and_threads():
    import threading
    curves = [_random_curve(np.random.default_rng(seed)) for seed in range(8)]
    first = [lomb_scargle_period(*c) for c in curves]
    periods._local.plans = {}  # fresh finufft plans
    again = [lomb_scargle_period(*c) for c in reversed(curves)][::-1]
    assert first == again  # bitwise: floats compared exactly
    from_thread = []
    worker = threading.Thread(target=lambda: from_thread.extend(
        lomb_scargle_period(*c) for c in curves))
    worker.start()
    worker.join()
    assert from_thread == first


@needs_nifty
def test_small_grids_use_the_exhaustive_grid_then_refine():
    rng = np.random.default_rng(3)
    time = np.sort(rng.uniform(0, 12, 60))
    mag = np.sin(2 * np.pi * time / 0.77) + rng.normal(0, 0.05, 60)
    err = np.full(60, 0.05)
    assert frequency_grid(time)[2] <= periods.SMALL_GRID
    assert _compare(time, mag, err)[0]
    assert abs(lomb_scargle_period(time, mag, err)[0] / 0.77 - 1) < 2e-3


def test_astropy_backend_is_the_exhaustive_search():
    time, mag, err = _curve(1, 0.5123)
    assert lomb_scargle_period(time, mag, err, backend="astropy") == \
        periods.exhaustive_period(time, mag, err, backend="astropy")
