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
from ..object_table import code_columns, describe_columns, result_columns, text_column

#: Output formats by file-name suffix.
FORMATS = {".ecsv": "ascii.ecsv", ".csv": "ascii.csv", ".fits": "fits",
           ".h5": "hdf5", ".hdf5": "hdf5", ".parquet": "parquet"}
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


def build_table(*, id_name, ids, columns, results, class_names, novelty, percentiles, meta,
                with_code=False):
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
    with_code : bool
        Append the mean latent code columns ``code_0 ...`` (``results.code``).

    Returns
    -------
    astropy.table.Table
        With units and descriptions on every result column.
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
    if with_code:
        for name, values in code_columns(results.code, len(results)).items():
            table[name] = values
    table.meta.update(meta)
    return describe_columns(table)


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
    if fmt in ("fits", "ascii.csv"):  # formats that drop column descriptions
        descriptions = {name: table[name].description for name in table.colnames
                        if table[name].description}
        units = {name: str(table[name].unit) for name in table.colnames
                 if table[name].unit is not None}
        table.meta["column_descriptions"] = descriptions
        if fmt == "ascii.csv":
            table.meta["column_units"] = units
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
        elif fmt == "parquet":
            _write_parquet(table, tmp)
        else:
            table.write(tmp, format=fmt, overwrite=True)


def _write_parquet(table, path):
    """Parquet through pyarrow: units and descriptions as field metadata, the
    table's metadata as JSON under the schema key ``rnngmm``."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    fields, arrays = [], []
    for name in table.colnames:
        column = table[name]
        values = np.asarray(column)
        array = pa.array(values.astype(str) if values.dtype.kind in "OUS" else values)
        info = {}
        if column.unit is not None:
            info["unit"] = str(column.unit)
        if column.description:
            info["description"] = column.description
        fields.append(pa.field(name, array.type, metadata=info or None))
        arrays.append(array)
    schema = pa.schema(fields, metadata={"rnngmm": json.dumps(table.meta, default=str)})
    pq.write_table(pa.Table.from_arrays(arrays, schema=schema), path)


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


def read_table(path):
    """Read a flag table written by :func:`write_table` (any format).

    Text formats read empty strings back as masked; they are filled with ""
    again so the table equals the one written.
    """
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
