"""Light-curve features (library, periodogram, Fourier) and their cache;
baselines on a tiny separable problem."""

import json

import h5py
import numpy as np
import pytest

from rnngmm.io.dataset import Dataset, write_dataset
from rnngmm.scoring import baselines, features


def _write(path, n_points=(60, 80, 3), amplitude=0.5):
    rng = np.random.default_rng(3)
    curves = []
    for n in n_points:
        t = np.sort(rng.uniform(0, 100, n))
        curves.append((t, 14 + amplitude * np.sin(t) + rng.normal(0, 0.02, n), np.full(n, 0.02)))
    ids = [f"o{i}" for i in range(len(n_points))]
    write_dataset(path, {"id": ids, "label": ["A"] * len(ids),
                         "period": [2 * np.pi, np.nan, 1.0]}, curves)
    return path


def test_features_shape_names_and_special_columns(tmp_path):
    with Dataset(_write(tmp_path / "d.h5")) as ds:
        x = features.compute_features(ds)
    names = features.feature_names()
    assert x.shape == (3, len(names)) and len(set(names)) == len(names)
    col = {n: i for i, n in enumerate(names)}
    assert x[0, col["log10_period"]] == pytest.approx(np.log10(2 * np.pi))
    assert np.isnan(x[1, col["log10_period"]])
    assert x[:, col["n_points"]].tolist() == [60, 80, 3]
    assert np.isfinite(x[0, :-2]).mean() > 0.9
    # too few points: NaN features, no crash
    assert np.all(np.isnan(x[2, :-2]))
    # amplitude (half peak-to-peak) close to the injected 0.5
    assert x[0, col["amplitude"]] == pytest.approx(0.5, abs=0.1)
    # the new groups are there and, for the sinusoid, finite
    for name in features.PERIODOGRAM_NAMES + features.FOURIER_NAMES:
        assert np.isfinite(x[0, col[name]]), name
    # period 2 pi, 60 points over 100 days: the periodogram and the dataset agree
    assert x[0, col["ls_log10_period_1"]] == pytest.approx(np.log10(2 * np.pi), abs=0.01)
    # no dataset period: the Fourier fit falls back to the periodogram's period
    assert np.isnan(x[1, col["log10_period_over_ls_period"]])
    assert x[1, col["fourier_explained_variance"]] > 0.95


def _survey_curve(rng, period, shape="sine", n=250, baseline=2900.0, noise=0.03):
    """CRTS-like sampling: nightly visits, seasons, irregular, float64 MJD."""
    nights = np.sort(rng.choice(int(baseline), n, replace=False)).astype(float)
    t = 53500.0 + nights + rng.uniform(0.0, 0.3, n)
    phase = np.mod(t / period, 1.0)
    if shape == "sine":
        signal = 0.4 * np.sin(2 * np.pi * phase)
    else:  # contact binary: two nearly equal minima per orbit
        signal = 0.3 * np.abs(np.cos(2 * np.pi * phase)) + 0.02 * np.cos(2 * np.pi * phase)
    return t, 15.0 + signal + rng.normal(0, noise, n), np.full(n, noise)


@pytest.mark.parametrize("period", [0.0617, 0.37171, 3.4, 287.0])
def test_periodogram_recovers_a_sinusoid_period(period):
    rng = np.random.default_rng(int(period * 1000))
    t, m, e = _survey_curve(rng, period)
    f = features.periodogram_features(t, m, e)
    names = list(features.PERIODOGRAM_NAMES)
    assert np.all(np.isfinite(f))
    # refined peak: frequency within one refined step (the coarse step / LS_REFINE)
    _, df, _ = features.frequency_grid()
    found = 10 ** f[names.index("ls_log10_period_1")]
    assert abs(1 / found - 1 / period) <= df / features.LS_REFINE
    powers = f[[names.index(f"ls_power_{k}") for k in (1, 2, 3)]]
    assert 0.8 < powers[0] <= 1.0 and np.all(np.diff(powers) <= 0)
    snr = f[names.index("ls_snr_1")]
    assert snr > 20
    # distinct peaks: the second and third are not the first again
    periods = 10 ** f[[names.index(f"ls_log10_period_{k}") for k in (1, 2, 3)]]
    assert np.all(np.abs(1 / periods[1:] - 1 / periods[0]) >= 1 / 2900.0)


def test_fourier_features_shape_descriptors():
    rng = np.random.default_rng(1)
    names = list(features.FOURIER_NAMES)
    t, m, e = _survey_curve(rng, 0.5123, "sine")
    f = features.fourier_features(t, m, e, 0.5123, 0.5123)
    assert f[names.index("fourier_explained_variance")] > 0.95
    assert f[names.index("fourier_r21")] < 0.1
    assert 10 ** f[names.index("fourier_log10_amplitude")] == pytest.approx(0.4, rel=0.05)
    assert f[names.index("log10_period_over_ls_period")] == pytest.approx(0.0)
    # an eclipsing-binary-like curve: the periodogram finds half the orbit,
    # and at the true period the second harmonic dominates
    t, m, e = _survey_curve(rng, 0.4011, "binary")
    ls = 10 ** features.periodogram_features(t, m, e)[0]
    assert ls == pytest.approx(0.4011 / 2, rel=1e-3)
    f = features.fourier_features(t, m, e, 0.4011, ls)
    assert f[names.index("log10_period_over_ls_period")] == pytest.approx(np.log10(2), abs=1e-3)
    assert f[names.index("fourier_r21")] > 3
    # too few points or no period at all: NaN, no crash
    assert np.all(np.isnan(features.fourier_features(t[:10], m[:10], e[:10], 0.4, np.nan)))
    assert np.all(np.isnan(features.fourier_features(t, m, e, np.nan, np.nan)))


def test_features_finite_on_survey_like_curves_and_constant_curve():
    rng = np.random.default_rng(7)
    extractor = features.build_extractor()
    for period, shape in ((0.6, "sine"), (0.35, "binary"), (120.0, "sine")):
        t, m, e = _survey_curve(rng, period, shape)
        values, n_points = features.features_of_lightcurve(extractor, t, m, e, period)
        assert n_points == len(t) and values.shape == (len(features.feature_names()) - 2,)
        assert np.all(np.isfinite(values)), period
    # constant magnitudes: periodogram and Fourier features NaN, no exception
    t = np.sort(rng.uniform(0, 2900, 100))
    values, _ = features.features_of_lightcurve(extractor, t, np.full(100, 15.0),
                                                np.full(100, 0.02), 1.0)
    n_lib = len(extractor.names)
    assert np.all(np.isnan(values[n_lib:n_lib + len(features.PERIODOGRAM_NAMES)]))


def test_frequency_grid_suits_the_survey():
    fmin, df, n = features.frequency_grid()
    assert fmin + df * (n - 1) == pytest.approx(features.LS_MAX_FREQUENCY, abs=df)
    assert features.LS_MAX_FREQUENCY >= 30.0 and fmin <= 1e-3
    # coarse step times the refinement resolves a 3000-day peak width >= 10 times
    assert df / features.LS_REFINE <= 1 / (10 * features.LS_BASELINE) + 1e-15


def test_feature_cache_is_reused_and_invalidated(tmp_path):
    path = _write(tmp_path / "d.h5")
    with Dataset(path) as ds:
        first = features.dataset_features(ds)
    cache = features.cache_path(path)
    with h5py.File(cache, "r+") as f:     # mark the cached values
        f["features"][0, 0] = 12345.0
    with Dataset(path) as ds:
        assert features.dataset_features(ds)[0, 0] == 12345.0   # cache hit
    _write(path, amplitude=1.0)            # re-prepared dataset: new provenance
    with Dataset(path) as ds:
        again = features.dataset_features(ds)
    assert again[0, 0] != 12345.0
    assert not np.allclose(again[0, :4], first[0, :4], equal_nan=True)


def test_feature_cache_invalidated_by_feature_set_version(tmp_path, monkeypatch):
    # bumped for the periodogram/Fourier features: version-1 caches are stale
    assert features.FEATURE_SET_VERSION >= 2
    path = _write(tmp_path / "d.h5")
    with Dataset(path) as ds:
        features.dataset_features(ds)
        key = features.cache_key(ds)
    with h5py.File(features.cache_path(path), "r+") as f:
        f["features"][0, 0] = 12345.0
        assert json_names(f) == features.feature_names()
    monkeypatch.setattr(features, "FEATURE_SET_VERSION", features.FEATURE_SET_VERSION + 1)
    with Dataset(path) as ds:
        assert features.cache_key(ds) != key
        assert features.dataset_features(ds)[0, 0] != 12345.0   # recomputed


def json_names(f):
    return json.loads(f.attrs["names"])


def test_impute_uses_training_medians_only():
    train = np.array([[1.0, np.nan], [3.0, np.nan], [np.nan, np.nan]])
    test = np.array([[np.nan, 5.0], [100.0, np.inf]])
    tr, te = baselines.impute_with_training_medians(train, test)
    assert tr[2, 0] == 2.0 and np.all(tr[:, 1] == 0.0)
    assert te.tolist() == [[2.0, 5.0], [100.0, 0.0]]


@pytest.mark.slow
def test_baselines_separate_easy_classes_and_flag_outliers():
    rng = np.random.default_rng(0)
    x_train = np.vstack([rng.normal(0, 1, (50, 3)), rng.normal(6, 1, (50, 3))])
    y_train = np.repeat([0, 2], 50)          # class 1 absent from training
    x_eval = np.array([[0.0, 0, 0], [6.0, 6, 6]])
    p = baselines.random_forest_probabilities(x_train, y_train, x_eval, 3, seed=0)
    assert p.shape == (2, 3) and np.all(p[:, 1] == 0)
    assert p.argmax(axis=1).tolist() == [0, 2]
    again = baselines.random_forest_probabilities(x_train, y_train, x_eval, 3, seed=0)
    np.testing.assert_array_equal(p, again)
    train_scores, scores = baselines.isolation_forest_scores(
        x_train, np.array([[0.0, 0, 0], [40.0, -40, 40]]), seed=0)
    assert len(train_scores) == 100 and scores[1] > scores[0]
    assert scores[1] > np.percentile(train_scores, 99)
