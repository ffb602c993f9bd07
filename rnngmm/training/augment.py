"""Training-time augmentation of chunks: random subsets of their epochs.

A survey with 40-60 epochs per star gives shorter, sparser chunks than a
training set of 200-point chunks; trained only on full chunks, the network
sees such objects out of distribution. :func:`random_subsets` replaces, with
probability ``probability``, each chunk by a uniformly drawn subset of its
points (between ``min_points`` and all of them), re-standardised exactly as
:func:`rnngmm.lightcurves.preprocess.standardise_chunk` would have standardised those
points (mean, spread, supports and error weights of the subset). Pure numpy,
seeded: an epoch's augmentation depends only on the generator given.
"""

import numpy as np

from rnngmm.lightcurves.preprocess import MIN_STD, Chunks
from rnngmm.training.data import LabelledChunks


def random_subsets(chunks, rng, *, min_points=20, probability=0.5):
    """A copy of ``chunks`` with some chunks cut to random subsets of their points.

    Parameters
    ----------
    chunks : rnngmm.lightcurves.preprocess.Chunks
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


class SparseCopies:
    """Sparse copies of the training chunks for the estimation stage.

    The cached estimation stage trains on the frozen autoencoder's outputs of
    whole chunks, so ``--augment_min_points`` alone never shows the head a
    sparse chunk, and heads trained on whole chunks classify sparse ones
    poorly (BENCHMARKS.md). Used as ``TrainingData.estimation_extra``: each
    training chunk gets ``copies`` copies cut to random subsets of at least
    ``min_points`` points, added to the stage's training chunks (validation
    chunks stay whole). Seeded per object, so the copies do not depend on the
    number of ranks.

    Parameters
    ----------
    min_points : int
    copies : int
    seed : int
    """

    def __init__(self, min_points, copies=1, seed=0):
        self.min_points = int(min_points)
        self.copies = int(copies)
        self.seed = int(seed)

    def __call__(self, model, train, collectives=None):
        """Cut copies of this rank's training chunks (``LabelledChunks``), with
        their objects' indices and labels."""
        chunks = train.chunks
        cuts, objects, labels = [], [], []
        for obj in np.unique(train.object_index):
            rows = np.flatnonzero(train.object_index == obj)
            rng = np.random.default_rng([self.seed, 20, int(obj)])
            for _ in range(self.copies):
                cuts.append(random_subsets(Chunks(chunks.x[rows], chunks.weights[rows],
                                                  chunks.supports[rows]),
                                           rng, min_points=self.min_points, probability=1.0))
                objects.append(train.object_index[rows])
                labels.append(train.labels[rows])
        return LabelledChunks(Chunks.concatenate(cuts, chunks.x.shape[1]),
                              np.concatenate(objects or [np.zeros(0, np.int64)]),
                              np.concatenate(labels or [np.zeros(0, np.int32)]))


def chain_extras(extras):
    """One ``estimation_extra`` callable adding the chunks of each of ``extras``
    (None when there is none)."""
    extras = [e for e in extras if e is not None]
    if not extras:
        return None
    if len(extras) == 1:
        return extras[0]

    def chained(model, train, collectives=None):
        added = [extra(model, train, collectives) for extra in extras]
        out = added[0]
        for more in added[1:]:
            out = out.concatenate(more)
        return out
    return chained
