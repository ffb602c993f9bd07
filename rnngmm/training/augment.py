"""Training-time augmentation of chunks: random subsets of their epochs.

A survey with 40-60 epochs per star gives shorter, sparser chunks than a
training set of 200-point chunks; trained only on full chunks, the network
sees such objects out of distribution. :func:`random_subsets` replaces, with
probability ``probability``, each chunk by a uniformly drawn subset of its
points (between ``min_points`` and all of them), re-standardised exactly as
:func:`rnngmm.preprocess.standardise_chunk` would have standardised those
points (mean, spread, supports and error weights of the subset). Pure numpy,
seeded: an epoch's augmentation depends only on the generator given.
"""

import numpy as np

from ..preprocess import MIN_STD, Chunks


def random_subsets(chunks, rng, *, min_points=20, probability=0.5):
    """A copy of ``chunks`` with some chunks cut to random subsets of their points.

    Parameters
    ----------
    chunks : rnngmm.preprocess.Chunks
    rng : numpy.random.Generator
    min_points : int
        Fewest points a subset keeps (chunks at or below it are left whole).
    probability : float
        Chance that a chunk is cut.

    Returns
    -------
    Chunks
    """
    x = chunks.x.copy()
    weights = chunks.weights.copy()
    supports = chunks.supports.copy()
    cut = rng.random(len(x)) < probability
    lengths = (weights > 0).sum(axis=1)
    for i in np.flatnonzero(cut & (lengths > min_points)):
        n = int(lengths[i])
        k = int(rng.integers(min_points, n + 1))
        keep = np.sort(rng.choice(n, size=k, replace=False))
        times = np.cumsum(x[i, :n, 0].astype(np.float64))[keep]
        mean, std = float(supports[i, 0]), float(supports[i, 1])
        raw = x[i, :n, 1].astype(np.float64)[keep] * std + mean
        new_mean, new_std = raw.mean(), max(raw.std(), MIN_STD)
        w = weights[i, :n].astype(np.float64)[keep]
        x[i] = 0.0
        weights[i] = 0.0
        x[i, :k, 0] = np.diff(times, prepend=times[0])
        x[i, :k, 1] = (raw - new_mean) / new_std
        weights[i, :k] = w / w.mean()
        supports[i, 0], supports[i, 1] = new_mean, new_std
    return Chunks(x, weights, supports)
