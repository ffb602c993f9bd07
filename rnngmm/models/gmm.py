"""Gaussian-mixture maths of the estimation network, as pure ``keras.ops`` functions.

The same functions serve the training loss (tensors, float32) and the
whole-training-set GMM of :mod:`rnngmm.novelty.mixture` (numpy, float64), so there is
one implementation of the maths. Inputs may be numpy arrays or backend
tensors; results are backend tensors (use ``keras.ops.convert_to_numpy``).

Computations run in at least float32: float16 inputs (mixed precision) are
promoted, float64 inputs stay float64.

Notation: ``B`` samples, ``K`` components, ``D`` dimensions of ``z``.
"""

import math

from keras import backend, ops

#: Floor on a component's total responsibility, so an unused component gives
#: finite (if meaningless) parameters instead of 0/0.
_MIN_MASS = 1e-12


def _float_dtype(*arrays):
    """Common floating dtype of ``arrays``, at least float32."""
    dtypes = [backend.standardize_dtype(getattr(a, "dtype", "float32")) for a in arrays]
    return backend.result_type(*dtypes, "float32")


def _as_float(*arrays):
    dtype = _float_dtype(*arrays)
    return [ops.cast(ops.convert_to_tensor(a), dtype) for a in arrays]


def gmm_statistics(z, gamma):
    """Sufficient statistics of a GMM fit by responsibilities ``gamma``.

    Statistics of several batches (or ranks) can be summed before calling
    :func:`gmm_parameters_from_statistics`, which allows a streaming fit over
    a whole training set.

    Parameters
    ----------
    z : array_like, shape (B, D)
    gamma : array_like, shape (B, K)
        Membership probabilities (rows sum to 1).

    Returns
    -------
    sum_gamma : tensor, shape (K,)
        ``sum_i gamma_ik``.
    sum_gz : tensor, shape (K, D)
        ``sum_i gamma_ik z_i``.
    sum_gzz : tensor, shape (K, D, D)
        ``sum_i gamma_ik z_i z_i^T``.
    """
    z, gamma = _as_float(z, gamma)
    sum_gamma = ops.sum(gamma, axis=0)
    sum_gz = ops.einsum("bk,bd->kd", gamma, z)
    sum_gzz = ops.einsum("bk,bd,be->kde", gamma, z, z)
    return sum_gamma, sum_gz, sum_gzz


def gmm_parameters_from_statistics(sum_gamma, sum_gz, sum_gzz):
    """Mixture weights, means and covariances from summed statistics.

    Uses the raw second moment, ``cov = E[z z^T] - mu mu^T``, which loses
    precision when the means are large compared with the spreads; prefer
    :func:`gmm_parameters` when all samples are at hand, and accumulate the
    statistics in float64 when streaming.

    Parameters
    ----------
    sum_gamma, sum_gz, sum_gzz : array_like
        As returned by :func:`gmm_statistics` (possibly summed over batches).

    Returns
    -------
    phi : tensor, shape (K,)
    mu : tensor, shape (K, D)
    cov : tensor, shape (K, D, D)
    """
    sum_gamma, sum_gz, sum_gzz = _as_float(sum_gamma, sum_gz, sum_gzz)
    mass = ops.maximum(sum_gamma, _MIN_MASS)
    phi = sum_gamma / ops.sum(sum_gamma)
    mu = sum_gz / mass[:, None]
    cov = sum_gzz / mass[:, None, None] - mu[:, :, None] * mu[:, None, :]
    return phi, mu, cov


def gmm_parameters(z, gamma):
    """Mixture weights, means and covariances of ``z`` given responsibilities.

    The covariances are computed from centred samples (two passes), which
    stays accurate when the means are large compared with the spreads.

    Parameters
    ----------
    z : array_like, shape (B, D)
    gamma : array_like, shape (B, K)

    Returns
    -------
    phi : tensor, shape (K,)
        ``mean_i gamma_ik``.
    mu : tensor, shape (K, D)
        ``sum_i gamma_ik z_i / sum_i gamma_ik``.
    cov : tensor, shape (K, D, D)
        ``sum_i gamma_ik (z_i - mu_k)(z_i - mu_k)^T / sum_i gamma_ik``.
    """
    z, gamma = _as_float(z, gamma)
    sum_gamma = ops.sum(gamma, axis=0)
    mass = ops.maximum(sum_gamma, _MIN_MASS)
    phi = sum_gamma / ops.sum(sum_gamma)
    mu = ops.einsum("bk,bd->kd", gamma, z) / mass[:, None]
    centred = z[:, None, :] - mu[None, :, :]                       # (B, K, D)
    cov = ops.einsum("bk,bkd,bke->kde", gamma, centred, centred) / mass[:, None, None]
    return phi, mu, cov


def regularised_cholesky(cov, jitter=1e-6):
    """Lower Cholesky factors of ``cov + jitter * I`` (symmetrised first).

    Parameters
    ----------
    cov : array_like, shape (K, D, D)
    jitter : float
        Added to every diagonal element so near-singular covariances factor.

    Returns
    -------
    tensor, shape (K, D, D)
    """
    (cov,) = _as_float(cov)
    dim = ops.shape(cov)[-1]
    cov = 0.5 * (cov + ops.transpose(cov, (0, 2, 1)))
    cov = cov + float(jitter) * ops.eye(dim, dtype=cov.dtype)[None]
    return ops.cholesky(cov)


def sample_energy(z, phi, mu, cov, jitter=1e-6):
    """Sample energy ``E(z) = -log sum_k phi_k N(z; mu_k, cov_k + jitter I)``.

    Computed stably: log-determinants from the Cholesky diagonal, Mahalanobis
    distances by a triangular solve (no matrix inverse), and a log-sum-exp
    over components. Higher energy = less likely = more anomalous.

    Parameters
    ----------
    z : array_like, shape (B, D)
    phi : array_like, shape (K,)
    mu : array_like, shape (K, D)
    cov : array_like, shape (K, D, D)
    jitter : float
        Added to the covariance diagonals before factorising.

    Returns
    -------
    tensor, shape (B,)
    """
    z, phi, mu, cov = _as_float(z, phi, mu, cov)
    dim = ops.shape(z)[-1]
    chol = regularised_cholesky(cov, jitter)                         # (K, D, D)
    # Solve L y = (z - mu) for every component at once: (K, D, B).
    diff = ops.transpose(z[None, :, :] - mu[:, None, :], (0, 2, 1))
    solved = ops.solve_triangular(chol, diff, lower=True)
    mahalanobis = ops.sum(ops.square(solved), axis=1)               # (K, B)
    log_det = 2.0 * ops.sum(ops.log(ops.diagonal(chol, axis1=1, axis2=2)), axis=-1)
    log_norm = 0.5 * (ops.cast(dim, z.dtype) * math.log(2.0 * math.pi) + log_det)
    log_phi = ops.log(ops.maximum(phi, ops.cast(_MIN_MASS, phi.dtype)))
    log_weighted = log_phi[:, None] - log_norm[:, None] - 0.5 * mahalanobis
    return -ops.logsumexp(log_weighted, axis=0)


def covariance_diagonal_penalty(cov, jitter=0.0):
    """DAGMM penalty on small variances: ``sum_k sum_j 1 / (cov_kjj + jitter)``.

    Parameters
    ----------
    cov : array_like, shape (K, D, D)
    jitter : float
        Added to the diagonals (pass the energy's jitter so a collapsed
        dimension gives a large but finite penalty).

    Returns
    -------
    tensor, scalar
    """
    (cov,) = _as_float(cov)
    diagonal = ops.diagonal(cov, axis1=1, axis2=2)
    return ops.sum(1.0 / (diagonal + float(jitter)))
