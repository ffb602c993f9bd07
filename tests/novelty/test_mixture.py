"""GMMNovelty estimator (scikit-learn contract)."""

import h5py
import numpy as np
import pytest
from sklearn.mixture import GaussianMixture

from rnngmm.errors import InputError
from rnngmm.novelty.mixture import GMMNovelty


@pytest.fixture(scope="module")
def training_set():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 400)
    z = rng.normal(size=(400, 3)) + np.where(labels == 0, -4.0, 4.0)[:, None]
    gamma = np.eye(2)[labels] * 0.98 + 0.01
    return z, gamma


def test_fit_learns_parameters_and_energy_matches_sklearn(training_set):
    z, gamma = training_set
    detector = GMMNovelty(jitter=0.0)
    assert detector.fit(z, gamma) is detector
    reference = GaussianMixture(2, covariance_type="full")
    reference.weights_, reference.means_, reference.covariances_ = (
        detector.phi_, detector.mu_, detector.cov_)
    reference.precisions_cholesky_ = np.stack(
        [np.linalg.cholesky(np.linalg.inv(c)) for c in detector.cov_])
    np.testing.assert_allclose(detector.energy(z), -reference.score_samples(z), rtol=1e-9)
    np.testing.assert_allclose(detector.score_samples(z), -detector.energy(z))
    np.testing.assert_allclose(detector.phi_.sum(), 1.0)
    assert detector.train_energy_.shape == (400,)
    assert set(detector.thresholds_) == {80.0, 95.0, 99.0}


def test_signs_of_decision_function_and_predict(training_set):
    z, gamma = training_set
    detector = GMMNovelty().fit(z, gamma)
    outlier, inlier = np.array([[0.0, 0.0, 40.0]]), np.array([[4.0, 4.0, 4.0]])
    assert detector.energy(outlier)[0] > detector.energy(inlier)[0]
    assert detector.decision_function(outlier)[0] < 0 < detector.decision_function(inlier)[0]
    assert list(detector.predict(np.vstack([outlier, inlier]))) == [-1, 1]
    # About 5% of the training set lies above the 95th-percentile threshold.
    assert np.mean(detector.predict(z, percentile=95) == -1) == pytest.approx(0.05, abs=0.01)
    assert detector.energy_percentile(detector.energy(outlier))[0] == 100.0


def test_groups_aggregate_training_energies(training_set):
    z, gamma = training_set
    groups = np.arange(400) // 4
    detector = GMMNovelty().fit(z, gamma, groups=groups)
    chunk_energy = GMMNovelty().fit(z, gamma).train_energy_
    assert detector.train_energy_.shape == (100,)
    np.testing.assert_allclose(detector.train_energy_, chunk_energy.reshape(100, 4).mean(1))


def test_follows_the_scikit_learn_estimator_contract(training_set):
    from sklearn.base import clone, is_outlier_detector
    z, gamma = training_set
    detector = GMMNovelty(jitter=1e-5, percentiles=(90, 99))
    assert is_outlier_detector(detector)
    assert detector.get_params() == {"jitter": 1e-5, "percentiles": (90, 99),
                                     "novelty_score": "energy"}
    copy = clone(detector).set_params(jitter=1e-4)
    assert copy.jitter == 1e-4 and not hasattr(copy, "phi_")
    assert detector.fit(z, gamma) is detector
    labels = GMMNovelty().fit_predict(z, gamma=gamma)
    assert set(np.unique(labels)) <= {-1, 1} and 0 < (labels == -1).mean() < 0.1
    with pytest.raises(ValueError, match="gamma"):
        GMMNovelty().fit(z)


def test_save_load_round_trip(training_set, tmp_path):
    z, gamma = training_set
    detector = GMMNovelty(jitter=1e-5, percentiles=(50, 90)).fit(z, gamma)
    path = tmp_path / "gmm.h5"
    detector.save(path)
    loaded = GMMNovelty.load(path)
    assert loaded.jitter == 1e-5 and loaded.percentiles == (50.0, 90.0)
    for name in ("phi_", "mu_", "cov_", "train_energy_"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(detector, name))
    assert loaded.thresholds_ == detector.thresholds_
    np.testing.assert_array_equal(loaded.energy(z), detector.energy(z))


def test_class_energy_flags_a_rare_class_at_the_nominal_rate(tmp_path):
    """A rare, broad component is not flagged for its small weight."""
    rng = np.random.default_rng(3)
    labels = np.repeat([0, 1], [1800, 200])
    z = np.where(labels[:, None] == 0, rng.normal(0, 1, (2000, 2)),
                 rng.normal(8, 3, (2000, 2)))
    gamma = np.eye(2)[labels] * 0.98 + 0.01
    pooled = GMMNovelty().fit(z, gamma)
    fair = GMMNovelty(novelty_score="class_energy").fit(z, gamma)
    energy = fair.energy(z)
    rare_pooled = np.mean(energy[labels == 1] > pooled.thresholds_[95.0])
    scores = fair.novelty_scores(energy, labels)
    cut = fair.score_thresholds([95])[95.0]
    assert rare_pooled > 0.2  # the reference energy charges the rare class
    for k in (0, 1):
        assert np.mean(scores[labels == k] > cut) == pytest.approx(0.05, abs=0.01)
    assert fair.expected_flag_rates([95]) == {95.0: pytest.approx(0.05)}
    np.testing.assert_array_equal(fair.train_class_, labels)
    # the choice and the classes survive a save/load round trip
    fair.save(tmp_path / "gmm.h5")
    loaded = GMMNovelty.load(tmp_path / "gmm.h5")
    assert loaded.novelty_score == "class_energy"
    np.testing.assert_array_equal(loaded.novelty_scores(energy, labels), scores)
    with pytest.raises(ValueError, match="predicted classes"):
        GMMNovelty.from_parameters(fair.phi_, fair.mu_, fair.cov_, fair.train_energy_,
                                   novelty_score="class_energy")


def test_files_without_a_novelty_score_load_as_energy(training_set, tmp_path):
    z, gamma = training_set
    GMMNovelty().fit(z, gamma).save(tmp_path / "old.h5")
    with h5py.File(tmp_path / "old.h5", "a") as handle:  # as written before the choice
        del handle.attrs["novelty_score"]
        del handle["train_class"]
    loaded = GMMNovelty.load(tmp_path / "old.h5")
    assert loaded.novelty_score == "energy" and loaded.train_class_ is None
    energy = loaded.energy(z)
    np.testing.assert_array_equal(loaded.novelty_scores(energy, np.zeros(len(z), int)), energy)


def test_from_parameters_matches_fit(training_set):
    z, gamma = training_set
    fitted = GMMNovelty().fit(z, gamma)
    rebuilt = GMMNovelty.from_parameters(fitted.phi_, fitted.mu_, fitted.cov_,
                                         fitted.train_energy_)
    np.testing.assert_array_equal(rebuilt.energy(z), fitted.energy(z))


def test_load_rejects_bad_files(training_set, tmp_path):
    missing = tmp_path / "missing.h5"
    with pytest.raises(InputError, match="missing.h5"):
        GMMNovelty.load(missing)
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"not an hdf5 file")
    with pytest.raises(InputError, match="garbage.h5"):
        GMMNovelty.load(garbage)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as handle:
        handle.attrs["format"] = "rnngmm-dataset"
    with pytest.raises(InputError, match="other.h5"):
        GMMNovelty.load(other)
    z, gamma = training_set
    broken = tmp_path / "broken.h5"
    GMMNovelty().fit(z, gamma).save(broken)
    with h5py.File(broken, "a") as handle:
        del handle["cov"]
        handle["cov"] = np.zeros((2, 2, 2))       # wrong dimension for mu (2, 3)
    with pytest.raises(InputError, match="broken.h5"):
        GMMNovelty.load(broken)


def test_unfitted_detector_raises():
    with pytest.raises(RuntimeError, match="not fitted"):
        GMMNovelty().energy(np.zeros((1, 2)))


def test_class_energy_msp_flags_every_class_at_the_nominal_rate_and_ranks_doubt(tmp_path):
    rng = np.random.default_rng(3)
    labels = np.repeat([0, 1], [900, 300])
    z = rng.normal(size=(len(labels), 2)) + 4.0 * labels[:, None]
    confident = np.clip(rng.normal(0.95, 0.03, len(labels)), 0.5, 1.0)
    gamma = np.stack([np.where(labels == 0, confident, 1 - confident),
                      np.where(labels == 1, confident, 1 - confident)], axis=1)
    combined = GMMNovelty(novelty_score="class_energy_msp").fit(z, gamma)
    energy, max_p = combined.energy(z), gamma.max(axis=1)
    scores = combined.novelty_scores(energy, labels, max_p)
    cut = combined.score_thresholds([95])[95.0]
    for k in (0, 1):
        assert np.mean(scores[labels == k] > cut) == pytest.approx(0.05, abs=0.01)
    # an object at the class centre but with a doubtful classifier scores higher
    # than the same object with a confident one, and a far object higher still
    centre = np.array([[0.0, 0.0], [0.0, 0.0], [9.0, 9.0]])
    doubt = combined.novelty_scores(combined.energy(centre), [0, 0, 0], [0.99, 0.55, 0.99])
    assert doubt[1] > doubt[0] and doubt[2] > doubt[0]
    assert doubt[1] > cut > doubt[0]
    with pytest.raises(ValueError, match="largest class probability"):
        combined.novelty_scores(energy, labels)
    # the training probabilities survive a save/load round trip
    combined.save(tmp_path / "gmm.h5")
    loaded = GMMNovelty.load(tmp_path / "gmm.h5")
    assert loaded.novelty_score == "class_energy_msp"
    np.testing.assert_array_equal(loaded.novelty_scores(energy, labels, max_p), scores)
    with pytest.raises(ValueError, match="largest class probabilities"):
        GMMNovelty.from_parameters(combined.phi_, combined.mu_, combined.cov_,
                                   combined.train_energy_, train_class=labels,
                                   novelty_score="class_energy_msp")
