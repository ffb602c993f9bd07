"""Re-observation augmentation of the estimation stage (``train --reobserve_from``).

When sequential training reaches its estimation stage the autoencoder is
frozen, so its decoder can re-observe the training objects at another
survey's cadence (:mod:`rnngmm.decoder.reobserve`): each rank decodes the codes of
ITS training objects at the sampling patterns (epochs and errors) of random
objects of the catalog dataset, adds noise from the pattern's errors, chunks
the synthetic light curves as training chunks them, and the estimation
network trains on them together with the real chunks, with the labels of
their sources.

What stays real: the validation chunks (every validation figure and the
early-stopping monitor), the whole-training-set mixture and its anomaly
thresholds (:func:`rnngmm.training.gmm_fit.fit_training_gmm` runs on the
real training chunks), ``split.json`` and everything ``score`` reads.

Synthetic copies per training object: ``floor(F)``, plus one with
probability ``F - floor(F)``, for ``--reobserve_fraction F``. Every random
choice of copy ``k`` of object ``o`` comes from
``numpy.random.default_rng([seed, 32, o, k])`` (the number of copies from
``[seed, 31, o]``), so the synthetic set does not depend on the number of
ranks, and a resumed run rebuilds exactly the set it had.
"""

import logging
import math
import os

import numpy as np

from rnngmm.io.dataset import Dataset
from rnngmm.lightcurves.objects import chunk_objects
from rnngmm.lightcurves.preprocess import Chunks
from rnngmm.decoder.reobserve import eligible_patterns, read_patterns, reobserve_chunks
from rnngmm.training.data import LabelledChunks

log = logging.getLogger(__name__)


def copies_per_object(objects, fraction, seed):
    """Synthetic copies of each object for ``--reobserve_fraction``.

    Parameters
    ----------
    objects : array_like of int
        Dataset indices.
    fraction : float
        Mean copies per object (> 0).
    seed : int

    Returns
    -------
    ndarray of int64
        ``floor(fraction)`` plus one with probability ``fraction - floor(fraction)``,
        drawn per object from ``default_rng([seed, 31, object])``.
    """
    whole = math.floor(fraction)
    rest = fraction - whole
    draws = np.array([np.random.default_rng([seed, 31, int(o)]).random() for o in objects])
    return (whole + (draws < rest)).astype(np.int64) if len(draws) else np.zeros(0, np.int64)


class Reobservation:
    """Synthetic training chunks at the sampling patterns of a catalog dataset.

    Parameters
    ----------
    catalog_path : str
        Prepared dataset lending its sampling patterns.
    periods : ndarray of float
        Period of every object of the training dataset (indexed by dataset index).
    chunking : rnngmm.lightcurves.objects.Chunking
        Training's chunking; patterns need at least ``n_min`` points.
    fraction : float
        Mean synthetic copies per training object.
    seed : int

    Raises
    ------
    InputError
        When the catalog cannot be read, is empty or has no pattern with
        ``n_min`` points (checked at once, before any training).
    """

    def __init__(self, catalog_path, periods, chunking, fraction, seed):
        self.catalog_path = str(catalog_path)
        self.periods = np.asarray(periods, np.float64)
        self.chunking = chunking
        self.fraction = float(fraction)
        self.seed = int(seed)
        with Dataset(self.catalog_path) as catalog:
            self.eligible = eligible_patterns(
                catalog.lengths, chunking.n_min,
                catalog=f"--reobserve_from {self.catalog_path}")

    def __call__(self, model, train, collectives=None):
        """Synthetic chunks of this rank's training objects (``train``).

        Parameters
        ----------
        model : rnngmm.models.rnngmm.RNNGMM
            The model whose (frozen) autoencoder encodes and decodes.
        train : rnngmm.training.data.LabelledChunks
            This rank's real training chunks.
        collectives : rnngmm.training.distributed.Collectives, optional
            For the totals logged on rank 0.

        Returns
        -------
        rnngmm.training.data.LabelledChunks
            Object indices are ``-1 - source index`` (negative: no dataset
            object), labels those of the sources.
        """
        objects = np.unique(train.object_index)
        copies = copies_per_object(objects, self.fraction, self.seed)
        picked, periods, rngs, pattern_index, owners, labels = [], [], [], [], [], []
        for obj, n_copies in zip(objects, copies):
            rows = np.flatnonzero(train.object_index == obj)
            for k in range(n_copies):
                rng = np.random.default_rng([self.seed, 32, int(obj), k])
                pattern_index.append(int(self.eligible[rng.integers(len(self.eligible))]))
                row = int(rows[rng.integers(len(rows))])
                picked.append(row)
                periods.append(self.periods[obj])
                rngs.append(rng)
                owners.append(int(obj))
                labels.append(int(train.labels[row]))
        picked = np.asarray(picked, np.int64)
        source = train.chunks
        with Dataset(self.catalog_path) as catalog:
            patterns = read_patterns(catalog, pattern_index)
        curves = reobserve_chunks(
            model, Chunks(source.x[picked], source.weights[picked], source.supports[picked]),
            periods, [patterns[p] for p in pattern_index], rngs, self.chunking)
        chunk_set = chunk_objects(((n, t, m, e, periods[n]) for n, (t, m, e) in
                                   enumerate(curves)), self.chunking)
        if chunk_set.rejects:  # patterns were chosen long enough: a bug, not bad input
            raise RuntimeError(f"synthetic light curves gave no chunk: {chunk_set.rejects[:3]}")
        owners, labels = np.asarray(owners, np.int64), np.asarray(labels, np.int32)
        serial = chunk_set.object_index
        extra = LabelledChunks(chunk_set.chunks, -1 - owners[serial], labels[serial])
        if collectives is not None:
            totals = collectives.allreduce_sum([len(curves), len(extra), len(objects)])
            if collectives.dist.is_root:
                log.info(f"estimation stage: {int(totals[0])} synthetic copies of "
                         f"{int(totals[2])} training objects re-observed at the sampling "
                         f"patterns of {os.path.basename(self.catalog_path)} "
                         f"({int(totals[1])} chunks, added to the training chunks only)")
        return extra
