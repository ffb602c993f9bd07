"""The frozen random-forest configuration of the baselines (issue 13.1)."""

import numpy as np
import pytest

from rnngmm.scoring import baselines


def test_forest_configuration_is_frozen():
    assert baselines.RANDOM_FOREST_PARAMS["n_estimators"] == 500
    assert baselines.RANDOM_FOREST_PARAMS["class_weight"] == "balanced_subsample"
    assert baselines.RANDOM_FOREST_SEED == 0


def test_forest_is_built_from_the_frozen_configuration(monkeypatch):
    built = {}
    original = baselines.RandomForestClassifier

    def spy(**kwargs):
        built.update(kwargs)
        return original(**{**kwargs, "n_estimators": 5})
    monkeypatch.setattr(baselines, "RandomForestClassifier", spy)
    x = np.arange(20.0).reshape(10, 2)
    baselines.random_forest_probabilities(x, np.repeat([0, 1], 5), x, 2)
    assert built == {**baselines.RANDOM_FOREST_PARAMS,
                     "random_state": baselines.RANDOM_FOREST_SEED, "n_jobs": 1,
                     "oob_score": False}


def test_out_of_bag_probabilities_do_not_see_their_own_object():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    y = rng.integers(0, 2, 200)  # labels unrelated to x: nothing to learn
    _, oob = baselines.random_forest_probabilities(x, y, x[:5], 2, with_oob=True)
    in_sample = baselines.random_forest_probabilities(x, y, x, 2)
    # in-sample the forest "knows" each label; out of bag it cannot
    assert np.mean(in_sample.argmax(1) == y) > 0.9
    assert 0.3 < np.mean(oob.argmax(1) == y) < 0.7
    np.testing.assert_allclose(oob.sum(axis=1), 1)


def test_forest_on_an_imbalanced_problem_is_reproducible():
    # a rare class (3%) overlapping a common one: the rare class is still
    # predicted in its region, and the seeded forest repeats itself exactly.
    # (The frozen class weighting is checked by the spy test above; on fully
    # grown trees its effect on a toy problem is too small to assert.)
    rng = np.random.default_rng(0)
    common = rng.normal(0.0, 1.0, (970, 2))
    rare = rng.normal(1.5, 1.0, (30, 2))
    x = np.vstack([common, rare])
    y = np.r_[np.zeros(970, int), np.ones(30, int)]
    x_eval = rng.normal(1.5, 1.0, (200, 2))          # rare-class objects
    p = baselines.random_forest_probabilities(x, y, x_eval, 2)
    assert p.shape == (200, 2)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert np.mean(p.argmax(axis=1) == 1) > 0.1
    again = baselines.random_forest_probabilities(x, y, x_eval, 2)
    np.testing.assert_array_equal(p, again)      # seeded: reproducible


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_forest_accepts_missing_features(bad):
    x = np.array([[0.0, 1.0], [bad, 1.0], [5.0, 6.0], [5.0, bad]] * 5)
    y = np.array([0, 0, 1, 1] * 5)
    p = baselines.random_forest_probabilities(x, y, np.array([[bad, bad], [5.0, 6.0]]), 2)
    assert np.all(np.isfinite(p)) and p[1].argmax() == 1
