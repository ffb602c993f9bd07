"""One long table holding many objects' light curves (``--lightcurves points.parquet``).

:func:`read_table_objects` reads formats ``table``, ``ztf`` and ``gaia`` from a
single table with an object-id column, optionally only some ids (a Parquet
table is read with a pyarrow filter on the id column) and optionally several
bands per object (:mod:`rnngmm.io.band_readers`).
"""

import os

import numpy as np

from rnngmm.errors import BadLightCurve, InputError
from rnngmm.io.band_readers import _apply_band_plans, _band_options, _band_plans
from rnngmm.io.formats import parquet_source
from rnngmm.io.readers import (PLANNERS, _Columns, _apply_plan, _count, _missing,
                               _plan_columns, _read_astropy_table, _read_parquet,
                               _unreadable, check_reader_options, is_parquet)


class TableObjects(dict):
    """Light curves of a long table: ``{object id: (time, mag, err)}``, or
    ``{object id: BandedLightCurve}`` when several bands are read.

    Objects whose rows cannot give a light curve (several bands, no flux
    above zero, ...) are not keys; their reasons are in ``failures`` and
    :meth:`load` raises them. ``dropped`` holds each object's dropped rows
    per reason.
    """

    def __init__(self):
        super().__init__()
        self.failures = {}
        self.dropped = {}

    def load(self, object_id, counts=None):
        """``(time, mag, err)`` (or BandedLightCurve) of ``object_id``, adding its
        dropped rows to ``counts``.

        Raises
        ------
        BadLightCurve
            If the table has no rows of the object or they give no light curve.
        """
        object_id = str(object_id)
        if object_id in self.failures:
            raise BadLightCurve(self.failures[object_id])
        try:
            result = self[object_id]
        except KeyError:
            raise BadLightCurve("no rows in the light-curve table") from None
        if counts is not None:
            for reason, n in self.dropped.get(object_id, {}).items():
                _count(counts, reason, n)
        return result


def _id_filter(schema_type, ids):
    """Values of ``ids`` (str) in the type of the id column, for a pyarrow filter."""
    import pyarrow as pa
    if pa.types.is_integer(schema_type):
        values = []
        for object_id in ids:
            try:
                values.append(int(object_id))
            except ValueError:
                pass  # such an id has no rows in an integer column
        return values
    return [str(i) for i in ids]


def read_table_objects(path, id_col, time_col=None, mag_col=None, err_col=None,
                       table_format=None, ids=None, format="table", bands=None, **options):
    """Read one long table holding many objects.

    Parameters
    ----------
    path : str or Path
        CSV/ECSV/IPAC/FITS/VOTable (read whole with astropy) or Parquet (read
        with pyarrow: only the needed columns, and only the rows of ``ids``
        when given); compressed or not.
    id_col : str
        Object-id column (values compared as text).
    time_col, mag_col, err_col, table_format, **options
        Reader options of ``format`` (see :func:`read_table`, :func:`read_gaia`).
    ids : sequence of str, optional
        Only these objects are read (Parquet) or kept (other formats).
    format : str
        ``"table"``, ``"ztf"`` or ``"gaia"``.
    bands : sequence of str, optional
        Read these bands of every object (see :func:`read_lightcurve_bands`):
        each object's value is then a :class:`BandedLightCurve`, and an
        object none of whose bands has rows fails with a reason naming each
        band's problem. ``zero_point`` may then hold one value per band.

    Returns
    -------
    TableObjects
        ``{object id (str): (time, mag, err)}`` (with ``bands``:
        ``{object id: BandedLightCurve}``) with rows in file order.

    Raises
    ------
    InputError
        If the file cannot be read, lacks a column or a column holds no
        number at all (the whole input is bad, so this stops the command
        rather than rejecting every object). A non-numeric cell in a column
        that holds numbers only fails its object (``TableObjects.failures``).
    """
    options = {k: v for k, v in dict(options, time_col=time_col, mag_col=mag_col,
                                      err_col=err_col).items() if v is not None}
    if format == "gaia":
        for name in ("time_col", "mag_col", "err_col"):
            options.pop(name, None)
    planner = PLANNERS[format]
    per_band = None
    if bands is not None:
        bands = (bands,) if isinstance(bands, str) else tuple(bands)
        per_band = _band_options(format, check_reader_options(
            format, dict(options, bands=bands)))

    def make_plans(names):
        """``({band or None: plan}, {band: reason})`` of a table with columns ``names``."""
        if per_band is None:
            return {None: planner(names, **options)}, {}
        return _band_plans(format, names, per_band)

    where = f"light-curve table {os.fspath(path)!r}"
    try:
        if is_parquet(path, table_format):
            import pyarrow.parquet as pq
            try:
                schema = pq.read_schema(parquet_source(path))
            except FileNotFoundError:
                raise BadLightCurve("file not found") from None
            except Exception as exc:
                raise _unreadable("Parquet file", path, exc) from None
            names = list(schema.names)
            _missing(names, [id_col])
            plans, errors = make_plans(names)
            filters = None
            if ids is not None:
                filters = [(id_col, "in", _id_filter(schema.field(id_col).type, ids))]
            wanted = list(dict.fromkeys([id_col] + _plans_columns(plans)))
            columns = _Columns(_read_parquet(path, columns=wanted, filters=filters), "arrow")
        else:
            columns = _Columns(_read_astropy_table(path, table_format), "astropy")
            _missing(columns.names, [id_col])
            plans, errors = make_plans(columns.names)
        object_ids = columns.text(id_col)
        # Convert every needed column once; objects then slice the arrays. A
        # non-numeric cell rejects only its object (when its slice is read).
        for plan in plans.values():
            columns.convert(plan["time"])
            for key in ("mag", "err", "flux", "flux_err"):
                if plan.get(key):
                    columns.convert(plan[key])
            if plan["band_col"]:
                columns.text(plan["band_col"])
            for name in plan["flags"]:
                columns.flag(name)
    except BadLightCurve as exc:
        raise InputError(f"{where}: {exc.reason}") from None
    used = set(_plans_columns(plans))
    for name in used:
        for (kind, cached), values in columns._cache.items():
            if cached == name and len(values) != len(object_ids):
                raise InputError(f"{where}: column {name!r} holds arrays; a long table "
                                 "needs one value per row")
    order = np.argsort(object_ids, kind="stable")
    unique, starts = np.unique(object_ids[order], return_index=True)
    bounds = list(starts) + [len(order)]
    wanted_ids = None if ids is None else {str(i) for i in ids}
    objects = TableObjects()
    for k, object_id in enumerate(unique):
        object_id = str(object_id)
        if wanted_ids is not None and object_id not in wanted_ids:
            continue
        rows = order[bounds[k]:bounds[k + 1]]
        counts = {}
        try:
            subset = columns.subset(rows, used)
            if per_band is None:
                objects[object_id] = _apply_plan(subset, plans[None], counts)
            else:
                objects[object_id] = _apply_band_plans(subset, list(per_band), plans,
                                                       errors, counts)
        except BadLightCurve as exc:
            objects.failures[object_id] = exc.reason
        if counts:
            objects.dropped[object_id] = counts
    return objects


def _plans_columns(plans):
    """Every column some plan of ``plans`` reads, in order, once."""
    return list(dict.fromkeys(name for plan in plans.values() for name in _plan_columns(plan)))
