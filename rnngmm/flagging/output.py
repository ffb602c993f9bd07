"""The flag table: one row per catalog row, in catalog order, and its writers.

Columns: the catalog id (named like the catalog's id column), the
pass-through catalog columns, then the result columns shared with
``rnngmm score`` and the Python API (:mod:`rnngmm.object_table`). Provenance
goes in the table metadata (ECSV/HDF5 header, FITS header cards, CSV ``#``
comment lines, Parquet schema metadata). The table is read back, metadata
included, by :mod:`rnngmm.flagging.table`.
"""

import contextlib
import json
import os
import warnings

import numpy as np

from rnngmm.errors import InputError
from rnngmm.io.atomic import atomic_path
from rnngmm.object_table import (band_columns, code_columns, describe_columns,
                                 prior_adjusted_columns, result_columns, text_column)

#: Output formats by file-name suffix.
FORMATS = {".ecsv": "ascii.ecsv", ".csv": "ascii.csv", ".fits": "fits",
           ".h5": "hdf5", ".hdf5": "hdf5", ".parquet": "parquet"}
#: Dataset path inside an HDF5 output.
HDF5_TABLE_PATH = "flags"
#: FITS files are made of blocks of this many bytes.
FITS_BLOCK = 2880


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
                with_code=False, adjustment=None):
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
        Results of every row, in catalog order; with ``results.bands`` (stars
        read in several bands) the per-band columns of
        :func:`rnngmm.object_table.band_columns` follow the result columns.
    class_names : sequence of str
    novelty : rnngmm.novelty.mixture.GMMNovelty
        The run's mixture (thresholds, training energies).
    percentiles : sequence of float
    meta : dict
        Table metadata (scalars, strings or JSON-able values).
    with_code : bool
        Append the mean latent code columns ``code_0 ...`` (``results.code``).
    adjustment : rnngmm.flagging.catalog_pass.CatalogAdjustment, optional
        Flag thresholds from the catalog and/or class probabilities
        re-weighted to its class mix (``flag --calibrate catalog``,
        ``--estimate_priors``).

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
    result = result_columns(
        status=results.status, period=results.period, period_source=results.period_source,
        prob=results.prob, n_chunks=results.n_chunks, energy=results.energy,
        n_points=results.n_points, baseline=results.baseline,
        sampling_points=results.sampling_points,
        class_names=class_names, novelty=novelty, percentiles=percentiles,
        thresholds=adjustment.thresholds if adjustment is not None else None)
    # stars read in several bands: per-band columns (none with one band)
    result.update(band_columns(results, class_names, novelty))
    if adjustment is not None and adjustment.estimate is not None:
        result = prior_adjusted_columns(result, adjustment.adjust_prob(results.prob),
                                        class_names)
    for name, values in result.items():
        table[name] = values
    if with_code:
        for name, values in code_columns(results.code, len(results)).items():
            table[name] = values
    table.meta.update(meta)
    describe_columns(table, novelty.novelty_score, novelty.conditions_on_sampling,
                     bands=results.bands or ())
    if adjustment is not None:
        for name, description in adjustment.column_descriptions().items():
            table[name].description = description
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


def _prepared(table, fmt):
    """A copy of ``table`` (sharing its data) with the metadata ``fmt`` can hold."""
    table = table.copy(copy_data=False)
    if fmt in ("fits", "ascii.csv"):  # formats that drop column descriptions
        descriptions = {name: table[name].description for name in table.colnames
                        if table[name].description}
        units = {name: str(table[name].unit) for name in table.colnames
                 if table[name].unit is not None}
        table.meta["column_descriptions"] = descriptions
        if fmt == "ascii.csv":
            table.meta["column_units"] = units
    if fmt == "fits":
        table.meta = _fits_meta(table.meta)
    elif fmt == "ascii.csv":
        table.meta = {"comments": _csv_comments(table.meta)}
    return table


def text_widths(table):
    """Characters of the longest value of each text column of ``table``."""
    return {name: max(1, table[name].dtype.itemsize // 4) for name in table.colnames
            if table[name].dtype.kind == "U"}


def column_widths(table, fmt):
    """Widths of ``table``'s text columns that a ``fmt`` file must fix before
    the first block: characters for FITS, UTF-8 bytes for HDF5; None for
    formats without fixed widths."""
    if fmt == "fits":
        return text_widths(table)
    if fmt == "hdf5":
        from rnngmm.io.hdf5_table_stream import byte_widths
        return byte_widths(table)
    return None


class TableWriter:
    """Write the flag table block by block, atomically, in the format of ``path``.

    Blocks are astropy tables with the same columns and metadata, in output
    order. ECSV and CSV are appended as text, Parquet as row groups, FITS as
    rows of one binary table whose header (row count ``n_rows``, text column
    widths ``widths``) is known before the first block, HDF5 as rows of one
    table whose text columns have the byte widths ``widths``
    (:class:`rnngmm.io.hdf5_table_stream.HDF5TableStream`, after checking that
    the disk can hold ``n_rows`` rows). The file appears at ``path`` only
    when complete (:func:`rnngmm.io.atomic.atomic_path`).

    Parameters
    ----------
    path : str
    n_rows : int
        Rows the blocks will hold in all (FITS header; checked at the end).
    widths : dict of str to int, optional
        Width of each text column over ALL blocks (FITS, HDF5; default: the
        first block's), the maximum of :func:`column_widths` over the blocks.

    Raises
    ------
    InputError
        For an unknown suffix, an unwritable directory or a full disk.
    """

    def __init__(self, path, n_rows, widths=None):
        self.path = os.fspath(path)
        self.format = output_format(self.path)
        self.n_rows = int(n_rows)
        self.widths = widths
        self.rows = 0
        self._atomic = None
        self._handle = None
        self._sink = None

    def __enter__(self):
        self._atomic = atomic_path(self.path)
        tmp = self._atomic.__enter__()
        self._tmp = tmp
        if self.format in ("ascii.ecsv", "ascii.csv"):
            from rnngmm.io.table_stream import TextTableStream
            self._handle = open(tmp, "w", encoding="utf-8", newline="")
            options = {"comment": "# "} if self.format == "ascii.csv" else {}
            self._sink = TextTableStream(self._handle, self.format, **options)
        elif self.format in ("fits", "parquet"):
            self._handle = open(tmp, "wb")
        elif self.format == "hdf5":
            import h5py
            self._handle = h5py.File(tmp, "w")
        return self

    def write(self, block):
        """Append the rows of ``block`` (an astropy table)."""
        table = _prepared(block, self.format)
        if self.format in ("ascii.ecsv", "ascii.csv"):
            self._sink.write(table)
        elif self.format == "fits":
            self._write_fits(table)
        elif self.format == "parquet":
            self._write_parquet(table)
        else:
            self._write_hdf5(table)
        self.rows += len(block)

    def _write_hdf5(self, table):
        from rnngmm.io.hdf5_table_stream import HDF5TableStream
        if self._sink is None:
            self._sink = HDF5TableStream(self._handle, HDF5_TABLE_PATH, self.n_rows,
                                         self.widths or column_widths(table, "hdf5"),
                                         filename=self.path)
        self._sink.write(table)

    def _write_fits(self, table):
        import io
        from astropy.io import fits
        widths = self.widths or text_widths(table)
        self.widths = widths
        for name, width in widths.items():
            table[name] = table[name].astype(f"U{width}")
        with warnings.catch_warnings():
            # Keys longer than 8 characters become HIERARCH cards: expected.
            warnings.filterwarnings("ignore", message=".*HIERARCH.*")
            warnings.filterwarnings("ignore", message=".*greater than 8 characters.*")
            hdu = fits.table_to_hdu(table, character_as_bytes=True)
            buffer = io.BytesIO()
            fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(buffer)
        raw = buffer.getvalue()
        header = hdu.header.copy()
        primary = len(fits.PrimaryHDU().header.tostring())
        start = primary + len(header.tostring())
        data = raw[start:start + header["NAXIS1"] * len(table)]
        header["NAXIS2"] = self.n_rows
        if self.rows == 0:
            self._fits_header = header
            self._handle.write(raw[:primary])
            self._handle.write(header.tostring().encode("ascii"))
        elif header.tostring() != self._fits_header.tostring():
            raise ValueError("a block of the flag table has other columns or metadata "
                             "than the first block")
        self._handle.write(data)

    def _write_parquet(self, table):
        import pyarrow.parquet as pq
        arrow = _arrow_table(table)
        if self._sink is None:
            self._sink = pq.ParquetWriter(self._handle, arrow.schema)
        self._sink.write_table(arrow.cast(self._sink.schema))

    def _finish(self):
        if self.format == "fits":
            if self.rows == 0:
                raise ValueError("a FITS flag table needs at least one block")
            size = self._fits_header["NAXIS1"] * self.rows
            self._handle.write(b"\0" * (-size % FITS_BLOCK))
        elif self.format == "parquet":
            self._sink.close()
        elif self.format == "hdf5" and self._sink is None:
            raise ValueError("an HDF5 flag table needs at least one block")
        if self.rows != self.n_rows:
            raise ValueError(f"{self.path}: {self.rows} rows written, {self.n_rows} expected")

    def _close(self, quiet):
        # An h5py.File has no ``closed``: it is false once closed.
        if self._handle is None or getattr(self._handle, "closed", not self._handle):
            return
        if quiet:  # already failing (e.g. a full disk): keep the first error
            with contextlib.suppress(OSError):
                self._handle.close()
        else:
            self._handle.close()

    def __exit__(self, kind, exc, traceback):
        if kind is None:
            try:
                self._finish()
                self._close(quiet=False)
            except BaseException as error:
                self._close(quiet=True)
                self._atomic.__exit__(type(error), error, error.__traceback__)
                raise
        self._close(quiet=kind is not None)
        return self._atomic.__exit__(kind, exc, traceback)


def write_table(table, path):
    """Write ``table`` atomically in the format named by ``path``'s suffix.

    Raises
    ------
    InputError
        For an unknown suffix or an unwritable output directory.
    """
    with TableWriter(path, len(table)) as writer:
        writer.write(table)


def _arrow_table(table):
    """A pyarrow table of ``table``: units and descriptions as field metadata,
    the table's metadata as JSON under the schema key ``rnngmm``."""
    import pyarrow as pa
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
    return pa.Table.from_arrays(arrays, schema=schema)
