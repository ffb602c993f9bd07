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

A star read in several bands (a :class:`~rnngmm.flagging.sources.BandedRecord`)
goes through :func:`rnngmm.lightcurves.bands.prepare_bands` (each band cleaned
and chunked on its own, one period per star): all its bands' chunks are the
star's chunks (its row's class, energy and code are means over all of them, so
thresholds, ``--calibrate catalog`` and ``--estimate_priors`` count each star
once), and the same means are also taken per band.
"""

import itertools
from dataclasses import dataclass

import numpy as np

from rnngmm.errors import BadLightCurve
from rnngmm.inference import ChunkScores, aggregate_objects
from rnngmm.lightcurves.bands import prepare_bands
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


def is_banded(record):
    """True for a star read in several bands (a ``BandedRecord``)."""
    return hasattr(record, "bands") and hasattr(record, "missing")


def prepare_banded(record, preprocessing, chunking, bands=None):
    """:class:`rnngmm.lightcurves.bands.PreparedBands` of a ``BandedRecord``.

    ``bands``: the band names asked for (orders the dropped bands' reasons).
    """
    return prepare_bands(record.bands, record.period, preprocessing, chunking,
                         missing=record.missing, catalog_source=record.period_source,
                         order=bands)


def prepare_record(record, preprocessing, chunking):
    """Period and chunks of one object read from a source.

    Parameters
    ----------
    record : ObjectRecord or BandedRecord
        Raw photometry, or (``record.prepared``) a dataset's prepared object,
        which is chunked without being cleaned again. A ``BandedRecord`` gives
        all its usable bands' chunks (see :func:`prepare_banded`), its points
        over them and the baseline over them.
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
    if is_banded(record):
        star = prepare_banded(record, preprocessing, chunking)
        chunks = Chunks.concatenate([b.chunks for b in star.bands.values()], chunking.n_max)
        return star.period, star.period_source, chunks, star.n_points, star.baseline
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
    band_owners : list
        With several bands: ``position * B + band index`` of each chunk (in
        the order of ``parts``; -1 for a one-band record's), for the per-band
        means.
    """

    rows: np.ndarray
    results: RowResults
    parts: list
    owners: list
    band_owners: list = None


def _record_star(results, position, star, bands):
    """Fill row ``position`` of ``results`` with a prepared star's per-band facts;
    returns each chunk's ``position * B + band index``."""
    results.bands_missing[position] = "; ".join(f"{b}: {r}" for b, r in star.dropped.items())
    owners = []
    for index, name in enumerate(bands):
        band = star.bands.get(name)
        if band is None:
            continue
        results.band_n_points[position, index] = band.n_points
        results.band_n_chunks[position, index] = len(band.chunks)
        results.band_baseline[position, index] = band.baseline
        results.band_mag[position, index] = band.mean_mag
        owners.append(np.full(len(band.chunks), position * len(bands) + index, np.int64))
    return owners


def banded_names(items):
    """Band names of the ``BandedRecord`` items, in first-seen order; None if none."""
    names = dict.fromkeys(band for _, record in items if is_banded(record)
                          for band in (*record.bands, *record.missing))
    return tuple(names) or None


def prepare_batch(items, n_classes, preprocessing, chunking, bands=None):
    """Read, clean and chunk a batch of ``(row, record_or_reason)`` items.

    ``record_or_reason`` is an :class:`~rnngmm.flagging.sources.ObjectRecord`,
    a :class:`~rnngmm.flagging.sources.BandedRecord`, or a string giving why
    the source could not read the row. Every failure is confined to its own
    row. With ``bands`` (the band names a several-band job asked for, in
    order) the results hold the per-band means and facts of each star
    (:class:`~rnngmm.flagging.results.RowResults`); a record with chunks of
    bands not in ``bands`` cannot happen (the source reads only those).
    Without ``bands``, the names of the batch's ``BandedRecord`` items are used
    (:func:`banded_names`).

    Returns
    -------
    PreparedBatch
    """
    # without the job's names, the batch's own (so a star's score is still
    # conditioned on its points per band, not on all its bands' points)
    bands = tuple(bands) if bands else banded_names(items)
    results = RowResults.empty(len(items), n_classes, bands=bands)
    parts, owners, band_owners = [], [], []
    for position, (_, record) in enumerate(items):
        if isinstance(record, str):
            results.status[position] = record
            continue
        try:
            star = None
            if bands and is_banded(record):
                star = prepare_banded(record, preprocessing, chunking, bands)
                unasked = [b for b in star.bands if b not in bands]
                if unasked:
                    raise ValueError(f"band(s) {', '.join(unasked)} were not asked for")
                # in the order of ``bands``, as _record_star numbers them
                chunks = Chunks.concatenate([star.bands[b].chunks for b in bands
                                             if b in star.bands], chunking.n_max)
                period, source = star.period, star.period_source
                n_points, baseline = star.n_points, star.baseline
            else:
                period, source, chunks, n_points, baseline = prepare_record(
                    record, preprocessing, chunking)
        except Exception as exc:  # garbage in -> a reason, never a crashed rank
            results.status[position] = describe_failure(exc)
            continue
        results.period[position] = period
        results.period_source[position] = source
        results.n_points[position] = n_points
        results.baseline[position] = baseline
        if star is not None:
            band_owners.extend(_record_star(results, position, star, bands))
        elif bands:  # a one-band record among stars of several: no per-band results
            band_owners.append(np.full(len(chunks), -1, np.int64))
        parts.append(chunks)
        owners.append(np.full(len(chunks), position, np.int64))
    rows = np.array([row for row, _ in items], dtype=np.int64)
    return PreparedBatch(rows, results, parts, owners, band_owners if bands else None)


def score_prepared(batch, scorer, chunking):
    """Score a :class:`PreparedBatch`; returns its :class:`RowResults` (one row
    per item, in the items' order)."""
    results = batch.results
    if batch.parts:
        chunks = Chunks.concatenate(batch.parts, chunking.n_max)
        chunk_scores = scorer.score(chunks)
        scores = aggregate_objects(chunk_scores, np.concatenate(batch.owners))
        positions = scores.objects
        results.prob[positions] = scores.prob
        results.energy[positions] = scores.energy
        results.n_chunks[positions] = scores.n_chunks
        results.status[positions] = OK
        results.code = np.full((len(results), scores.code.shape[1]), np.nan)
        results.code[positions] = scores.code
        if batch.band_owners is not None:
            _score_bands(results, chunk_scores, np.concatenate(batch.band_owners))
    return results


def _score_bands(results, chunk_scores, band_owners):
    """Per-band means of the chunk scores (the same aggregation as the star's)."""
    n_bands = len(results.bands)
    keep = band_owners >= 0
    if not keep.all():
        chunk_scores = ChunkScores(chunk_scores.gamma[keep], chunk_scores.z[keep],
                                   chunk_scores.code[keep], chunk_scores.energy[keep])
    per_band = aggregate_objects(chunk_scores, band_owners[keep])
    rows, columns = np.divmod(per_band.objects, n_bands)
    results.band_prob[rows, columns] = per_band.prob
    results.band_energy[rows, columns] = per_band.energy


def score_batch(items, scorer, preprocessing, chunking, bands=None):
    """Results of one batch of ``(row, record_or_reason)`` items (see
    :func:`prepare_batch`), in the items' order."""
    return score_prepared(prepare_batch(items, scorer.n_classes, preprocessing, chunking,
                                        bands), scorer, chunking)


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


def stream_results(records, scorer, preprocessing, chunking, *, batch_objects, prefetch=0,
                   bands=None):
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
    bands : sequence of str, optional
        The band names of a job reading several bands (records are then
        ``BandedRecord``; see :func:`prepare_batch`).

    Yields
    ------
    rows : ndarray of int
        Catalog rows of the batch, in stream order.
    results : RowResults
    """
    def prepared():
        for items in batches_of(records, batch_objects):
            yield prepare_batch(items, scorer.n_classes, preprocessing, chunking, bands)
    if prefetch < 1:
        for batch in prepared():
            yield batch.rows, score_prepared(batch, scorer, chunking)
        return
    with Prefetch(prepared, depth=prefetch) as batches:
        for batch in batches:
            yield batch.rows, score_prepared(batch, scorer, chunking)
