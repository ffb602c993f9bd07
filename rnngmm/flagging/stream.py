"""Bounded streaming of objects: read -> prepare/chunk -> batch -> score.

A rank holds a bounded number of batches of ``batch_objects`` objects'
light curves (and their chunks), whatever the size of its share of the
catalog: objects are pulled lazily from the source's iterator,
``batch_objects`` at a time, prepared (:func:`prepare_batch`), scored
(:func:`score_prepared`), reduced to one result row each, and dropped. With
``prefetch`` a reader thread prepares the next batches while the current one
is scored (at most ``prefetch + 2`` batches in memory).

Each object goes through :mod:`rnngmm.lightcurves.objects` (clean once, the period rule,
chunking) with the run's own preprocessing settings, and through the one
scoring path of :mod:`rnngmm.inference`, exactly as in training and scoring.
"""

import itertools
from dataclasses import dataclass

import numpy as np

from rnngmm.errors import BadLightCurve
from rnngmm.inference import aggregate_objects
from rnngmm.lightcurves.objects import object_chunks, observed_sampling, prepare_object
from rnngmm.object_table import OK
from rnngmm.lightcurves.preprocess import Chunks
from rnngmm.flagging.prefetch import Prefetch
from rnngmm.flagging.results import RowResults


def describe_failure(exc):
    """Short status text for an exception raised while handling one object."""
    if isinstance(exc, BadLightCurve):
        return exc.reason
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"unusable light curve ({type(exc).__name__}{': ' + text if text else ''})"


def prepare_record(record, preprocessing, chunking):
    """Period and chunks of one object read from a source.

    Parameters
    ----------
    record : ObjectRecord
        Raw photometry, or (``record.prepared``) a dataset's prepared object,
        which is chunked without being cleaned again.
    preprocessing : rnngmm.lightcurves.objects.Preprocessing
        The run's cleaning and period settings.
    chunking : rnngmm.lightcurves.objects.Chunking

    Returns
    -------
    period : float
    period_source : str
    chunks : Chunks
    n_points : int
        Cleaned points.
    baseline : float
        Last minus first cleaned epoch (days).
    """
    if record.prepared:
        time, mag, err = record.time, record.mag, record.err
        period, source = record.period, record.period_source
    else:
        prepared = prepare_object(record.time, record.mag, record.err, record.period,
                                  preprocessing, catalog_source=record.period_source)
        time, mag, err = prepared.time, prepared.mag, prepared.err
        period, source = prepared.period, prepared.period_source
    chunks = object_chunks(time, mag, err, period, chunking)
    return (period, source, chunks, *observed_sampling(time))


@dataclass
class PreparedBatch:
    """A batch of objects read, cleaned and chunked, not yet scored.

    Attributes
    ----------
    rows : ndarray of int
        Catalog rows of the batch, in stream order.
    results : RowResults
        Status (reasons of the rows that failed), period and period source.
    parts, owners : list
        Chunks of each usable object and the object's position in the batch.
    """

    rows: np.ndarray
    results: RowResults
    parts: list
    owners: list


def prepare_batch(items, n_classes, preprocessing, chunking):
    """Read, clean and chunk a batch of ``(row, record_or_reason)`` items.

    ``record_or_reason`` is an :class:`~rnngmm.flagging.sources.ObjectRecord`,
    or a string giving why the source could not read the row. Every failure
    is confined to its own row.

    Returns
    -------
    PreparedBatch
    """
    results = RowResults.empty(len(items), n_classes)
    parts, owners = [], []
    for position, (_, record) in enumerate(items):
        if isinstance(record, str):
            results.status[position] = record
            continue
        try:
            period, source, chunks, n_points, baseline = prepare_record(record, preprocessing,
                                                                        chunking)
        except Exception as exc:  # garbage in -> a reason, never a crashed rank
            results.status[position] = describe_failure(exc)
            continue
        results.period[position] = period
        results.period_source[position] = source
        results.n_points[position] = n_points
        results.baseline[position] = baseline
        parts.append(chunks)
        owners.append(np.full(len(chunks), position, np.int64))
    rows = np.array([row for row, _ in items], dtype=np.int64)
    return PreparedBatch(rows, results, parts, owners)


def score_prepared(batch, scorer, chunking):
    """Score a :class:`PreparedBatch`; returns its :class:`RowResults` (one row
    per item, in the items' order)."""
    results = batch.results
    if batch.parts:
        chunks = Chunks.concatenate(batch.parts, chunking.n_max)
        scores = aggregate_objects(scorer.score(chunks), np.concatenate(batch.owners))
        positions = scores.objects
        results.prob[positions] = scores.prob
        results.energy[positions] = scores.energy
        results.n_chunks[positions] = scores.n_chunks
        results.status[positions] = OK
        results.code = np.full((len(results), scores.code.shape[1]), np.nan)
        results.code[positions] = scores.code
    return results


def score_batch(items, scorer, preprocessing, chunking):
    """Results of one batch of ``(row, record_or_reason)`` items (see
    :func:`prepare_batch`), in the items' order."""
    return score_prepared(prepare_batch(items, scorer.n_classes, preprocessing, chunking),
                          scorer, chunking)


def batches_of(records, batch_objects):
    """Lists of at most ``batch_objects`` items pulled lazily from ``records``."""
    if batch_objects < 1:
        raise ValueError(f"batch_objects must be >= 1, got {batch_objects}")
    records = iter(records)
    while True:
        items = list(itertools.islice(records, batch_objects))
        if not items:
            return
        yield items


def stream_results(records, scorer, preprocessing, chunking, *, batch_objects, prefetch=0):
    """Score a stream of objects, holding at most ``batch_objects`` at a time.

    Parameters
    ----------
    records : iterator of (row, record_or_reason)
        Lazily produced by a source; consumed ``batch_objects`` items at a time.
    scorer : object
        ``scorer.n_classes`` and ``scorer.score(chunks) -> ChunkScores``, see
        :class:`~rnngmm.flagging.scorer.ModelScorer`.
    preprocessing : rnngmm.lightcurves.objects.Preprocessing
    chunking : rnngmm.lightcurves.objects.Chunking
        The run's settings.
    batch_objects : int
        Objects in flight.
    prefetch : int
        With 0, read and score in turn. With ``k`` > 0, a reader thread
        prepares up to ``k`` batches ahead while the current one is scored
        (:class:`rnngmm.flagging.prefetch.Prefetch`): at most ``k + 2``
        batches are held.

    Yields
    ------
    rows : ndarray of int
        Catalog rows of the batch, in stream order.
    results : RowResults
    """
    def prepared():
        for items in batches_of(records, batch_objects):
            yield prepare_batch(items, scorer.n_classes, preprocessing, chunking)
    if prefetch < 1:
        for batch in prepared():
            yield batch.rows, score_prepared(batch, scorer, chunking)
        return
    with Prefetch(prepared, depth=prefetch) as batches:
        for batch in batches:
            yield batch.rows, score_prepared(batch, scorer, chunking)
