"""Write an astropy table to HDF5 block by block, read back as one whole-table write.

astropy writes a table to HDF5 in one call (:func:`astropy.io.misc.hdf5.write_table_hdf5`:
one compound dataset, text columns as UTF-8 byte strings, column and table
metadata as YAML in ``<path>.__table_column_meta__``). :class:`HDF5TableStream`
lets astropy write the first block that way into a resizable dataset and
appends the rows of later blocks, so a table of any length is written holding
one block. Text columns get the widths of the whole table (given up front,
e.g. the maximum of :func:`byte_widths` over the blocks); every block must
have the first block's columns, types and metadata, or the write fails.

HDF5 may crash the process, rather than raise, when the disk fills during a
write, so :func:`check_free_space` refuses to start a table the disk cannot
hold; the caller writes under a temporary name
(:func:`rnngmm.io.atomic.atomic_path`), so a crash or a kill leaves only a
``.tmp`` file.
"""

import os

import numpy as np

from rnngmm.errors import InputError

#: Bytes per chunk of the table's dataset (HDF5's default chunk cache holds several).
CHUNK_BYTES = 1 << 20


def _plain(table):
    """``table`` with masked and mixin columns as plain columns, as astropy's
    HDF5 writer stores them (a masked column ``x`` becomes ``x`` and ``x.mask``)."""
    from astropy.table import serialize
    from astropy.utils.data_info import serialize_context_as
    with serialize_context_as("hdf5"):
        return serialize.represent_mixins_as_columns(table)


def _utf8(column):
    """A text column as UTF-8 bytes (numpy ``S``, as wide as its longest value)."""
    return np.char.encode(np.asarray(column, dtype=str), "utf-8")


def byte_widths(table):
    """UTF-8 bytes of the longest value of each text column of ``table`` as
    stored in HDF5 (at least 1)."""
    table = _plain(table)
    return {name: max(1, _utf8(table[name]).dtype.itemsize) for name in table.colnames
            if table[name].dtype.kind == "U"}


def _as_bytes(table, widths):
    """``table`` as astropy's HDF5 writer stores it, text as UTF-8 of ``widths`` bytes."""
    table = _plain(table)
    text = [name for name in table.colnames if table[name].dtype.kind == "U"]
    missing = [name for name in text if name not in widths]
    if missing:
        raise ValueError(f"no width was given for the text column(s) {', '.join(missing)}")
    table = table.copy(copy_data=False)
    table.convert_unicode_to_bytestring()  # UTF-8, as astropy's own write does
    for name in text:
        if table[name].dtype.itemsize > widths[name]:
            raise ValueError(f"text column {name!r} holds a value of "
                             f"{table[name].dtype.itemsize} bytes, wider than the "
                             f"{widths[name]} bytes given for the table")
        table[name] = table[name].astype(f"S{widths[name]}")
    return table


def check_free_space(path, n_rows, row_bytes, margin=1.1):
    """Refuse to start a table of ``n_rows`` rows of ``row_bytes`` the disk cannot hold.

    Raises
    ------
    InputError
        Naming ``path``, the space needed and the space free.
    """
    need = int(margin * n_rows * row_bytes) + (1 << 20)
    stat = os.statvfs(os.path.dirname(os.path.abspath(path)))
    free = stat.f_bavail * stat.f_frsize
    if free < need:
        raise InputError(f"cannot write {os.fspath(path)!r}: No space left on device "
                         f"(about {need / 2**20:.1f} MiB needed, {free / 2**20:.1f} MiB "
                         "free; nothing was written; free some space and run again)")


class HDF5TableStream:
    """Append astropy tables with the same columns to one table of an open HDF5 file.

    Parameters
    ----------
    handle : h5py.File
        Open for writing.
    path : str
        Path of the table inside the file.
    n_rows : int
        Rows the blocks will hold in all (sizes the free-space check).
    widths : dict of str to int
        UTF-8 bytes of each text column over ALL blocks (:func:`byte_widths`).
    filename : str, optional
        The file being written (its final name, which the error names): the
        free space of its directory is checked before the first write (no
        check when None).
    """

    def __init__(self, handle, path, n_rows, widths, filename=None):
        self.handle, self.path = handle, path
        self.n_rows, self.widths = int(n_rows), dict(widths)
        self.filename = filename
        self.dataset = None
        self.header = None
        self.rows = 0

    @staticmethod
    def _header(table):
        from astropy.table.meta import get_yaml_from_table
        return get_yaml_from_table(table[:0])

    def write(self, table):
        """Append ``table``'s rows (the first call creates the table and its metadata)."""
        from astropy.io.misc.hdf5 import write_table_hdf5
        table = _as_bytes(table, self.widths)
        header = self._header(table)
        if self.dataset is None:
            row_bytes = table.as_array().dtype.itemsize
            if self.filename is not None:
                check_free_space(self.filename, self.n_rows, row_bytes)
            write_table_hdf5(table, self.handle, path=self.path, serialize_meta=True,
                             maxshape=(None,), chunks=(max(1, CHUNK_BYTES // max(row_bytes, 1)),))
            self.dataset = self.handle[self.path]
            self.header = header
        else:
            if header != self.header:
                raise ValueError("a block of the table has other columns, types or metadata "
                                 "than the first block")
            values = table.as_array()
            if values.dtype != self.dataset.dtype:
                raise ValueError("a block of the table has other column types than the "
                                 "first block")
            self.dataset.resize((self.rows + len(values),))
            self.dataset[self.rows:] = values
        self.rows += len(table)
