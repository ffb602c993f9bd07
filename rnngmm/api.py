"""The Python API behind ``rnngmm.load_run(path).predict(...)`` and ``.embed(...)``.

Light curves given as numpy arrays or astropy tables go through exactly the
path of ``rnngmm flag``: :func:`rnngmm.flagging.stream.score_batch` (the
run's preprocessing, period rule and chunking, then the one scoring path),
and the result has the flag table's result columns.

Accepted inputs
---------------
- ``predict(time, mag, err, period=P)``: one light curve (arrays);
- ``predict([(time, mag, err), (time, mag, err, period), ...])``: several;
- ``predict(table)``: an astropy ``Table`` or ``TimeSeries`` holding one light
  curve, or many told apart by an ``id`` column; a ``period`` column (first
  value per object) gives catalog periods. A ``TimeSeries``'s ``time`` column
  is converted to MJD.
"""

import dataclasses

import numpy as np
from astropy.table import Table

from rnngmm.errors import InputError
from rnngmm.flagging.scorer import ModelScorer
from rnngmm.flagging.sources import ObjectRecord
from rnngmm.flagging.stream import score_batch
from rnngmm.log import native_stderr_filtered
from rnngmm.object_table import describe_columns, result_columns, text_column
from rnngmm.rundir import LoadedRun
from rnngmm.rundir import load_run as load_run_directory


def _as_days(column):
    """Days from a Time column (MJD) or plain numbers."""
    mjd = getattr(column, "mjd", None)
    return np.asarray(mjd if mjd is not None else column, dtype=np.float64)


def _records_from_table(table, *, id_col, time_col, mag_col, err_col, period_col, period):
    for name in (time_col, mag_col, err_col):
        if name not in table.colnames:
            raise InputError(f"table has no column {name!r} (columns: {table.colnames}); "
                             "name the columns with time_col=, mag_col=, err_col=")
    time = _as_days(table[time_col])
    mag = np.asarray(table[mag_col], np.float64)
    err = np.asarray(table[err_col], np.float64)
    periods = (np.asarray(table[period_col], np.float64) if period_col in table.colnames
               else np.full(len(table), np.nan))
    if id_col not in table.colnames:  # one light curve
        value = (periods[0] if len(periods) else np.nan) if period is None else float(period)
        return ["0"], [(time, mag, err, value)]
    ids = np.asarray(table[id_col]).astype(str)
    order, records = [], []
    for object_id in dict.fromkeys(ids):  # first-appearance order
        rows = ids == object_id
        value = periods[rows][0] if period is None else _period_of(period, object_id)
        order.append(object_id)
        records.append((time[rows], mag[rows], err[rows], value))
    return order, records


def _period_of(period, object_id):
    if isinstance(period, dict):
        return float(period.get(object_id, np.nan))
    return float(period)


def light_curve_records(data, mag=None, err=None, *, period=None, ids=None, id_col="id",
                        time_col="time", mag_col="mag", err_col="err",
                        period_col="period"):
    """Normalise the accepted inputs to ``(ids, [(time, mag, err, period), ...])``.

    Raises
    ------
    InputError
        For an input of no accepted shape.
    """
    if hasattr(data, "colnames"):
        return _records_from_table(data, id_col=id_col, time_col=time_col, mag_col=mag_col,
                                   err_col=err_col, period_col=period_col, period=period)
    if mag is not None:
        if err is None:
            raise InputError("predict(time, mag, err): err is required")
        value = np.nan if period is None else float(period)
        records = [(data, mag, err, value)]
    elif isinstance(data, (list, tuple)) and all(len(item) in (3, 4) for item in data):
        records = [(item[0], item[1], item[2],
                    item[3] if len(item) == 4 else (np.nan if period is None else period))
                   for item in data]
    else:
        raise InputError("give predict(time, mag, err), a list of (time, mag, err[, period]) "
                         "tuples, or an astropy Table/TimeSeries")
    ids = [str(i) for i in ids] if ids is not None else [str(k) for k in range(len(records))]
    if len(ids) != len(records):
        raise InputError(f"{len(ids)} ids for {len(records)} light curves")
    return ids, records


def score_light_curves(run, ids, records, *, batch_size=512):
    """RowResults of ``records`` on the flag path, in order."""
    items = [(k, ObjectRecord(np.asarray(t, np.float64), np.asarray(m, np.float64),
                              np.asarray(e, np.float64), float(p), "catalog"))
             for k, (t, m, e, p) in enumerate(records)]
    scorer = ModelScorer(run.model, run.novelty, batch_size)
    # XLA prints its start-up lines on the first compiled call
    with native_stderr_filtered():
        return score_batch(items, scorer, run.preprocessing, run.chunking)


def predict_table(run, ids, results, percentiles):
    """The flag table's result columns for API results, with an ``id`` column first."""
    table = Table()
    table["id"] = text_column(ids)
    for name, values in result_columns(
            status=results.status, period=results.period,
            period_source=results.period_source, prob=results.prob,
            n_chunks=results.n_chunks, energy=results.energy,
            n_points=results.n_points, baseline=results.baseline,
            class_names=run.class_names, novelty=run.novelty,
            percentiles=percentiles).items():
        table[name] = values
    table.meta["run_id"] = run.run_id
    table.meta["class_names"] = list(run.class_names)
    return describe_columns(table, run.novelty.novelty_score,
                            run.novelty.conditions_on_sampling)


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
                percentiles=(80.0, 95.0, 99.0), batch_size=512, **columns):
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
        **columns
            ``id_col``, ``time_col``, ``mag_col``, ``err_col``, ``period_col``
            of a table input.

        Returns
        -------
        astropy.table.Table
            ``id`` then the flag table's result columns: ``status``, period,
            class probabilities, ``energy`` (HIGHER = more anomalous), its
            percentile and ``anomaly_<p>`` flags; one row per light curve.
        """
        names, records = light_curve_records(data, mag, err, period=period, ids=ids,
                                                 **columns)
        results = score_light_curves(self, names, records, batch_size=batch_size)
        return predict_table(self, names, results, percentiles)

    def embed(self, data, mag=None, err=None, *, period=None, ids=None, batch_size=512,
              **columns):
        """Latent codes of light curves (mean over each object's chunks).

        Same inputs as :meth:`predict`.

        Returns
        -------
        ndarray, shape (n_objects, embedding)
            NaN rows for objects that could not be scored (``predict`` says why).
        """
        names, records = light_curve_records(data, mag, err, period=period, ids=ids,
                                                 **columns)
        return codes_of(self, score_light_curves(self, names, records,
                                                         batch_size=batch_size))


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
