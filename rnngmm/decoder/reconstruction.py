"""The decoder's reconstruction of an object, back in magnitudes and times or phases.

What ``rnngmm report`` draws over a light curve: the object is cut into
chunks exactly as ``rnngmm flag`` cut it
(:func:`rnngmm.lightcurves.objects.object_chunks`), the run's model
reconstructs every chunk, and :func:`invert_chunk` undoes
:func:`rnngmm.lightcurves.preprocess.standardise_chunk` on the chunk and on
its reconstruction. Positions are epochs (days) for runs trained on time
lags, phases in [0, 1) for runs trained with ``--period_fold``; where each
chunk starts comes from :func:`rnngmm.lightcurves.preprocess.chunk_layout`,
the one definition of the cut.
"""

from dataclasses import dataclass

import numpy as np

from rnngmm.lightcurves.objects import chunking_period, object_chunks
from rnngmm.lightcurves.preprocess import chunk_layout


@dataclass
class ChunkPoints:
    """One chunk's points back in the units of the light curve.

    Attributes
    ----------
    position : ndarray of float64, shape (n,)
        Epoch (days) of each real point, or its phase in [0, 1) for a
        phase-folded chunk.
    mag : ndarray of float64, shape (n,)
        The chunk's input magnitudes.
    reconstruction : ndarray of float64, shape (n,) or None
        The decoder's reconstruction in magnitudes, when one was given.
    """

    position: np.ndarray
    mag: np.ndarray
    reconstruction: np.ndarray = None


def invert_chunk(x, weights, supports, origin=0.0, reconstruction=None):
    """Undo :func:`rnngmm.lightcurves.preprocess.standardise_chunk` for one chunk.

    ``standardise_chunk`` stores per step the lag since the previous point
    (0 for the first) and ``(mag - mean) / std``, right-padded with zero
    weights; ``supports`` holds ``[mean, std, log10 period]``. Inverting
    needs the position of the chunk's first point (``origin``), which the
    chunk itself does not keep.

    Parameters
    ----------
    x : array_like, shape (n_max, 2)
        ``[lag, standardised magnitude]`` per step.
    weights : array_like, shape (n_max,)
        Zero on padding steps.
    supports : array_like, shape (3,)
        ``[mean mag, mag std, log10 period]``.
    origin : float
        Epoch (days) or phase of the chunk's first point.
    reconstruction : array_like, shape (n_max,), optional
        The decoder's output for the chunk (standardised magnitudes).

    Returns
    -------
    ChunkPoints
        Positions and magnitudes of the chunk's real points, in chunk order
        (accurate to the float32 precision of the lags and magnitudes).
    """
    x = np.asarray(x)
    valid = np.asarray(weights) > 0
    mean, std = (float(v) for v in np.asarray(supports, np.float64)[:2])
    lags = np.asarray(x[valid, 0], np.float64)
    position = float(origin) + np.cumsum(lags)  # the first lag is 0
    mag = np.asarray(x[valid, 1], np.float64) * std + mean
    rebuilt = None
    if reconstruction is not None:
        rebuilt = np.asarray(reconstruction, np.float64)[valid] * std + mean
    return ChunkPoints(position, mag, rebuilt)


def reconstruct_object(model, time, mag, err, period, chunking):
    """The decoder's reconstruction of a prepared object, chunk by chunk.

    Parameters
    ----------
    model : keras.Model
        A run's model (``run.model``): called once on all of the object's
        chunks, its ``"reconstruction"`` output read back.
    time, mag, err : ndarray
        A prepared object's photometry
        (:func:`rnngmm.lightcurves.objects.prepare_object`).
    period : float
    chunking : rnngmm.lightcurves.objects.Chunking

    Returns
    -------
    list of ChunkPoints
        One per chunk, in chunk order; positions in days (or phases for a
        folding run).

    Raises
    ------
    BadLightCurve
        When the object cannot be chunked (too few points, unusable period).
    """
    chunks = object_chunks(time, mag, err, period, chunking)
    outputs = model({"x": chunks.x, "weights": chunks.weights, "supports": chunks.supports},
                    training=False)
    rebuilt = np.asarray(outputs["reconstruction"], np.float64)
    positions, _, bounds = chunk_layout(time, chunking_period(period, chunking),
                                        n_min=chunking.n_min,
                                        n_max=chunking.n_max,
                                        period_fold=chunking.period_fold)
    return [invert_chunk(chunks.x[c], chunks.weights[c], chunks.supports[c],
                         origin=positions[start], reconstruction=rebuilt[c])
            for c, (start, _) in enumerate(bounds)]
