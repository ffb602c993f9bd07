"""Objects to network inputs: the one path shared by train, score and flag."""

from dataclasses import dataclass

import numpy as np

from .errors import BadLightCurve
from .preprocess import Chunks, check_period, clean, make_chunks


@dataclass
class ChunkSet:
    """Chunks of many objects and where each chunk came from.

    Attributes
    ----------
    chunks : Chunks
    object_index : ndarray of int64, shape (n_chunks,)
        Index (in the caller's object numbering) of each chunk's object.
    rejects : list of (int, str)
        ``(object index, reason)`` of every object that gave no chunk.
    """

    chunks: Chunks
    object_index: np.ndarray
    rejects: list


def chunk_object(time, mag, err, period, *, n_min, n_max, period_fold=False,
                 sigma_clip=None):
    """Clean, check and chunk one object's light curve.

    Raises
    ------
    BadLightCurve
        With the reason the object cannot be used.
    """
    time, mag, err, _ = clean(time, mag, err, sigma_clip=sigma_clip)
    period = check_period(period, time)
    return make_chunks(time, mag, err, period, n_min=n_min, n_max=n_max,
                       period_fold=period_fold)


def chunk_objects(records, *, n_min, n_max, period_fold=False, sigma_clip=None):
    """Chunk many objects, recording the reason for every one that fails.

    Parameters
    ----------
    records : iterable of (index, time, mag, err, period)
    n_min, n_max, period_fold, sigma_clip
        See :func:`chunk_object`.

    Returns
    -------
    ChunkSet
    """
    parts, owners, rejects = [], [], []
    for index, time, mag, err, period in records:
        try:
            chunks = chunk_object(time, mag, err, period, n_min=n_min, n_max=n_max,
                                  period_fold=period_fold, sigma_clip=sigma_clip)
        except BadLightCurve as exc:
            rejects.append((int(index), exc.reason))
            continue
        parts.append(chunks)
        owners.append(np.full(len(chunks), index, dtype=np.int64))
    object_index = np.concatenate(owners) if owners else np.zeros(0, np.int64)
    return ChunkSet(Chunks.concatenate(parts, n_max), object_index, rejects)


def dataset_records(dataset, indices):
    """``(index, time, mag, err, period)`` of ``indices`` of a prepared Dataset."""
    for i, t, m, e in dataset.iter_lightcurves(indices):
        yield i, t, m, e, dataset.periods[i]
