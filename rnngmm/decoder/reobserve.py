"""Re-observing known objects at another survey's cadence with the decoder.

The decoder is conditioned on the sampling times: given an object's latent
code and a set of time lags it gives the object's standardised magnitudes at
those times. Decoding a training object's code at the epochs of an object of
a new catalog (its "sampling pattern") and adding noise from that object's
errors gives a synthetic light curve of a KNOWN class observed the way the
new survey observes. ``rnngmm generate`` writes such light curves as a
dataset, and ``rnngmm train --reobserve_from`` adds them to the estimation
stage's training chunks.

The pieces, for one synthetic object::

    pattern_chunks(pattern time, source period, chunking)   -> lags, mask, layout
    decode_codes(model, codes, lags, mask)                   -> standardised mags
    place_magnitudes(decoded, layout, mean, scale)           -> magnitudes at the epochs
    + Gaussian noise of the pattern's errors

The pattern is cut exactly as :func:`rnngmm.lightcurves.preprocess.make_chunks` cuts a
light curve (folded on the SOURCE's period when the run folds), so every lag
the decoder sees is one the run's encoder would have been given.
Magnitudes are un-standardised with the mean and scale of the source chunk
whose code is decoded. Every random choice comes from a generator the caller
seeds per synthetic object, so results do not depend on the number of ranks.
"""

from dataclasses import dataclass

import numpy as np

from rnngmm.errors import BadLightCurve, InputError
from rnngmm.lightcurves.objects import chunking_period
from rnngmm.lightcurves.preprocess import chunk_layout, make_chunks
from rnngmm.inference import padded_batch_size
from rnngmm.inference import predict_chunks


@dataclass
class Pattern:
    """The sampling of one catalog object: sorted epochs and their errors.

    Attributes
    ----------
    id : str
    time : ndarray of float64
    err : ndarray of float64
    """

    id: str
    time: np.ndarray
    err: np.ndarray


@dataclass
class Source:
    """What the decoder needs of a known object: one chunk's code and scaling.

    Attributes
    ----------
    code : ndarray (E,)
        Latent code of one of the object's chunks.
    mean, scale : float
        That chunk's mean magnitude and standard deviation (its supports).
    period : float
        The object's period in days (patterns are folded on it when the run folds).
    """

    code: np.ndarray
    mean: float
    scale: float
    period: float


def eligible_patterns(lengths, min_points, catalog="the catalog"):
    """Indices of catalog objects with at least ``min_points`` points.

    Parameters
    ----------
    lengths : array_like of int
        Points of each catalog object.
    min_points : int
        The fewest points the run scores (``score_n_min``, else ``n_min``):
        shorter objects would give no chunk.
    catalog : str
        Name used in the error messages.

    Raises
    ------
    InputError
        When the catalog is empty, or no object is long enough.
    """
    lengths = np.asarray(lengths, np.int64)
    if len(lengths) == 0:
        raise InputError(f"{catalog} holds no object to take sampling patterns from")
    eligible = np.flatnonzero(lengths >= int(min_points))
    if len(eligible) == 0:
        raise InputError(f"no object of {catalog} has at least {int(min_points)} points "
                         f"(the fewest the run scores, --score_n_min or else --n_min; the longest "
                         f"has {int(lengths.max())}): its "
                         "sampling patterns cannot be encoded by this run")
    return eligible


def pattern_chunks(time, period, chunking):
    """The decoder's inputs for one pattern: lags and mask per chunk, and the layout.

    Parameters
    ----------
    time : ndarray of float64
        Sorted epochs of the pattern.
    period : float
        The source object's period (days).
    chunking : rnngmm.lightcurves.objects.Chunking

    Returns
    -------
    lags : ndarray (n_chunks, n_max) float32
    weights : ndarray (n_chunks, n_max) float32
        ``> 0`` on real points.
    order : ndarray of int
        Epoch index of each position (see :func:`rnngmm.lightcurves.preprocess.chunk_layout`).
    bounds : list of (int, int)

    Raises
    ------
    BadLightCurve
        Fewer points than ``chunking.n_min`` or an unusable period.
    """
    time = np.asarray(time, np.float64)
    n = len(time)
    # make_chunks is the one definition of lags; unit errors give unit weights.
    period = chunking_period(period, chunking)
    chunks = make_chunks(time, np.zeros(n), np.ones(n), period, n_min=chunking.n_min,
                         n_max=chunking.n_max, period_fold=chunking.period_fold)
    _, order, bounds = chunk_layout(time, period, n_min=chunking.n_min,
                                    n_max=chunking.n_max, period_fold=chunking.period_fold)
    return chunks.x[..., 0], chunks.weights, order, bounds


def place_magnitudes(decoded, order, bounds, mean, scale):
    """Magnitudes at the pattern's epochs from the decoded chunks.

    Parameters
    ----------
    decoded : array_like (n_chunks, n_max)
        Standardised magnitudes of each chunk (padding ignored).
    order, bounds
        From :func:`pattern_chunks`.
    mean, scale : float
        The source chunk's mean magnitude and standard deviation.

    Returns
    -------
    ndarray of float64, in epoch order
        Points covered by two overlapping chunks get the mean of both.
    """
    decoded = np.asarray(decoded, np.float64)
    n = len(order)
    total, count = np.zeros(n), np.zeros(n)
    for c, (a, b) in enumerate(bounds):
        np.add.at(total, order[a:b], decoded[c, :b - a])
        np.add.at(count, order[a:b], 1.0)
    if np.any(count == 0):
        raise ValueError("the chunk bounds do not cover every epoch")
    return float(mean) + float(scale) * total / count


def add_error_noise(mag, err, rng):
    """``mag`` plus Gaussian noise of standard deviation ``err`` (per point)."""
    err = np.asarray(err, np.float64)
    return np.asarray(mag, np.float64) + rng.normal(0.0, 1.0, len(err)) * err


def decode_codes(model, codes, lags, weights, batch_size=512):
    """The model's decoder run on ``codes`` at time lags ``lags``, in batches.

    The lags get the transform the model's forward pass gives them
    (``log1p(max(lag, 0))``, :meth:`rnngmm.models.rnngmm.RNNGMM.call`); a
    test checks that decoding a chunk's own code at its own lags gives the
    model's reconstruction of that chunk.

    Parameters
    ----------
    model : rnngmm.models.rnngmm.RNNGMM
    codes : ndarray (N, E)
    lags, weights : ndarray (N, n_max)
        As ``x[..., 0]`` and ``weights`` of :class:`rnngmm.lightcurves.preprocess.Chunks`.
    batch_size : int

    Returns
    -------
    ndarray (N, n_max) float32
        Standardised magnitudes (padding steps hold values to ignore).
    """
    forward = _compiled_decode(model)
    n = len(codes)
    pieces = []
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        pad = padded_batch_size(stop - start, batch_size) - (stop - start)
        arrays = []
        for array in (codes, lags, weights):
            block = np.asarray(array[start:stop], np.float32)
            if pad:
                block = np.concatenate([block, np.repeat(block[-1:], pad, axis=0)])
            arrays.append(block)
        pieces.append(forward(*arrays)[:stop - start])
    if not pieces:
        return np.zeros((0, np.shape(lags)[1] if np.ndim(lags) == 2 else 0), np.float32)
    return np.concatenate(pieces).astype(np.float32)


def _decode(model, code, lags, weights):
    from keras import ops
    dt = ops.log1p(ops.maximum(ops.expand_dims(lags, -1), 0.0))
    return model.decoder(code, dt, mask=weights > 0, training=False)


def _compiled_decode(model):
    """``decode(codes, lags, weights) -> ndarray``, compiled under TensorFlow
    (one trace per batch shape), eager under other Keras backends."""
    cache = model.__dict__.setdefault("_rnngmm_compiled_decode", {})
    if "decode" not in cache:
        import keras
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf
            function = tf.function(lambda c, t, w: _decode(model, c, t, w),
                                   reduce_retracing=True)

            def decode(code, lags, weights):
                return function(code, lags, weights).numpy()
        else:
            ops = keras.ops

            def decode(code, lags, weights):
                tensors = [ops.convert_to_tensor(a) for a in (code, lags, weights)]
                return ops.convert_to_numpy(_decode(model, *tensors))
        cache["decode"] = decode
    return cache["decode"]


def reobserve(model, sources, patterns, rngs, chunking, batch_size=512):
    """Synthetic light curves: each source decoded at its pattern's epochs, plus noise.

    Parameters
    ----------
    model : rnngmm.models.rnngmm.RNNGMM
    sources : sequence of Source
    patterns : sequence of Pattern
        One per source (the same pattern may serve several sources).
    rngs : sequence of numpy.random.Generator
        One per source, for its noise.
    chunking : rnngmm.lightcurves.objects.Chunking
        The run's chunking (``n_max``, ``period_fold``; ``n_min`` is checked).
    batch_size : int

    Returns
    -------
    list of (time, mag, err)
        float64 arrays: the pattern's epochs and errors, and the decoded
        magnitudes with noise of those errors added.

    Raises
    ------
    InputError
        When a pattern cannot be chunked for its source (names both).
    """
    if not (len(sources) == len(patterns) == len(rngs)):
        raise ValueError(f"{len(sources)} sources, {len(patterns)} patterns, {len(rngs)} rngs")
    layouts, lags, weights, codes = [], [], [], []
    for source, pattern in zip(sources, patterns):
        try:
            lag, weight, order, bounds = pattern_chunks(pattern.time, source.period, chunking)
        except BadLightCurve as exc:
            raise InputError(f"sampling pattern {pattern.id!r} cannot be used: {exc.reason}") \
                from None
        layouts.append((order, bounds))
        lags.append(lag)
        weights.append(weight)
        codes.append(np.repeat(np.asarray(source.code, np.float32)[None], len(lag), axis=0))
    if not sources:
        return []
    decoded = decode_codes(model, np.concatenate(codes), np.concatenate(lags),
                           np.concatenate(weights), batch_size=batch_size)
    curves, start = [], 0
    for source, pattern, rng, (order, bounds) in zip(sources, patterns, rngs, layouts):
        stop = start + len(bounds)
        mag = place_magnitudes(decoded[start:stop], order, bounds, source.mean, source.scale)
        start = stop
        curves.append((np.asarray(pattern.time, np.float64), add_error_noise(mag, pattern.err, rng),
                       np.asarray(pattern.err, np.float64)))
    return curves


def source_codes(model, chunks, batch_size=512):
    """:class:`Source` fields of chunks: codes, means and scales (periods added by the caller).

    Parameters
    ----------
    model : keras.Model
    chunks : rnngmm.lightcurves.preprocess.Chunks
        One chunk per synthetic object (the one whose code is decoded).

    Returns
    -------
    codes : ndarray (N, E) float32
    means, scales : ndarray (N,) float64
    """
    outputs = predict_chunks(model, chunks, batch_size=batch_size)
    supports = np.asarray(chunks.supports, np.float64)
    return outputs["code"], supports[:, 0], supports[:, 1]


def synthetic_id(serial, source_id, pattern_id):
    """Id of a synthetic object: says it is synthetic, names its source and pattern."""
    return f"synthetic{int(serial):06d}:{source_id}@{pattern_id}"


def read_patterns(catalog, indices):
    """:class:`Pattern` of objects ``indices`` of a prepared catalog dataset.

    Parameters
    ----------
    catalog : rnngmm.io.dataset.Dataset
    indices : sequence of int
        Repeats allowed (one pattern may serve several synthetic objects).

    Returns
    -------
    dict of int to Pattern
    """
    unique = np.unique(np.asarray(indices, np.int64))
    return {i: Pattern(str(catalog.ids[i]), np.asarray(t, np.float64), np.asarray(e, np.float64))
            for i, t, _, e in catalog.iter_lightcurves(unique)}


def reobserve_chunks(model, picked, periods, patterns, rngs, chunking, batch_size=512):
    """Synthetic light curves from one chosen chunk per synthetic object.

    Parameters
    ----------
    model : rnngmm.models.rnngmm.RNNGMM
    picked : rnngmm.lightcurves.preprocess.Chunks
        The source chunk of each synthetic object (its code is decoded, its
        mean and std un-standardise the result).
    periods : sequence of float
        The source objects' periods.
    patterns, rngs, chunking, batch_size
        As in :func:`reobserve`.

    Returns
    -------
    list of (time, mag, err)
    """
    codes, means, scales = source_codes(model, picked, batch_size=batch_size)
    sources = [Source(c, m, s, float(p)) for c, m, s, p in zip(codes, means, scales, periods)]
    return reobserve(model, sources, patterns, rngs, chunking, batch_size=batch_size)
