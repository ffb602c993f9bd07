"""The flag table: one row per catalog row, in catalog order, and its writers.

Columns: the catalog id (named like the catalog's id column), the
pass-through catalog columns, then the result columns shared with
``rnngmm score`` and the Python API (:mod:`rnngmm.object_table`). Provenance
goes in the table metadata (ECSV/HDF5 header, FITS header cards, CSV ``#``
comment lines).
"""

import json
import os
import warnings

import numpy as np

from ..errors import InputError
from ..io.atomic import atomic_path
from ..object_table import result_columns, text_column

#: Output formats by file-name suffix.
FORMATS = {".ecsv": "ascii.ecsv", ".csv": "ascii.csv", ".fits": "fits",
           ".h5": "hdf5", ".hdf5": "hdf5"}
#: Dataset path inside an HDF5 output.
HDF5_TABLE_PATH = "flags"


def output_format(path):
    """astropy format name of an output path, from its suffix.

    Raises
    ------
    InputError
        For a suffix that is not .ecsv, .csv, .fits, .h5 or .hdf5.
    """
    suffix = os.path.splitext(os.fspath(path))[1].lower()
    if suffix not in FORMATS:
        raise InputError(f"output {os.fspath(path)!r}: unknown suffix {suffix!r}; "
                         f"use one of {', '.join(FORMATS)}")
    return FORMATS[suffix]


def build_table(*, id_name, ids, columns, results, class_names, novelty, percentiles, meta):
    """Assemble the flag table.

    Parameters
    ----------
    id_name : str
        Name of the id column.
    ids : array_like of str
        Catalog ids, one per row.
    columns : dict of str to ndarray
        Pass-through columns, one value per row.
    results : RowResults
        Results of every row, in catalog order.
    class_names : sequence of str
    novelty : rnngmm.novelty.GMMNovelty
        The run's mixture (thresholds, training energies).
    percentiles : sequence of float
    meta : dict
        Table metadata (scalars, strings or JSON-able values).

    Returns
    -------
    astropy.table.Table
    """
    from astropy.table import Table
    table = Table()
    table[id_name] = text_column(ids)
    for name, values in columns.items():
        values = np.asarray(values)
        table[name] = text_column(values) if values.dtype.kind in "OUS" else values
    for name, values in result_columns(
            status=results.status, period=results.period,
            period_source=results.period_source, prob=results.prob,
            n_chunks=results.n_chunks, energy=results.energy, class_names=class_names,
            novelty=novelty, percentiles=percentiles).items():
        table[name] = values
    table.meta.update(meta)
    return table


def _fits_meta(meta):
    """Header-friendly copy of ``meta``: upper-case keys, scalar values."""
    flat = {}
    for key, value in meta.items():
        if not isinstance(value, (str, int, float, bool, np.integer, np.floating)):
            value = json.dumps(value)
        flat[key.upper()] = value
    return flat


def _csv_comments(meta):
    return [f"{key}: {value if isinstance(value, str) else json.dumps(value)}"
            for key, value in meta.items()]


def write_table(table, path):
    """Write ``table`` atomically in the format named by ``path``'s suffix.

    Raises
    ------
    InputError
        For an unknown suffix or an unwritable output directory.
    """
    fmt = output_format(path)
    table = table.copy(copy_data=False)
    with atomic_path(path) as tmp:
        if fmt == "fits":
            table.meta = _fits_meta(table.meta)
            with warnings.catch_warnings():
                # Keys longer than 8 characters become HIERARCH cards: expected.
                warnings.filterwarnings("ignore", message=".*HIERARCH.*")
                warnings.filterwarnings("ignore", message=".*greater than 8 characters.*")
                table.write(tmp, format="fits", overwrite=True)
        elif fmt == "hdf5":
            table.write(tmp, format="hdf5", path=HDF5_TABLE_PATH, serialize_meta=True,
                        overwrite=True)
        elif fmt == "ascii.csv":
            table.meta = {"comments": _csv_comments(table.meta)}
            table.write(tmp, format="ascii.csv", overwrite=True, comment="# ")
        else:
            table.write(tmp, format=fmt, overwrite=True)


def read_table(path):
    """Read a flag table written by :func:`write_table` (any format).

    Text formats read empty strings back as masked; they are filled with ""
    again so the table equals the one written.
    """
    from astropy.table import Table
    fmt = output_format(path)
    if fmt == "hdf5":
        table = Table.read(path, format="hdf5", path=HDF5_TABLE_PATH)
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
