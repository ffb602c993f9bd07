"""Object catalogs (CSV, ECSV, FITS, VOTable with astropy; Parquet with pyarrow).

A catalog gives at least an object id per row, and optionally a class label,
a period and any extra columns. Column names are configurable because every
survey names them differently.

A catalog is read in two passes over blocks of rows
(:class:`~rnngmm.io.catalog_file.CatalogFile`), so it is never held whole:

1. :func:`scan_catalog` finds the rows that cannot be objects (missing or
   duplicate id, a period cell that is not a number) and each column's type
   over the whole file. It keeps 8 bytes per row (a hash of each id) and the
   rejected rows.
2. :func:`kept_blocks` reads the kept rows (or only some of them, e.g. one
   rank's share) block by block, numbered 0, 1, ... in file order.

:func:`read_catalog` does both and returns the whole :class:`Catalog`.
"""

import array
from dataclasses import dataclass, field

import numpy as np

from rnngmm.io.catalog_file import CatalogFile, text_converters


@dataclass
class Catalog:
    """Catalog columns after duplicate ids are removed (first row kept).

    Attributes
    ----------
    path : str
    ids : ndarray of str
    labels : ndarray of str or None
        ``""`` where the label is missing.
    periods : ndarray of float64 or None
        NaN where the period is missing.
    extra : dict of str to ndarray
        Requested extra columns (masked numbers become NaN, masked text "").
    rows : ndarray of int64
        Row number (0-based) of each kept object in the file.
    rejects : list of (int, str, str)
        ``(row, id, reason)`` of every row that was not kept (missing or
        duplicate id, period cell that is not a number), sorted by row.
    """

    path: str
    ids: np.ndarray
    labels: np.ndarray = None
    periods: np.ndarray = None
    extra: dict = field(default_factory=dict)
    rows: np.ndarray = None
    rejects: list = field(default_factory=list)

    def __len__(self):
        return len(self.ids)

    @classmethod
    def concatenate(cls, path, parts, rejects=()):
        """One Catalog of consecutive ``parts`` (their ``rejects`` replaced by ``rejects``)."""
        def joined(values):
            if values[0] is None:
                return None
            # numpy would make a big-endian (FITS) column native: keep its type.
            dtype = None if values[0].dtype.kind == "U" else values[0].dtype
            return np.concatenate(values, dtype=dtype)

        return cls(path=path, rejects=list(rejects),
                   **{name: joined([getattr(p, name) for p in parts])
                      for name in ("ids", "labels", "periods", "rows")},
                   extra={c: joined([p.extra[c] for p in parts]) for c in parts[0].extra})


@dataclass
class CatalogScan:
    """What :func:`scan_catalog` found: rejected rows and whole-column types.

    Attributes
    ----------
    n_rows : int
        Data rows in the file.
    rejects : list of (int, str, str)
        ``(row, id, reason)`` of every row that is not an object, sorted by row.
    extra_dtypes : dict of str to numpy dtype
        Type of each extra column as :func:`read_catalog` returns it (``U``
        for text; numbers with a missing cell become float64).
    cell_types : dict of str to type
        For catalogs typed by their cells (CSV): the type astropy gives the
        whole period and extra columns (``numpy.int64``, ``float`` or
        ``str``), so that every block is parsed as the whole file would be.
    """

    n_rows: int
    rejects: list
    extra_dtypes: dict
    cell_types: dict = field(default_factory=dict)

    @property
    def n_kept(self):
        """Rows that are objects."""
        return self.n_rows - len(self.rejects)

    @property
    def rejected_rows(self):
        """Sorted int64 array of the rejected rows."""
        return np.array([r[0] for r in self.rejects], np.int64)


def _as_text(column):
    """Column as str, masked entries as ""."""
    values = np.asarray(column).astype(str)
    mask = np.asarray(getattr(column, "mask", np.zeros(len(values), bool)))
    if mask.shape == values.shape:
        values = np.where(mask, "", values)
    return np.char.strip(values)


def _parse_numbers(column):
    """Parse a column as float64, tolerating non-numeric cells.

    Returns
    -------
    values : ndarray of float64
        NaN where the cell is missing or not a number.
    bad : list of (int, str)
        Row and text of every non-empty cell that is not a number.
    """
    if column.dtype.kind in "iufb":
        if hasattr(column, "filled"):
            column = column.astype(np.float64).filled(np.nan)
        return np.asarray(column, dtype=np.float64), []
    # Text columns, cell by cell: a masked cell is missing whatever astropy
    # filled it with, a junk cell is that row's problem.
    text = _as_text(column)
    values = np.full(len(text), np.nan)
    bad = []
    for row, value in enumerate(text):
        if not value:
            continue
        try:
            values[row] = float(value)
        except ValueError:
            bad.append((row, str(value)))
    return values, bad


def _passthrough(column):
    """An extra column as plain numpy (numbers with NaN for missing, or str)."""
    if column.dtype.kind in "iufb":
        if hasattr(column, "mask") and np.any(column.mask):
            return column.astype(np.float64).filled(np.nan)
        return np.asarray(column)
    return _as_text(column)


def _dtype_union(dtype, other):
    """Type of a column made of blocks typed ``dtype`` and ``other`` (text wins)."""
    if dtype is None or dtype == other:
        return other
    if "U" in (dtype.kind, other.kind):
        return np.dtype("U1")
    return np.result_type(dtype, other)


def _cell_type(dtype):
    """The astropy converter type that parses a CSV column of ``dtype`` the same way."""
    return {"i": np.int64, "u": np.int64, "f": float}.get(dtype.kind, str)


def _id_hashes(ids):
    """64-bit hash of each id (equal ids, equal hashes; rarely equal otherwise)."""
    return np.fromiter(map(hash, ids), np.int64, count=len(ids))


class _Int64s:
    """A growing int64 array (about 8 bytes per value, never two copies at once)."""

    def __init__(self):
        self._values = array.array("q")

    def extend(self, values):
        self._values.frombytes(np.ascontiguousarray(values, np.int64).tobytes())

    def view(self):
        """The values as a writable numpy array over the same memory."""
        return np.frombuffer(self._values, np.int64)


def _duplicates(source, id_col, hashes):
    """``(row, id, reason)`` of every row whose id an earlier row has.

    ``hashes`` (every non-missing id's hash, sorted in place here) points at
    candidate rows; their ids are read again and compared as text, so a
    hash collision never rejects a row.
    """
    hashes.sort()
    repeated = np.unique(hashes[1:][hashes[1:] == hashes[:-1]])
    if not len(repeated):
        return []
    first_row, rejects = {}, []
    for rows, table in source.blocks(columns=[id_col]):
        ids = _as_text(table[id_col])
        for j in np.flatnonzero(np.isin(_id_hashes(ids), repeated) & (ids != "")):
            row, object_id = int(rows[j]), str(ids[j])
            if object_id in first_row:
                rejects.append((row, object_id,
                                f"duplicate catalog id (first at row {first_row[object_id]})"))
            else:
                first_row[object_id] = row
    return rejects


def scan_catalog(source, id_col, period_col=None, extra_cols=()):
    """First pass: rejected rows and column types of a catalog.

    Parameters
    ----------
    source : rnngmm.io.catalog_file.CatalogFile
    id_col, period_col : str
    extra_cols : sequence of str

    Returns
    -------
    CatalogScan
        A missing id rejects its row; of several rows with one id the first
        is kept (judged on ids alone: a first row rejected for its period
        still makes the later ones duplicates); a period cell that is not a
        number rejects only its row.
    """
    columns = [id_col] + ([period_col] if period_col else []) + list(extra_cols)
    n_rows, missing, bad_periods, hashes = 0, [], [], _Int64s()
    raw, extra_dtypes = dict.fromkeys(columns[1:]), dict.fromkeys(extra_cols)
    for rows, table in source.blocks(columns=columns):
        n_rows += len(rows)
        ids = _as_text(table[id_col])
        present = ids != ""
        missing += [(int(row), "", "missing id in catalog") for row in rows[~present]]
        hashes.extend(_id_hashes(ids[present]))
        for name in raw:
            raw[name] = _dtype_union(raw[name], table[name].dtype)
        for name in extra_cols:
            extra_dtypes[name] = _dtype_union(extra_dtypes[name],
                                              _passthrough(table[name]).dtype)
        if period_col:
            _, bad = _parse_numbers(table[period_col])
            bad_periods += [(int(rows[j]), str(ids[j]),
                             f"catalog period {value[:40]!r} is not a number")
                            for j, value in bad if present[j]]
    duplicates = _duplicates(source, id_col, hashes.view())
    del hashes
    duplicate_rows = {row for row, _, _ in duplicates}
    rejects = sorted(missing + duplicates
                     + [r for r in bad_periods if r[0] not in duplicate_rows])
    cell_types = ({name: _cell_type(dtype) for name, dtype in raw.items()}
                  if source.typed_by_cells else {})
    return CatalogScan(n_rows, rejects, extra_dtypes, cell_types)


def kept_blocks(source, scan, id_col, label_col=None, period_col=None, extra_cols=(),
                select=None):
    """Second pass: the kept rows of a catalog, block by block.

    Parameters
    ----------
    source : rnngmm.io.catalog_file.CatalogFile
    scan : CatalogScan
        From :func:`scan_catalog` on the same file.
    id_col, label_col, period_col, extra_cols
        As for :func:`read_catalog`.
    select : callable, optional
        ``select(index)`` -> boolean mask of the wanted objects among the
        object numbers ``index`` (0-based over kept rows); every one when None.
        Only wanted rows are parsed (CSV, ECSV).

    Yields
    ------
    index : ndarray of int64
        Object number of each row of the block.
    block : Catalog
        Those objects (``rejects`` empty); extra columns of the whole-column
        type of ``scan``.
    """
    rejected = scan.rejected_rows

    def wanted(first, n):
        rows = np.arange(first, first + n)
        position = np.searchsorted(rejected, rows)
        mask = rejected[np.minimum(position, max(len(rejected) - 1, 0))] != rows \
            if len(rejected) else np.ones(n, bool)
        if select is not None:
            mask &= np.asarray(select(rows - position), bool)
        return mask

    text = [id_col] + ([label_col] if label_col else [])
    types = {**scan.cell_types, **dict.fromkeys(text, str)}
    columns = text + ([period_col] if period_col else []) + list(extra_cols)
    for rows, table in source.blocks(wanted, text_converters(columns, types), columns):
        extra = {}
        for name in extra_cols:
            values = _passthrough(table[name])
            dtype = scan.extra_dtypes[name]
            extra[name] = values if dtype.kind == "U" else values.astype(dtype)
        yield rows - np.searchsorted(rejected, rows), Catalog(
            path=source.path, ids=_as_text(table[id_col]),
            labels=_as_text(table[label_col]) if label_col else None,
            periods=_parse_numbers(table[period_col])[0] if period_col else None,
            extra=extra, rows=rows.astype(np.int64))


def read_catalog(path, id_col, label_col=None, period_col=None, extra_cols=(),
                 format=None):
    """Read an object catalog.

    Parameters
    ----------
    path : str or Path
        CSV, ECSV, FITS, VOTable or Parquet file (Parquet is read with pyarrow,
        only the named columns).
    id_col : str
        Column of object ids (read as text, so ids like ``007`` keep their zeros).
    label_col, period_col : str, optional
        Columns of class labels (read as text from CSV) and periods (days).
    extra_cols : sequence of str
        More columns to carry along.
    format : str, optional
        astropy format name, or ``"parquet"``; guessed from the suffix when None.

    Returns
    -------
    Catalog

    Raises
    ------
    InputError
        If the file is missing or unreadable, or a named column is absent
        (the message lists the available columns). A period cell that is
        not a number only rejects its row (``Catalog.rejects``).
    """
    extra_cols = list(extra_cols)
    source = CatalogFile(path, [c for c in (label_col, period_col) if c] + extra_cols,
                         id_col, format)
    scan = scan_catalog(source, id_col, period_col, extra_cols)
    parts = [block for _, block in kept_blocks(source, scan, id_col, label_col, period_col,
                                               extra_cols)]
    return Catalog.concatenate(source.path, parts, scan.rejects)
