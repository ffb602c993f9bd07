"""Light-curve features and their cache; baselines on a tiny separable problem."""

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


def test_impute_uses_training_medians_only():
    train = np.array([[1.0, np.nan], [3.0, np.nan], [np.nan, np.nan]])
    test = np.array([[np.nan, 5.0], [100.0, np.inf]])
    tr, te = baselines.impute_with_training_medians(train, test)
    assert tr[2, 0] == 2.0 and np.all(tr[:, 1] == 0.0)
    assert te.tolist() == [[2.0, 5.0], [100.0, 0.0]]


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
