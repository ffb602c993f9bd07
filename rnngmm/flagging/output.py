"""The flag table: one row per catalog row, in catalog order, and its writers.

Columns, in order::

    <id>                 catalog id (column named like the catalog's id column)
    <pass-through ...>   catalog columns the user asked for
    status               "ok", or why the row could not be scored
    period               period used (days); period_source says where it came from
    period_source        "catalog" | "lomb-scargle" | (prepared dataset's source) | ""
    predicted_class      argmax of the mean class probability ("" if not ok)
    class_probability    its probability
    prob_<class>         mean probability of every class of the run
    n_chunks             chunks the object was scored on (0 if not ok)
    energy               mean GMM energy of the chunks (higher = more anomalous)
    energy_percentile    percentile of ``energy`` among the training objects
    anomaly_<p>          energy above the run's p-th percentile threshold

Rows that were not scored have NaN numbers, empty strings and False anomaly
flags; their ``status`` says why. Provenance goes in the table metadata
(ECSV/HDF5 header, FITS header cards, CSV ``#`` comment lines).
"""

import json
import os
import warnings

import numpy as np

from ..errors import InputError
from ..io.atomic import atomic_path

#: Output formats by file-name suffix.
FORMATS = {".ecsv": "ascii.ecsv", ".csv": "ascii.csv", ".fits": "fits",
           ".h5": "hdf5", ".hdf5": "hdf5"}
#: Dataset path inside an HDF5 output.
HDF5_TABLE_PATH = "flags"
#: Columns the flag table always has (pass-through columns must not reuse them).
RESULT_COLUMNS = ("status", "period", "period_source", "predicted_class",
                  "class_probability", "n_chunks", "energy", "energy_percentile")


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


def percentile_label(percentile):
    """Column-name form of a percentile: 95 -> "95", 99.5 -> "99p5"."""
    value = float(percentile)
    if value.is_integer():
        return str(int(value))
    return f"{value:g}".replace(".", "p")


def anomaly_column(percentile):
    """Name of the anomaly flag column of ``percentile``."""
    return f"anomaly_{percentile_label(percentile)}"


def class_column(name):
    """Name of the probability column of class ``name``."""
    return f"prob_{name}"


def reserved_columns(class_names, percentiles):
    """Every result column name (pass-through columns must avoid them)."""
    return (set(RESULT_COLUMNS) | {class_column(c) for c in class_names}
            | {anomaly_column(p) for p in percentiles})


def _text(values):
    return np.array([str(v) for v in values], dtype=str) if len(values) else np.zeros(0, "U1")


def build_table(*, id_name, ids, columns, results, class_names, energy_percentile,
                thresholds, meta):
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
    energy_percentile : ndarray of float64
        Percentile of each row's energy (NaN where not scored).
    thresholds : dict of float to float
        Energy threshold of each percentile.
    meta : dict
        Table metadata (scalars, strings or JSON-able values).

    Returns
    -------
    astropy.table.Table
    """
    from astropy.table import Table
    ok = results.ok
    prob = np.asarray(results.prob, np.float64)
    best = np.zeros(len(results), np.int64)
    if prob.size:
        best[ok] = np.argmax(prob[ok], axis=1)
    names = np.asarray([str(c) for c in class_names], dtype=object)
    predicted = np.where(ok, names[best] if len(names) else "", "")
    class_probability = np.full(len(results), np.nan)
    class_probability[ok] = prob[ok, best[ok]]
    energy = np.asarray(results.energy, np.float64)

    table = Table()
    table[id_name] = _text(ids)
    for name, values in columns.items():
        values = np.asarray(values)
        table[name] = _text(values) if values.dtype.kind in "OUS" else values
    table["status"] = _text(results.status)
    table["period"] = np.asarray(results.period, np.float64)
    table["period_source"] = _text(results.period_source)
    table["predicted_class"] = _text(predicted)
    table["class_probability"] = class_probability
    for k, name in enumerate(class_names):
        table[class_column(name)] = prob[:, k]
    table["n_chunks"] = np.asarray(results.n_chunks, np.int64)
    table["energy"] = energy
    table["energy_percentile"] = np.asarray(energy_percentile, np.float64)
    for percentile, threshold in thresholds.items():
        table[anomaly_column(percentile)] = ok & (energy > threshold)
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
