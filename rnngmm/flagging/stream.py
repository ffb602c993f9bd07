"""Bounded streaming of objects: read -> clean/chunk -> batch -> score.

A rank never holds more than ``batch_objects`` objects' light curves (and
their chunks) at once, whatever the size of its share of the catalog: objects
are pulled lazily from the source's iterator, ``batch_objects`` at a time,
scored, reduced to one result row each, and dropped before the next pull.

Cleaning and chunking go through :func:`rnngmm.chunking.chunk_object`, the
function training uses, so flagged objects see exactly the training inputs.
"""

import itertools

import numpy as np

from ..chunking import chunk_object
from ..errors import BadLightCurve
from ..preprocess import Chunks, check_period, clean
from .results import OK, RowResults
from .scorer import aggregate_by_object


def choose_period(time, mag, err, catalog_period, catalog_source, *, sigma_clip,
                  find_period):
    """The period to use for one object, and where it came from.

    The catalog's period is used when it is a finite positive number no longer
    than the cleaned light curve's baseline; otherwise ``find_period`` (a
    Lomb-Scargle search) is run on the cleaned light curve.

    Parameters
    ----------
    time, mag, err : ndarray
        Raw photometry of the object.
    catalog_period : float
        Period from the catalog, NaN when absent.
    catalog_source : str
        Label of a usable catalog period (``"catalog"``, or the source recorded
        in a prepared dataset).
    sigma_clip : float or None
        As in training, so the baseline check sees the same points.
    find_period : callable
        ``find_period(time, mag, err) -> period`` for the fallback search.

    Returns
    -------
    period : float
    source : str
        ``catalog_source`` or ``"lomb-scargle"``.

    Raises
    ------
    BadLightCurve
        When no point survives cleaning or no usable period is found.
    """
    time, mag, err, _ = clean(time, mag, err, sigma_clip=sigma_clip)
    try:
        return check_period(catalog_period, time), catalog_source
    except BadLightCurve:
        pass
    if len(time) < 3:
        raise BadLightCurve(f"no usable period (catalog period {catalog_period!r}, "
                            f"{len(time)} points too few for a period search)")
    try:
        period = find_period(time, mag, err)
    except Exception as exc:  # a failed search is a per-object problem
        raise BadLightCurve(f"no usable period (period search failed: {exc})") from None
    try:
        return check_period(period, time), "lomb-scargle"
    except BadLightCurve as exc:
        raise BadLightCurve(f"no usable period (Lomb-Scargle: {exc.reason})") from None


def describe_failure(exc):
    """Short status text for an exception raised while handling one object."""
    if isinstance(exc, BadLightCurve):
        return exc.reason
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"unusable light curve ({type(exc).__name__}{': ' + text if text else ''})"


def prepare_object(record, chunking, find_period):
    """Period and chunks of one object read from the source.

    Parameters
    ----------
    record : ObjectRecord
    chunking : dict
        ``n_min``, ``n_max``, ``period_fold``, ``sigma_clip`` of the run.
    find_period : callable
        Fallback period search, see :func:`choose_period`.

    Returns
    -------
    period : float
    period_source : str
    chunks : Chunks
    """
    period, source = choose_period(record.time, record.mag, record.err, record.period,
                                   record.period_source,
                                   sigma_clip=chunking.get("sigma_clip"),
                                   find_period=find_period)
    chunks = chunk_object(record.time, record.mag, record.err, period,
                          n_min=chunking["n_min"], n_max=chunking["n_max"],
                          period_fold=chunking.get("period_fold", False),
                          sigma_clip=chunking.get("sigma_clip"))
    return period, source, chunks


def score_batch(items, scorer, chunking, find_period):
    """Results of one batch of ``(row, record_or_reason)`` items.

    ``record_or_reason`` is an :class:`~rnngmm.flagging.sources.ObjectRecord`,
    or a string giving why the source could not read the row. Every failure
    is confined to its own row.

    Returns
    -------
    RowResults
        One row per item, in the items' order.
    """
    results = RowResults.empty(len(items), scorer.n_classes)
    parts, owners = [], []
    for position, (_, record) in enumerate(items):
        if isinstance(record, str):
            results.status[position] = record
            continue
        try:
            period, source, chunks = prepare_object(record, chunking, find_period)
        except Exception as exc:  # garbage in -> a reason, never a crashed rank
            results.status[position] = describe_failure(exc)
            continue
        results.period[position] = period
        results.period_source[position] = source
        parts.append(chunks)
        owners.append(np.full(len(chunks), position, np.int64))
    if parts:
        chunks = Chunks.concatenate(parts, chunking["n_max"])
        object_index = np.concatenate(owners)
        scores = scorer.score(chunks)
        positions, prob, energy, counts = aggregate_by_object(
            scores["prob"], scores["energy"], object_index)
        results.prob[positions] = prob
        results.energy[positions] = energy
        results.n_chunks[positions] = counts
        results.status[positions] = OK
    return results


def stream_results(records, scorer, chunking, *, batch_objects, find_period):
    """Score a stream of objects, holding at most ``batch_objects`` at a time.

    Parameters
    ----------
    records : iterator of (row, record_or_reason)
        Lazily produced by a source; consumed ``batch_objects`` items at a time.
    scorer : object
        ``scorer.n_classes`` and ``scorer.score(chunks) -> {"prob", "energy"}``
        (per chunk), see :class:`~rnngmm.flagging.scorer.ModelScorer`.
    chunking : dict
        The run's chunking options.
    batch_objects : int
        Objects in flight.
    find_period : callable
        Fallback period search.

    Yields
    ------
    rows : ndarray of int
        Catalog rows of the batch, in stream order.
    results : RowResults
    """
    if batch_objects < 1:
        raise ValueError(f"batch_objects must be >= 1, got {batch_objects}")
    records = iter(records)
    while True:
        items = list(itertools.islice(records, batch_objects))
        if not items:
            return
        rows = np.array([row for row, _ in items], dtype=np.int64)
        results = score_batch(items, scorer, chunking, find_period)
        del items
        yield rows, results
