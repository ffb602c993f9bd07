"""Where flagged objects come from: a catalog + light curves, or a prepared dataset.

A source knows every catalog row up front (ids, catalog periods, columns to
pass through: small per-row values) but reads light curves only when asked,
lazily, one object at a time, for the rows a rank owns. Rows the catalog
itself makes unusable (missing or duplicated id) and files that are missing,
unsafe or unreadable come back as a reason string instead of a record, so
they become a status in the output rather than an exception.
"""

import os
from dataclasses import dataclass

import numpy as np

from rnngmm.errors import BadLightCurve, InputError
from rnngmm.flagging.shards import fingerprint


@dataclass
class ObjectRecord:
    """One object's raw photometry and its catalog period.

    Attributes
    ----------
    time, mag, err : ndarray of float64
        As read (unsorted, uncleaned).
    period : float
        Catalog period in days, NaN when the catalog has none.
    period_source : str
        What to call the period when it is used (``"catalog"``, or the source
        recorded in a prepared dataset).
    prepared : bool
        True for a prepared dataset's object: already cleaned, with its
        period chosen, so it is only chunked.
    """

    time: np.ndarray
    mag: np.ndarray
    err: np.ndarray
    period: float
    period_source: str
    prepared: bool = False


def _spread(values, rows, n_rows):
    """Column of ``n_rows`` holding ``values`` at ``rows``; NaN or "" elsewhere.

    Integer and boolean columns keep their type when every row has a value.
    """
    values = np.asarray(values)
    if len(rows) == n_rows:
        return values.copy()
    if values.dtype.kind in "iufb":
        column = np.full(n_rows, np.nan)
    else:
        column = np.full(n_rows, "", dtype=object)
    column[rows] = values
    return column


class CatalogSource:
    """Catalog rows whose light curves are files in a directory or one table.

    Parameters
    ----------
    catalog : str
        Catalog file (CSV, ECSV, FITS, VOTable, Parquet).
    lightcurves : str
        Directory of per-object files, or (formats ``"table"``, ``"ztf"``,
        ``"gaia"``) one table with every object's points. A Parquet table is
        read per shard, only the rows of the shard's ids; any other table is
        read whole once per rank and kept while the rank works.
    format : str
        Light-curve format, a key of :data:`rnngmm.io.readers.READERS`.
    id_col : str
        Catalog column of object ids (also names the output's id column).
    period_col : str or None
        Catalog column of periods; None to search every period.
    pass_through : sequence of str
        Catalog columns copied to the output.
    label_col : str or None
        Catalog column of known classes (only used for the run summary).
    template : str or None
        File-name template with ``{id}``; default per format.
    reader_options : dict
        Passed to :func:`rnngmm.io.readers.read_lightcurve`.
    lc_id_col : str or None
        Object-id column of a single light-curve table (default ``id_col``).
    catalog_format : str or None
        astropy format of the catalog; guessed from its suffix when None.
    """

    def __init__(self, catalog, lightcurves, format, *, id_col="id", period_col=None,
                 pass_through=(), label_col=None, template=None, reader_options=None,
                 lc_id_col=None, catalog_format=None):
        from rnngmm.io.catalog import read_catalog
        from rnngmm.io.readers import (DEFAULT_TEMPLATES, READERS, check_reader_options,
                                  check_template)
        if format not in READERS:
            raise InputError(f"unknown light-curve format {format!r}; "
                             f"choose one of {', '.join(READERS)}")
        if not os.path.exists(lightcurves):
            raise InputError(f"light curves {lightcurves!r} do not exist")
        self.format = format
        self.lightcurves = os.fspath(lightcurves)
        self.reader_options = check_reader_options(format, reader_options)
        self.template = template or DEFAULT_TEMPLATES[format]
        check_template(self.template)
        self.id_name = id_col
        parsed = read_catalog(catalog, id_col, label_col=label_col, period_col=period_col,
                              extra_cols=list(pass_through), format=catalog_format)
        n_rows = len(parsed.rows) + len(parsed.rejects)
        self.n_rows = n_rows
        self.ids = np.full(n_rows, "", dtype=object)
        self.row_status = np.full(n_rows, "", dtype=object)
        self.periods = np.full(n_rows, np.nan)
        self.labels = np.full(n_rows, "", dtype=object) if label_col else None
        self.columns = {}
        for name in pass_through:
            self.columns[name] = _spread(parsed.extra[name], parsed.rows, n_rows)
        self.ids[parsed.rows] = parsed.ids
        if parsed.periods is not None:
            self.periods[parsed.rows] = parsed.periods
        if label_col:
            self.labels[parsed.rows] = parsed.labels
        for row, object_id, reason in parsed.rejects:
            self.ids[row] = object_id
            self.row_status[row] = reason
        self._table = None
        self._directory = os.path.isdir(self.lightcurves)
        if not self._directory:
            from rnngmm.io.readers import TABLE_FORMATS, is_parquet
            if format not in TABLE_FORMATS:
                raise InputError(f"light curves {lightcurves!r} must be a directory for "
                                 f"format {format!r} (one file per object)")
            self._lc_id_col = lc_id_col or id_col
            self._per_shard = is_parquet(self.lightcurves,
                                         self.reader_options.get("table_format"))
        self.inputs = {"catalog": os.path.abspath(catalog),
                       "lightcurves": os.path.abspath(self.lightcurves),
                       "format": format, "template": self.template,
                       "id_col": id_col, "period_col": period_col,
                       "reader_options": self.reader_options}

    def ids_fingerprint(self):
        """Fingerprint of the row ids, periods and up-front statuses."""
        return fingerprint(list(self.ids) + list(self.periods) + list(self.row_status))

    def _table_objects(self, rows):
        """The long table's objects needed for ``rows``.

        A Parquet table is read again for each call (one shard), only the
        rows of the shard's ids; another table is read whole once and cached.
        """
        from rnngmm.io.readers import read_table_objects
        if self._per_shard:
            ids = [str(self.ids[row]) for row in rows if not self.row_status[row]]
            self._table = None
            return read_table_objects(self.lightcurves, self._lc_id_col, ids=ids,
                                      format=self.format, **self.reader_options)
        if self._table is None:
            self._table = read_table_objects(self.lightcurves, self._lc_id_col,
                                             format=self.format, **self.reader_options)
        return self._table

    def _read(self, object_id, table=None):
        from rnngmm.io.readers import locate_lightcurve, read_lightcurve
        if self._directory:
            path = locate_lightcurve(self.lightcurves, object_id, self.template)
            return read_lightcurve(path, self.format, **self.reader_options)
        return table.load(object_id)

    def iter_records(self, rows):
        """Yield ``(row, ObjectRecord or reason)`` for ``rows``, reading lazily."""
        rows = [int(row) for row in rows]
        table = None if self._directory else self._table_objects(rows)
        for row in rows:
            row = int(row)
            if self.row_status[row]:
                yield row, self.row_status[row]
                continue
            try:
                time, mag, err = self._read(self.ids[row], table)
            except BadLightCurve as exc:
                yield row, exc.reason
                continue
            except Exception as exc:  # any unreadable input is that row's problem
                # first line only: a status is one line of the output table
                message = (str(exc).strip().splitlines() or [""])[0][:120]
                yield row, f"unreadable file ({type(exc).__name__}: {message})"
                continue
            yield row, ObjectRecord(time, mag, err, float(self.periods[row]), "catalog")

    def close(self):
        """Release the cached light-curve table, if any."""
        self._table = None


class DatasetSource:
    """Objects of a dataset written by ``rnngmm prepare``.

    The dataset's periods (from its catalog or its own Lomb-Scargle search)
    are used as catalog periods and keep their recorded source.

    Parameters
    ----------
    path : str
        Prepared ``.h5`` dataset.
    pass_through : sequence of str
        Names of the dataset's ``/objects/extra`` columns to copy to the output.
    """

    def __init__(self, path, pass_through=()):
        from rnngmm.io.dataset import Dataset
        self.dataset = Dataset(path)
        missing = [c for c in pass_through if c not in self.dataset.extra_names]
        if missing:
            self.dataset.close()
            raise InputError(f"dataset {path!r} has no extra column(s) {', '.join(missing)}; "
                             f"available: {', '.join(self.dataset.extra_names) or 'none'}")
        self.id_name = "id"
        self.n_rows = len(self.dataset)
        self.ids = self.dataset.ids.astype(object)
        self.periods = np.asarray(self.dataset.periods, np.float64)
        self.period_sources = self.dataset.period_sources
        self.row_status = np.full(self.n_rows, "", dtype=object)
        labels = self.dataset.labels.astype(object)
        self.labels = labels if np.any(labels != "") else None
        self.columns = {name: self.dataset.extra(name) for name in pass_through}
        self.inputs = {"data": os.path.abspath(path),
                       "dataset_created": str(self.dataset.attrs.get("created", ""))}

    def ids_fingerprint(self):
        """Fingerprint of the dataset's ids and periods."""
        return fingerprint(list(self.ids) + list(self.periods))

    def iter_records(self, rows):
        """Yield ``(row, ObjectRecord or reason)`` for ``rows`` (block reads)."""
        for row, time, mag, err in self.dataset.iter_lightcurves(rows, block_points=200_000):
            source = self.period_sources[row] or "dataset"
            yield row, ObjectRecord(time, mag, err, float(self.periods[row]), source,
                                    prepared=True)

    def close(self):
        """Close the dataset file."""
        self.dataset.close()
