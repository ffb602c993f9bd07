"""The flag table read back: its reader and what ``rnngmm flag`` records in it.

:mod:`rnngmm.flagging.output` writes the table; everything that reads one
(``rnngmm similar``, ``map``, ``report``) reads it with :func:`read_table` and
asks this module what it holds, whatever the format it came in:

* metadata (:func:`table_meta`): ECSV, HDF5 and Parquet keep the keys and
  values flag wrote; FITS upper-cases the keys and holds lists and dicts as
  JSON text; CSV keeps ``key: value`` comment lines. Keys flag writes
  include ``run_id``, ``run_dir``, ``class_names``, ``percentiles``,
  ``threshold_<p>``, ``preprocessing``, ``chunking`` and ``inputs``;
* columns: the id column (:func:`table_id_column`), the classes of the
  ``prob_<class>`` columns (:func:`class_names_of`), the ``anomaly_<p>``
  flags and their thresholds (:func:`anomaly_columns`,
  :func:`anomaly_thresholds`), and any column as plain values
  (:func:`float_values`, :func:`text_values`).
"""

import json
import os

import numpy as np

from rnngmm.errors import InputError
from rnngmm.flagging.output import HDF5_TABLE_PATH, output_format


def _read_parquet(path):
    import pyarrow.parquet as pq
    from astropy.table import Table
    data = pq.read_table(path)
    table = Table()
    for field in data.schema:
        table[field.name] = data.column(field.name).to_numpy(zero_copy_only=False)
        info = {k.decode(): v.decode() for k, v in (field.metadata or {}).items()}
        if "unit" in info:
            table[field.name].unit = info["unit"]
        if "description" in info:
            table[field.name].description = info["description"]
    meta = (data.schema.metadata or {}).get(b"rnngmm")
    if meta:
        table.meta.update(json.loads(meta.decode()))
    return table


def _read(path):
    from astropy.table import Table
    fmt = output_format(path)
    if fmt == "hdf5":
        table = Table.read(path, format="hdf5", path=HDF5_TABLE_PATH)
    elif fmt == "parquet":
        table = _read_parquet(path)
    elif fmt == "ascii.csv":
        table = Table.read(path, format="ascii.csv", comment="#")
        for name in table.colnames:  # CSV has no boolean type: "True"/"False"
            if name.startswith("anomaly_") and table[name].dtype.kind in "US":
                table[name] = np.asarray(table[name]) == "True"
    else:
        table = Table.read(path, format=fmt)
    table.convert_bytestring_to_unicode()
    for name in table.colnames:
        column = table[name]
        if getattr(column, "mask", None) is not None and column.dtype.kind in "US":
            table[name] = column.filled("")
    return table


def read_table(path):
    """Read a flag table written by :func:`rnngmm.flagging.output.write_table` (any format).

    Text formats read empty strings back as masked; they are filled with ""
    again so the table equals the one written.

    Parameters
    ----------
    path : str or os.PathLike
        ``.ecsv``, ``.csv``, ``.fits``, ``.h5``/``.hdf5`` or ``.parquet``.

    Returns
    -------
    astropy.table.Table
        Metadata as the format keeps it (see :func:`table_meta`).

    Raises
    ------
    InputError
        When the file does not exist, has an unknown suffix or cannot be read
        as a table.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise InputError(f"table {path!r} does not exist")
    try:
        return _read(path)
    except InputError:
        raise
    except Exception as exc:  # astropy/h5py/pyarrow errors of a foreign or damaged file
        raise InputError(f"table {path!r} cannot be read as a flag table: {exc}") from None


def _meta_lookup(meta):
    """Case-insensitive view of a table's metadata (FITS upper-cases keys, CSV
    keeps them as ``key: value`` comment lines)."""
    found = {}
    for line in meta.get("comments", []) or []:
        key, sep, value = str(line).partition(": ")
        if sep:
            found[key.strip().lower()] = value
    for key, value in meta.items():
        found[str(key).lower()] = value
    return found


def table_meta(table, key, default=None):
    """A flag table's metadata entry ``key``, whatever format the table came in.

    Parameters
    ----------
    table : astropy.table.Table
    key : str
        Any case (FITS keys are upper case).
    default : object, optional
        Returned when the table lacks the entry.

    Returns
    -------
    object
        The value; JSON text (FITS headers and CSV comments hold lists and
        dicts as JSON) decoded.
    """
    value = _meta_lookup(table.meta).get(key.lower(), default)
    if isinstance(value, str) and value[:1] in "[{\"" and value:
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def recorded_inputs(table):
    """The inputs flag read (``inputs`` metadata: catalog, light curves or dataset,
    format, reader options), or None when the table records none."""
    inputs = table_meta(table, "inputs")
    if isinstance(inputs, str):
        try:
            inputs = json.loads(inputs)
        except ValueError:
            inputs = None
    return inputs if isinstance(inputs, dict) else None


def table_id_column(table, id_col=None):
    """The table's id column: ``id_col``, or its first column (as flag writes it).

    Raises
    ------
    InputError
        When the table has no such column.
    """
    id_col = id_col or table.colnames[0]
    if id_col not in table.colnames:
        raise InputError(f"the table has no id column {id_col!r} (columns: "
                         f"{', '.join(table.colnames[:8])}, ...)")
    return id_col


def class_names_of(table):
    """Classes of the table's ``prob_<class>`` columns, in the run's order
    (``class_names`` metadata), else in column order."""
    names = table_meta(table, "class_names")
    if isinstance(names, (list, tuple)) and all(f"prob_{n}" in table.colnames for n in names):
        return [str(n) for n in names]
    return [c[len("prob_"):] for c in table.colnames if c.startswith("prob_")]


def anomaly_columns(table):
    """The table's ``anomaly_<p>`` columns, in table order."""
    return [name for name in table.colnames if name.startswith("anomaly_")]


def anomaly_thresholds(table):
    """Each ``anomaly_<p>`` column with the energy threshold the table records for
    it (``threshold_<p>`` metadata; None when it records none).

    Returns
    -------
    list of (str, float or str or None)
        In table order. A CSV table gives the threshold as the text of its
        comment line (:func:`table_meta` decodes only JSON lists, dicts and
        strings there).
    """
    return [(name, table_meta(table, f"threshold_{name[len('anomaly_'):]}"))
            for name in anomaly_columns(table)]


def float_values(table, name):
    """Column ``name`` as float64, NaN where masked."""
    return np.ma.filled(np.ma.asarray(table[name]).astype(np.float64), np.nan)


def text_values(table, name):
    """Column ``name`` as strings."""
    return np.asarray(table[name]).astype(str)
