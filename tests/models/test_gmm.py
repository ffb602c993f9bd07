"""GMM maths of rnngmm.models.gmm against independent computations."""

import numpy as np
import pytest
from keras import ops
from sklearn.mixture import GaussianMixture

from rnngmm.models import gmm


def random_mixture(rng, n_components=3, dim=4):
    phi = rng.dirichlet(np.ones(n_components))
    mu = rng.normal(scale=3.0, size=(n_components, dim))
    factors = rng.normal(size=(n_components, dim, dim))
    cov = factors @ factors.transpose(0, 2, 1) + 0.5 * np.eye(dim)
    return phi, mu, cov


def sklearn_mixture(phi, mu, cov):
    """A GaussianMixture with parameters set by hand (no fitting)."""
    mixture = GaussianMixture(n_components=len(phi), covariance_type="full")
    mixture.weights_ = phi
    mixture.means_ = mu
    mixture.covariances_ = cov
    precisions = np.linalg.inv(cov)
    # sklearn stores the Cholesky factor of each precision matrix (upper form).
    mixture.precisions_cholesky_ = np.stack([np.linalg.cholesky(p) for p in precisions])
    return mixture


def numpy_parameters(z, gamma):
    """Reference GMM parameters with explicit loops."""
    n_components = gamma.shape[1]
    phi = gamma.mean(axis=0)
    mu = np.stack([(gamma[:, k:k + 1] * z).sum(0) / gamma[:, k].sum()
                   for k in range(n_components)])
    cov = np.stack([
        sum(gamma[i, k] * np.outer(z[i] - mu[k], z[i] - mu[k]) for i in range(len(z)))
        / gamma[:, k].sum()
        for k in range(n_components)])
    return phi, mu, cov


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_energy_is_minus_sklearn_log_likelihood(dtype):
    rng = np.random.default_rng(1)
    phi, mu, cov = random_mixture(rng)
    z = rng.normal(scale=3.0, size=(50, 4))
    expected = -sklearn_mixture(phi, mu, cov).score_samples(z)
    energy = ops.convert_to_numpy(gmm.sample_energy(
        z.astype(dtype), phi.astype(dtype), mu.astype(dtype), cov.astype(dtype),
        jitter=0.0))
    assert energy.dtype == dtype
    rtol = 1e-10 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(energy, expected, rtol=rtol, atol=rtol)


def test_energy_jitter_is_added_to_the_diagonal():
    rng = np.random.default_rng(2)
    phi, mu, cov = random_mixture(rng)
    z = rng.normal(size=(10, 4))
    jitter = 0.3
    expected = -sklearn_mixture(phi, mu, cov + jitter * np.eye(4)).score_samples(z)
    energy = ops.convert_to_numpy(gmm.sample_energy(z, phi, mu, cov, jitter=jitter))
    np.testing.assert_allclose(energy, expected, rtol=1e-10)


def test_parameters_match_numpy_reference():
    rng = np.random.default_rng(3)
    z = rng.normal(size=(40, 5)) + 10.0
    gamma = rng.dirichlet(np.ones(3), size=40)
    expected = numpy_parameters(z, gamma)
    for got, want in zip(gmm.gmm_parameters(z, gamma), expected):
        np.testing.assert_allclose(ops.convert_to_numpy(got), want, rtol=1e-10)
    from_statistics = gmm.gmm_parameters_from_statistics(*gmm.gmm_statistics(z, gamma))
    for got, want in zip(from_statistics, expected):
        np.testing.assert_allclose(ops.convert_to_numpy(got), want, rtol=1e-8, atol=1e-8)


def test_statistics_of_batches_add_up():
    rng = np.random.default_rng(4)
    z = rng.normal(size=(30, 3))
    gamma = rng.dirichlet(np.ones(2), size=30)
    whole = gmm.gmm_statistics(z, gamma)
    parts = [gmm.gmm_statistics(z[a:b], gamma[a:b]) for a, b in ((0, 7), (7, 30))]
    for k, total in enumerate(whole):
        np.testing.assert_allclose(ops.convert_to_numpy(parts[0][k] + parts[1][k]),
                                   ops.convert_to_numpy(total), rtol=1e-12)


def test_penalty_is_sum_of_inverse_variances():
    cov = np.array([[[2.0, 0.3], [0.3, 4.0]],
                    [[0.5, 0.0], [0.0, 0.25]]])
    penalty = float(gmm.covariance_diagonal_penalty(cov))
    assert penalty == pytest.approx(1 / 2 + 1 / 4 + 1 / 0.5 + 1 / 0.25)
    with_jitter = float(gmm.covariance_diagonal_penalty(cov, jitter=0.5))
    assert with_jitter == pytest.approx(1 / 2.5 + 1 / 4.5 + 1 / 1.0 + 1 / 0.75)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_near_singular_covariance_gives_finite_energy(dtype):
    rng = np.random.default_rng(5)
    # All samples of component 0 lie on a line: its covariance has rank 1.
    t = rng.normal(size=(20, 1))
    z = np.concatenate([np.hstack([t, 2 * t, -t]),
                        rng.normal(size=(20, 3))]).astype(dtype)
    gamma = np.zeros((40, 2), dtype)
    gamma[:20, 0] = gamma[20:, 1] = 1.0
    phi, mu, cov = gmm.gmm_parameters(z, gamma)
    energy = ops.convert_to_numpy(gmm.sample_energy(z, phi, mu, cov, jitter=1e-6))
    assert np.all(np.isfinite(energy))
    penalty = ops.convert_to_numpy(gmm.covariance_diagonal_penalty(cov, jitter=1e-6))
    assert np.isfinite(penalty)
    # Points off the degenerate line are far less likely than points on it.
    off_line = ops.convert_to_numpy(gmm.sample_energy(
        np.array([[1.0, -1.0, 1.0]], dtype), phi[:1] * 0 + 1, mu[:1], cov[:1]))
    assert off_line[0] > energy[:20].max()


def test_float16_inputs_are_computed_in_float32():
    rng = np.random.default_rng(6)
    z = rng.normal(size=(8, 2)).astype(np.float16)
    gamma = rng.dirichlet(np.ones(2), size=8).astype(np.float16)
    phi, mu, cov = gmm.gmm_parameters(z, gamma)
    energy = gmm.sample_energy(z, phi, mu, cov)
    assert ops.convert_to_numpy(energy).dtype == np.float32
