"""Survey shifts: seeded, sizes and statistics as promised."""

import numpy as np
import pytest

from rnngmm.shifts import (SHIFTS, YEAR_DAYS, add_noise, gaia_like, offset_zero_point,
                           reweight_to_mix, subsample, ztf_like)


def curve(n=500, baseline=3000.0):
    t = np.sort(np.random.default_rng(1).uniform(53000, 53000 + baseline, n))
    return t, 15 + np.sin(t), np.full(n, 0.05)


def test_subsample_keeps_n_sorted_epochs_and_is_seeded():
    t, m, e = curve()
    a = subsample(t, m, e, 40, np.random.default_rng(3))
    b = subsample(t, m, e, 40, np.random.default_rng(3))
    assert len(a[0]) == 40 and np.all(np.diff(a[0]) > 0)
    np.testing.assert_array_equal(a[0], b[0])
    assert set(a[0]) <= set(t)
    assert len(subsample(t[:10], m[:10], e[:10], 40, np.random.default_rng(0))[0]) == 10


def test_gaia_like_is_sparse_within_three_years():
    t, m, e = curve()
    for seed in range(10):
        t2, _, _ = gaia_like(t, m, e, np.random.default_rng(seed))
        assert 40 <= len(t2) <= 70 and t2[-1] - t2[0] <= 3 * 365.25


def test_ztf_like_has_a_window_of_three_to_five_years_and_a_season_gap():
    t, m, e = curve(n=3000, baseline=4000.0)
    for seed in range(10):
        t2, m2, e2 = ztf_like(t, m, e, np.random.default_rng(seed))
        assert 100 <= len(t2) <= 600 and len(t2) == len(m2) == len(e2)
        assert t2[-1] - t2[0] <= 5 * YEAR_DAYS and np.all(np.diff(t2) > 0)
        # a third of every year is empty: some gap between epochs is that long
        assert np.max(np.diff(t2)) >= YEAR_DAYS / 3 - 1
    few = ztf_like(t[:80], m[:80], e[:80], np.random.default_rng(0))
    assert len(few[0]) <= 80  # fewer than 100 epochs left: all that the gap leaves


def test_noise_inflates_errors_and_scatter():
    t, m, e = curve(20000)
    m2, e2 = add_noise(m, e, 3.0, np.random.default_rng(0))
    np.testing.assert_allclose(e2, 3 * e)
    assert np.std(m2 - m) == pytest.approx(0.05 * np.sqrt(8), rel=0.03)
    with pytest.raises(ValueError):
        add_noise(m, e, 0.5, np.random.default_rng(0))
    np.testing.assert_allclose(offset_zero_point(m, 0.5) - m, 0.5)


def test_reweighting_reaches_the_target_mix():
    labels = np.array(["EW"] * 200 + ["RR"] * 500 + ["CEP"] * 300)
    picked = reweight_to_mix(labels, {"EW": 0.74}, np.random.default_rng(0))
    mix = {c: np.mean(labels[picked] == c) for c in ("EW", "RR", "CEP")}
    assert mix["EW"] == pytest.approx(0.74, abs=0.01)
    assert mix["RR"] / mix["CEP"] == pytest.approx(500 / 300, rel=0.02)
    assert len(np.unique(picked[labels[picked] == "RR"])) == np.sum(labels[picked] == "RR")


def test_every_named_shift_returns_matching_arrays():
    t, m, e = curve()
    for name, function in SHIFTS.items():
        t2, m2, e2 = function(t, m, e, np.random.default_rng(0))
        assert len(t2) == len(m2) == len(e2) > 0, name
