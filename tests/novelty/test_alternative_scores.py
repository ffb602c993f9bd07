"""Alternative novelty scores: hand-checkable cases (HIGHER = more anomalous)."""

import numpy as np
from scipy.stats import multivariate_normal

from rnngmm.novelty.mixture import GMMNovelty
from rnngmm.novelty.alternative_scores import (ClassMahalanobis, component_energy,
                                           flag_rates_by_class, object_scores)


def test_component_energy_ignores_the_mixture_weights():
    mu = np.array([[0.0, 0.0], [5.0, 5.0]])
    cov = np.stack([np.eye(2), 2 * np.eye(2)])
    z = np.array([[0.1, -0.2], [5.0, 4.0], [20.0, 20.0]])
    expected = -np.max([multivariate_normal(mu[k], cov[k]).logpdf(z) for k in range(2)],
                       axis=0)
    np.testing.assert_allclose(component_energy(z, mu, cov, jitter=0.0), expected, rtol=1e-8)
    # a rare component (phi 0.01) is charged by the energy, not by this score
    mixture = GMMNovelty.from_parameters([0.99, 0.01], mu, cov, jitter=0.0)
    assert mixture.energy(z[1:2])[0] > component_energy(z[1:2], mu, cov, 0.0)[0] + 4


def test_class_mahalanobis_is_small_near_a_class_and_large_far_away():
    rng = np.random.default_rng(0)
    codes = np.concatenate([rng.normal(0, 1, (100, 3)), rng.normal(10, 1, (100, 3))])
    labels = np.repeat([0, 1], 100)
    model = ClassMahalanobis().fit(codes, labels)
    near, far = model.score(np.array([[10.0, 10, 10], [5.0, -5, 5]]))
    assert near < 1.0 < 20.0 < far


def test_object_scores_average_chunks_and_leave_unscored_objects_nan():
    mixture = GMMNovelty.from_parameters([1.0], np.zeros((1, 2)), np.eye(2)[None])
    z = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 1.0]])
    prob = np.array([[0.2, 0.8], [np.nan, np.nan], [0.6, 0.4]])
    scores = object_scores(chunk_z=z, chunk_recon=np.array([1.0, 3.0, 5.0]),
                           chunk_position=np.array([0, 0, 2]), n_objects=3,
                           object_prob=prob, object_code=np.zeros((3, 2)),
                           novelty=mixture, mahalanobis=None)
    np.testing.assert_allclose(scores["reconstruction"], [2.0, np.nan, 5.0])
    np.testing.assert_allclose(scores["max_probability"], [0.2, np.nan, 0.4])
    assert scores["component_energy"][0] > scores["component_energy"][2] - 1
    assert np.isnan(scores["component_energy"][1]) and "mahalanobis" not in scores


def test_flag_rates_by_class():
    rates = flag_rates_by_class([1.0, 5.0, 2.0, 9.0], {95.0: 4.0}, ["A", "A", "B", "B"],
                                ["A", "B", "C"])
    assert rates == {"95": {"A": 0.5, "B": 0.5}}
