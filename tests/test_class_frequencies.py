"""EM estimate of a catalog's class mix (label shift) and the run's training prior."""

import numpy as np
import pytest

from rnngmm.class_frequencies import classifier_training_prior, em_class_priors, reweight

#: Class means of a 1-D three-class problem with unit-variance Gaussians.
MEANS = np.array([-2.0, 0.0, 2.0])


def sample(rng, prior, n):
    """``(x, y)``: ``n`` objects of the three Gaussian classes mixed as ``prior``."""
    y = rng.choice(len(prior), size=n, p=prior)
    return rng.normal(MEANS[y], 1.0), y


def posterior(x, prior):
    """The exact (calibrated) posteriors of the Gaussian classes under ``prior``."""
    log = -0.5 * (x[:, None] - MEANS[None, :]) ** 2 + np.log(prior)[None, :]
    p = np.exp(log - log.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)


TRAIN = np.array([0.6, 0.3, 0.1])
CATALOG = np.array([0.15, 0.25, 0.6])


def test_em_recovers_a_known_prior_shift():
    rng = np.random.default_rng(0)
    x, y = sample(rng, CATALOG, 40000)
    prob = posterior(x, TRAIN)  # a classifier calibrated to the training mix
    estimate = em_class_priors(prob, TRAIN)
    assert estimate.converged and estimate.n_objects == 40000
    np.testing.assert_allclose(estimate.prior, CATALOG, atol=0.015)
    # The naive estimate (mean posterior) stays biased towards the training mix.
    assert np.abs(prob.mean(axis=0) - CATALOG).max() > 0.05
    # The re-weighted posteriors are those of the true catalog mix.
    np.testing.assert_allclose(estimate.prob, posterior(x, CATALOG), atol=0.02)
    accuracy = [np.mean(np.argmax(p, axis=1) == y) for p in (prob, estimate.prob)]
    assert accuracy[1] > accuracy[0] + 0.03


def test_no_shift_stays_put():
    rng = np.random.default_rng(1)
    x, _ = sample(rng, TRAIN, 40000)
    estimate = em_class_priors(posterior(x, TRAIN), TRAIN)
    np.testing.assert_allclose(estimate.prior, TRAIN, atol=0.015)


def test_blocks_with_a_total_give_the_one_array_result():
    rng = np.random.default_rng(2)
    x, _ = sample(rng, CATALOG, 3000)
    prob = posterior(x, TRAIN)
    whole = em_class_priors(prob, TRAIN)
    blocks = [prob[:1000], prob[1000:1000], prob[1000:]]
    calls = []

    def total(partials):  # e.g. the sum over every rank's blocks
        calls.append(len(partials))
        return np.sum(partials, axis=0)
    split = em_class_priors(blocks, TRAIN, total=total)
    np.testing.assert_allclose(split.prior, whole.prior, rtol=1e-12)
    assert split.iterations == whole.iterations and calls == [3] * split.iterations
    assert [len(b) for b in split.prob] == [1000, 0, 2000]
    np.testing.assert_allclose(np.concatenate(split.prob), whole.prob, rtol=1e-12)


def test_reweight():
    prob = np.array([[0.5, 0.5], [0.9, 0.1]])
    np.testing.assert_allclose(reweight(prob, [0.5, 0.5], [0.5, 0.5]), prob)
    np.testing.assert_allclose(reweight(prob, [0.5, 0.5], [0.2, 0.8]),
                               [[0.2, 0.8], [0.18 / 0.26, 0.08 / 0.26]])
    # A row with weight only where the new prior is 0 keeps its values.
    np.testing.assert_allclose(reweight([[1.0, 0.0]], [0.5, 0.5], [0.0, 1.0]), [[1.0, 0.0]])


@pytest.mark.parametrize("prob, prior, message", [
    ([[0.5, -0.5, 1.0]], [1, 1, 1], "non-negative"),
    ([[0.5, np.nan, 0.5]], [1, 1, 1], "finite"),
    ([[0.5, 0.5]], [1, 1, 1], "shape"),
    ([[0.0, 0.0, 0.0]], [1, 1, 1], "sums to 0"),
    (np.zeros((0, 3)), [1, 1, 1], "no object"),
    ([[0.2, 0.3, 0.5]], [1, 0, 1], "positive"),
])
def test_bad_input_is_named(prob, prior, message):
    with pytest.raises(ValueError, match=message):
        em_class_priors(prob, prior)


def test_not_converged_is_reported():
    rng = np.random.default_rng(3)
    x, _ = sample(rng, CATALOG, 2000)
    estimate = em_class_priors(posterior(x, TRAIN), TRAIN, max_iter=2)
    assert estimate.iterations == 2 and not estimate.converged


def counts_prior(labels):
    counts = np.bincount(labels, minlength=3).astype(float)
    return counts / counts.sum()


@pytest.mark.parametrize("power", [0.5, 1.0])
def test_training_prior_of_weighted_cross_entropy(power):
    from rnngmm.class_frequencies import balanced_class_weights
    labels = np.repeat([0, 1, 2], [600, 300, 100])
    weights = balanced_class_weights(labels, 3, power)
    prior, source = classifier_training_prior(np.full(3, 1 / 3), weights, power)
    expected = counts_prior(labels) ** (1 - power)
    np.testing.assert_allclose(prior, expected / expected.sum(), rtol=1e-12)
    assert "class weights" in source


def test_training_prior_unweighted_is_the_mixture_weights():
    prior, source = classifier_training_prior([2.0, 1.0, 1.0], None, 0.0)
    np.testing.assert_allclose(prior, [0.5, 0.25, 0.25])
    assert "phi_" in source


@pytest.mark.parametrize("power", [0.0, 1.0])
def test_em_with_the_training_prior_of_a_fitted_classifier(power):
    """A logistic regression trained as the run's head is (plain or
    class-weighted cross-entropy): EM with classifier_training_prior finds
    the catalog's mix; with the other prior it would not."""
    from sklearn.linear_model import LogisticRegression

    from rnngmm.class_frequencies import balanced_class_weights
    rng = np.random.default_rng(4)
    x, y = sample(rng, TRAIN, 20000)
    weights = balanced_class_weights(y, 3, power)
    model = LogisticRegression(C=1e6, max_iter=1000, tol=1e-10)
    model.fit(x[:, None], y, sample_weight=np.asarray(weights)[y])
    phi = model.predict_proba(x[:, None]).mean(axis=0)  # what the run's GMM stores
    prior, _ = classifier_training_prior(phi, weights if power else None, power)
    xc, _ = sample(rng, CATALOG, 20000)
    prob = model.predict_proba(xc[:, None])
    estimate = em_class_priors(prob, prior)
    np.testing.assert_allclose(estimate.prior, CATALOG, atol=0.02)
    wrong = em_class_priors(prob, counts_prior(y) if power else np.full(3, 1 / 3))
    assert np.abs(wrong.prior - CATALOG).max() > 0.05
