"""The Python API behind ``rnngmm.load_run(path).predict(...)`` and ``.embed(...)``.

Light curves given as numpy arrays or astropy tables go through exactly the
path of ``rnngmm flag``: :func:`rnngmm.flagging.stream.score_batch` (the
run's preprocessing, period rule and chunking, then the one scoring path),
and the result has the flag table's result columns.

Accepted inputs
---------------
- ``predict(time, mag, err, period=P)``: one light curve (arrays);
- ``predict([(time, mag, err), (time, mag, err, period), ...])``: several (an
  item may also be a :class:`~rnngmm.flagging.sources.BandedRecord`: one star
  of several bands, as ``rnngmm similar --band V g`` embeds a file);
- ``predict(table)``: an astropy ``Table`` or ``TimeSeries`` holding one light
  curve, or many told apart by an ``id`` column; a ``period`` column (first
  value per object) gives catalog periods. A ``TimeSeries``'s ``time`` column
  is converted to MJD.

Bands: a table whose ``band`` column (``band_col=``) holds several bands is
refused unless ``band=`` picks them: ``band="r"`` scores the r rows only (as
``rnngmm flag --band r``); ``band=("g", "r")`` gives one row per star scored
on all its bands' chunks, with the per-band columns of ``rnngmm flag --band g
r`` (:func:`rnngmm.object_table.band_columns`). The run's model learned one
band: every band is scored as that band's light curves were.
"""

import dataclasses

import numpy as np
from astropy.table import Table

from rnngmm.errors import InputError
from rnngmm.flagging.scorer import ModelScorer
from rnngmm.flagging.sources import BandedRecord, ObjectRecord
from rnngmm.flagging.stream import score_batch
from rnngmm.log import native_stderr_filtered
from rnngmm.object_table import band_columns, describe_columns, result_columns, text_column
from rnngmm.rundir import LoadedRun
from rnngmm.rundir import load_run as load_run_directory


def _as_days(column):
    """Days from a Time column (MJD) or plain numbers."""
    mjd = getattr(column, "mjd", None)
    return np.asarray(mjd if mjd is not None else column, dtype=np.float64)


def asked_bands(band):
    """The bands ``band=`` asks for: None, or a tuple of distinct names in order.

    Raises
    ------
    InputError
        For an empty or repeated choice.
    """
    if band is None:
        return None
    names = (str(band),) if isinstance(band, str) else tuple(str(b) for b in band)
    if not names:
        raise InputError("band= names no band; give one (band='r') or several "
                         "(band=('g', 'r'))")
    repeated = sorted({b for b in names if names.count(b) > 1})
    if repeated:
        raise InputError(f"band= repeats {', '.join(repeated)}")
    return names


def _band_rows(table, band_col, bands):
    """Band of each row of ``table`` and the bands kept; refuses a table of
    several bands when ``band=`` picks none."""
    if band_col not in table.colnames:
        if bands is not None:
            raise InputError(f"band={bands if len(bands) > 1 else bands[0]!r}: the table "
                             f"has no band column {band_col!r} (name it with band_col=)")
        return None
    values = np.asarray(table[band_col]).astype(str)
    present = list(dict.fromkeys(values))
    if bands is None:
        if len(present) > 1:
            raise InputError(f"the table holds several bands in column {band_col!r} "
                             f"({', '.join(present)}): pick one with band={present[0]!r}, "
                             f"or several with band={tuple(present)!r} for one row per "
                             "star scored on all of them; light curves of different "
                             "bands are never merged")
        return None
    absent = [b for b in bands if b not in present]
    if len(absent) == len(bands):
        raise InputError(f"no rows of band(s) {', '.join(absent)} in column {band_col!r} "
                         f"(bands present: {', '.join(present) or 'none'})")
    return values


def _records_from_table(table, *, id_col, time_col, mag_col, err_col, period_col, period,
                        band_col="band", band=None):
    for name in (time_col, mag_col, err_col):
        if name not in table.colnames:
            raise InputError(f"table has no column {name!r} (columns: {table.colnames}); "
                             "name the columns with time_col=, mag_col=, err_col=")
    bands = asked_bands(band)
    row_band = _band_rows(table, band_col, bands)
    time = _as_days(table[time_col])
    mag = np.asarray(table[mag_col], np.float64)
    err = np.asarray(table[err_col], np.float64)
    periods = (np.asarray(table[period_col], np.float64) if period_col in table.colnames
               else np.full(len(table), np.nan))
    ids = (np.asarray(table[id_col]).astype(str) if id_col in table.colnames
           else np.full(len(table), "0"))
    if id_col not in table.colnames and row_band is None:
        value = (periods[0] if len(periods) else np.nan) if period is None else float(period)
        return ["0"], [(time, mag, err, value)]
    order, records = [], []
    for object_id in dict.fromkeys(ids):  # first-appearance order
        rows = ids == object_id
        value = periods[rows][0] if period is None else _period_of(period, object_id)
        order.append(object_id)
        if row_band is None:
            records.append((time[rows], mag[rows], err[rows], value))
            continue
        # a picked band missing from an id: its row says so (BandedRecord's reason)
        record = _banded_record(rows, row_band, bands, time, mag, err, value)
        if len(bands) == 1 and record.bands:
            record = (*record.bands[bands[0]], value)
        records.append(record)
    return order, records


def _banded_record(rows, row_band, bands, time, mag, err, period):
    """One star's rows as a ``BandedRecord`` of ``bands``."""
    read, missing = {}, {}
    for name in bands:
        mine = rows & (row_band == name)
        if mine.any():
            read[name] = (time[mine], mag[mine], err[mine])
        else:
            missing[name] = f"no rows of band {name}"
    return BandedRecord(read, missing, float(period), "catalog")


def _period_of(period, object_id):
    if isinstance(period, dict):
        return float(period.get(object_id, np.nan))
    return float(period)


def light_curve_records(data, mag=None, err=None, *, period=None, ids=None, id_col="id",
                        time_col="time", mag_col="mag", err_col="err",
                        period_col="period", band_col="band", band=None):
    """Normalise the accepted inputs to ``(ids, [(time, mag, err, period), ...])``.

    A table with ``band=`` naming several bands gives a ``BandedRecord`` per
    star instead of a tuple.

    Raises
    ------
    InputError
        For an input of no accepted shape, a table of several bands without
        ``band=``, or ``band=`` without a band column.
    """
    if hasattr(data, "colnames"):
        return _records_from_table(data, id_col=id_col, time_col=time_col, mag_col=mag_col,
                                   err_col=err_col, period_col=period_col, period=period,
                                   band_col=band_col, band=band)
    if band is not None:
        raise InputError("band= applies to a table input with a band column; give "
                         "arrays of one band")
    if mag is not None:
        if err is None:
            raise InputError("predict(time, mag, err): err is required")
        value = np.nan if period is None else float(period)
        records = [(data, mag, err, value)]
    elif isinstance(data, (list, tuple)) and all(
            isinstance(item, BandedRecord) or len(item) in (3, 4) for item in data):
        records = [item if isinstance(item, BandedRecord) else
                   (item[0], item[1], item[2],
                    item[3] if len(item) == 4 else (np.nan if period is None else period))
                   for item in data]
    else:
        raise InputError("give predict(time, mag, err), a list of (time, mag, err[, period]) "
                         "tuples, or an astropy Table/TimeSeries")
    ids = [str(i) for i in ids] if ids is not None else [str(k) for k in range(len(records))]
    if len(ids) != len(records):
        raise InputError(f"{len(ids)} ids for {len(records)} light curves")
    return ids, records


def _record(item):
    if isinstance(item, BandedRecord):
        return item
    t, m, e, p = item
    return ObjectRecord(np.asarray(t, np.float64), np.asarray(m, np.float64),
                        np.asarray(e, np.float64), float(p), "catalog")


def score_light_curves(run, ids, records, *, batch_size=512, bands=None):
    """RowResults of ``records`` on the flag path, in order (``bands``: the band
    names of ``BandedRecord`` records, for the per-band results)."""
    items = [(k, _record(item)) for k, item in enumerate(records)]
    scorer = ModelScorer(run.model, run.novelty, batch_size)
    # XLA prints its start-up lines on the first compiled call
    with native_stderr_filtered():
        return score_batch(items, scorer, run.preprocessing, run.chunking, bands=bands)


def predict_table(run, ids, results, percentiles):
    """The flag table's result columns for API results, with an ``id`` column first."""
    table = Table()
    table["id"] = text_column(ids)
    for name, values in result_columns(
            status=results.status, period=results.period,
            period_source=results.period_source, prob=results.prob,
            n_chunks=results.n_chunks, energy=results.energy,
            n_points=results.n_points, baseline=results.baseline,
            sampling_points=results.sampling_points,
            class_names=run.class_names, novelty=run.novelty,
            percentiles=percentiles).items():
        table[name] = values
    for name, values in band_columns(results, run.class_names, run.novelty).items():
        table[name] = values
    table.meta["run_id"] = run.run_id
    table.meta["class_names"] = list(run.class_names)
    if results.bands:
        table.meta["bands"] = list(results.bands)
    return describe_columns(table, run.novelty.novelty_score,
                            run.novelty.conditions_on_sampling, bands=results.bands or ())


def _several(band, records=()):
    """The bands of ``band=`` when it names several (one row per star), else
    those of the ``BandedRecord`` inputs (in first-seen order), else None."""
    bands = asked_bands(band)
    if bands is not None:
        return bands if len(bands) > 1 else None
    seen = [b for r in records if isinstance(r, BandedRecord)
            for b in (*r.bands, *r.missing)]
    return tuple(dict.fromkeys(seen)) or None


def codes_of(run, results):
    """(n, E) mean codes (NaN rows where not scored)."""
    width = int(run.model.hparams.get("embedding", 0)) if hasattr(run.model, "hparams") else 0
    if results.code is None:
        return np.full((len(results), width), np.nan)
    return np.asarray(results.code, np.float64)


class Run(LoadedRun):
    """A loaded run that scores light curves: what :func:`rnngmm.load_run` returns.

    Everything of :class:`rnngmm.rundir.LoadedRun` (``config``, ``model``,
    ``class_names``, ``novelty``, ``split``, ``preprocessing``, ``chunking``),
    plus :meth:`predict` and :meth:`embed`.
    """

    def predict(self, data, mag=None, err=None, *, period=None, ids=None,
                percentiles=(80.0, 95.0, 99.0), batch_size=512, band=None, **columns):
        """Classify light curves and flag anomalies, as ``rnngmm flag`` does.

        Parameters
        ----------
        data : array_like, list of tuples, or astropy Table/TimeSeries
            ``predict(time, mag, err)`` for one light curve; a list of
            ``(time, mag, err[, period])``; or a table with one light curve,
            or many told apart by an ``id`` column (see :mod:`rnngmm.api`).
        mag, err : array_like, optional
            With ``data`` = time, for one light curve.
        period : float or dict, optional
            Catalog period(s) in days (a dict maps ids to periods); missing or
            unusable periods are searched with Lomb-Scargle, as in training.
        ids : sequence of str, optional
            Names of array inputs (default "0", "1", ...).
        percentiles : sequence of float
            Anomaly thresholds (percentiles of the training energies).
        batch_size : int
        band : str or sequence of str, optional
            For a table with a band column (``band_col``, default ``"band"``):
            the band to score, or several bands for one row per star scored
            on all their chunks, with per-band columns (see :mod:`rnngmm.api`).
            A table holding several bands needs it.
        **columns
            ``id_col``, ``time_col``, ``mag_col``, ``err_col``, ``period_col``,
            ``band_col`` of a table input.

        Returns
        -------
        astropy.table.Table
            ``id`` then the flag table's result columns: ``status``, period,
            class probabilities, ``energy`` (HIGHER = more anomalous), its
            percentile and ``anomaly_<p>`` flags; one row per light curve
            (per star with several bands).
        """
        names, records = light_curve_records(data, mag, err, period=period, ids=ids,
                                             band=band, **columns)
        results = score_light_curves(self, names, records, batch_size=batch_size,
                                     bands=_several(band, records))
        return predict_table(self, names, results, percentiles)

    def embed(self, data, mag=None, err=None, *, period=None, ids=None, batch_size=512,
              band=None, **columns):
        """Latent codes of light curves (mean over each object's chunks).

        Same inputs as :meth:`predict`. With several bands the code is the
        star's: the mean over all its bands' chunks.

        Returns
        -------
        ndarray, shape (n_objects, embedding)
            NaN rows for objects that could not be scored (``predict`` says why).
        """
        names, records = light_curve_records(data, mag, err, period=period, ids=ids,
                                             band=band, **columns)
        return codes_of(self, score_light_curves(self, names, records,
                                                 batch_size=batch_size,
                                                 bands=_several(band, records)))


def load_run(run_dir):
    """Load a run directory written by ``rnngmm train`` (or a shipped pretrained one).

    Returns
    -------
    Run
        ``.predict(...)`` classifies light curves and flags anomalies as
        ``rnngmm flag`` does; ``.embed(...)`` returns their latent codes.

    Raises
    ------
    rnngmm.errors.InputError
        Naming the missing or unreadable file (e.g. an unfinished run).
    """
    with native_stderr_filtered():
        loaded = load_run_directory(run_dir)
    return Run(**{field.name: getattr(loaded, field.name)
                  for field in dataclasses.fields(LoadedRun)})
