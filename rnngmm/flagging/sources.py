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


@dataclass
class BandedRecord:
    """One star's raw photometry in several bands and its catalog period.

    Read when several bands are asked for (``--band g r``); every band is
    cleaned and chunked on its own and all bands' chunks are scored as the
    star's chunks (see :func:`rnngmm.flagging.stream.prepare_record`).

    Attributes
    ----------
    bands : dict
        ``{band name: (time, mag, err)}`` as read (unsorted, uncleaned), in
        the order the bands were asked for; only the bands that were read.
    missing : dict
        ``{band name: reason}`` for asked-for bands that could not be read
        (no file, no rows of that band, unreadable ...).
    period : float
        Catalog period in days, NaN when the catalog has none.
    period_source : str
        What to call the period when it is used (``"catalog"``).
    """

    bands: dict
    missing: dict
    period: float
    period_source: str


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
        File-name template with ``{id}``; default per format. A ``{band}``
        field reads one file per band (``'{id}_{band}.tbl'``), filled with
        the band name(s) of ``reader_options``.
    reader_options : dict
        Passed to :func:`rnngmm.io.readers.read_lightcurve`. Several bands
        (``band`` holding several names, or ``bands``): every star is read
        with :func:`rnngmm.io.band_readers.read_lightcurve_bands` and comes as a
        :class:`BandedRecord` (``self.bands`` gives the band names in order).
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
                                       check_template, reader_bands, template_has_band)
        if format not in READERS:
            raise InputError(f"unknown light-curve format {format!r}; "
                             f"choose one of {', '.join(READERS)}")
        if not os.path.exists(lightcurves):
            raise InputError(f"light curves {lightcurves!r} do not exist")
        self.format = format
        self.lightcurves = os.fspath(lightcurves)
        self.reader_options = check_reader_options(format, reader_options)
        #: band names of a several-band read, in order (None: one band, as ever)
        self.bands = reader_bands(self.reader_options) if "bands" in self.reader_options \
            else None
        self.template = template or DEFAULT_TEMPLATES[format]
        check_template(self.template, reader_bands(self.reader_options))
        self._per_band_files = template_has_band(self.template)
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
        from rnngmm.io.table_objects import read_table_objects
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
        """``(time, mag, err)``, or a BandedLightCurve when several bands are read."""
        from rnngmm.io.band_readers import read_lightcurve_bands
        from rnngmm.io.readers import (locate_band_files, locate_lightcurve, read_lightcurve,
                                       reader_bands)
        if not self._directory:
            return table.load(object_id)
        if self.bands is None:
            band = (reader_bands(self.reader_options) or (None,))[0]
            path = locate_lightcurve(self.lightcurves, object_id, self.template,
                                     band=band if self._per_band_files else None)
            return read_lightcurve(path, self.format, **self.reader_options)
        if self._per_band_files:
            source = locate_band_files(self.lightcurves, object_id, self.template, self.bands)
        else:
            source = locate_lightcurve(self.lightcurves, object_id, self.template)
        options = {k: v for k, v in self.reader_options.items() if k != "bands"}
        return read_lightcurve_bands(source, self.format, self.bands, **options)

    def iter_records(self, rows):
        """Yield ``(row, ObjectRecord or reason)`` for ``rows``, reading lazily.

        With several bands a star comes as a :class:`BandedRecord` (the bands
        read, and why the others were not); a star none of whose bands could
        be read comes as a reason naming each band's problem.
        """
        rows = [int(row) for row in rows]
        table = None if self._directory else self._table_objects(rows)
        for row in rows:
            row = int(row)
            if self.row_status[row]:
                yield row, self.row_status[row]
                continue
            try:
                light_curve = self._read(self.ids[row], table)
            except BadLightCurve as exc:
                yield row, exc.reason
                continue
            except Exception as exc:  # any unreadable input is that row's problem
                # first line only: a status is one line of the output table
                message = (str(exc).strip().splitlines() or [""])[0][:120]
                yield row, f"unreadable file ({type(exc).__name__}: {message})"
                continue
            if self.bands is not None:
                yield row, BandedRecord(dict(light_curve), dict(light_curve.missing),
                                        float(self.periods[row]), "catalog")
                continue
            time, mag, err = light_curve
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
        self.bands = None  # a prepared dataset holds one band
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
