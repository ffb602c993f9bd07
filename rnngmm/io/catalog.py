"""Object catalogs (CSV, ECSV, FITS, VOTable with astropy; Parquet with pyarrow).

A catalog gives at least an object id per row, and optionally a class label,
a period and any extra columns. Column names are configurable because every
survey names them differently.
"""

import os
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError

#: astropy format of each file-name suffix (anything else: astropy guesses).
FORMATS_BY_SUFFIX = {
    ".csv": "ascii.csv", ".ecsv": "ascii.ecsv", ".fits": "fits", ".fit": "fits",
    ".fits.gz": "fits", ".vot": "votable", ".votable": "votable", ".xml": "votable",
    ".parquet": "parquet", ".pq": "parquet",
}


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


def guess_format(path):
    """astropy format name for ``path`` from its suffix, or None to let astropy guess."""
    name = os.fspath(path).lower()
    for suffix, fmt in FORMATS_BY_SUFFIX.items():
        if name.endswith(suffix):
            return fmt
    return None


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
    if hasattr(column, "filled") and column.dtype.kind in "iuf":
        column = column.astype(np.float64).filled(np.nan)
    try:
        return np.asarray(column, dtype=np.float64), []
    except (TypeError, ValueError):
        pass
    # Text columns (blanks or junk among the numbers): parse cell by cell.
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


def _period_rejects(periods_bad, ids, keep):
    """``(row, id, reason)`` of kept rows whose period cell is not a number."""
    return [(row, str(ids[row]), f"catalog period {value[:40]!r} is not a number")
            for row, value in periods_bad if keep[row]]


def _passthrough(column):
    """An extra column as plain numpy (numbers with NaN for missing, or str)."""
    if column.dtype.kind in "iufb":
        if hasattr(column, "mask") and np.any(column.mask):
            return column.astype(np.float64).filled(np.nan)
        return np.asarray(column)
    return _as_text(column)


def _arrow_to_astropy(table):
    """An astropy Table of a pyarrow Table; nulls become masked entries."""
    import pyarrow as pa
    import pyarrow.compute as pc
    from astropy.table import MaskedColumn, Table
    out = Table()
    for name in table.column_names:
        column = table.column(name)
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        mask = None
        if column.null_count:
            mask = np.asarray(pc.is_null(column).to_numpy(zero_copy_only=False), bool)
        if pa.types.is_integer(column.type) or pa.types.is_floating(column.type) \
                or pa.types.is_boolean(column.type):
            if mask is not None:
                fill = False if pa.types.is_boolean(column.type) else 0
                column = pc.fill_null(column, fill)
            values = np.asarray(column.to_numpy(zero_copy_only=False))
        else:
            values = column.to_numpy(zero_copy_only=False)
            values = np.array(["" if v is None else str(v) for v in values], dtype=str) \
                if len(values) else np.zeros(0, dtype=str)
        out[name] = MaskedColumn(values, mask=mask) if mask is not None else values
    return out


def _read_parquet_catalog(path, wanted):
    """The ``wanted`` columns of a Parquet catalog as an astropy Table.

    Only those columns are read; a missing one is an InputError naming the
    available columns.
    """
    import pyarrow.parquet as pq
    try:
        names = list(pq.read_schema(path).names)
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ...
        raise InputError(f"catalog {path!r} could not be read as parquet "
                         f"({type(exc).__name__}: {str(exc)[:200]})") from None
    missing = [c for c in wanted if c not in names]
    if missing:
        raise InputError(f"catalog {path!r} has no column(s) {', '.join(missing)}; "
                         f"available columns: {', '.join(names)}")
    try:
        table = pq.read_table(path, columns=list(dict.fromkeys(wanted)))
    except Exception as exc:
        raise InputError(f"catalog {path!r} could not be read as parquet "
                         f"({type(exc).__name__}: {str(exc)[:200]})") from None
    return _arrow_to_astropy(table)


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
        Columns of class labels and periods (days).
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
    from astropy.table import Table
    from astropy.io import ascii

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise InputError(f"catalog {path!r} does not exist")
    fmt = format or guess_format(path)
    wanted = [id_col] + [c for c in (label_col, period_col) if c] + list(extra_cols)
    kwargs = {}
    if fmt in ("ascii.csv", "csv", "ascii.basic", "ascii"):
        # Ids as text: a numeric parse would turn "007" into 7.
        kwargs["converters"] = {id_col: [ascii.convert_numpy(str)]}
    if fmt == "parquet":
        table = _read_parquet_catalog(path, wanted)
    else:
        try:
            table = Table.read(path, format=fmt, **kwargs)
        except Exception as exc:  # astropy raises many types for unreadable files
            raise InputError(f"catalog {path!r} could not be read as "
                             f"{fmt or 'any astropy table format'} "
                             f"({type(exc).__name__}: {str(exc)[:200]}); "
                             "pass --catalog_format to name the format") from None
    missing = [c for c in wanted if c not in table.colnames]
    if missing:
        raise InputError(f"catalog {path!r} has no column(s) {', '.join(missing)}; "
                         f"available columns: {', '.join(table.colnames)}")
    ids = _as_text(table[id_col])
    rejects = []
    keep = np.ones(len(ids), bool)
    first_row = {}
    for row, object_id in enumerate(ids):
        if not object_id:
            rejects.append((row, "", "missing id in catalog"))
            keep[row] = False
        elif object_id in first_row:
            rejects.append((row, object_id,
                            f"duplicate catalog id (first at row {first_row[object_id]})"))
            keep[row] = False
        else:
            first_row[object_id] = row
    periods = None
    if period_col:
        # A junk period is that row's problem, not the whole catalog's.
        periods, bad = _parse_numbers(table[period_col])
        period_rejects = _period_rejects(bad, ids, keep)
        keep[[row for row, _, _ in period_rejects]] = False
        rejects = sorted(rejects + period_rejects)
    rows = np.flatnonzero(keep).astype(np.int64)
    return Catalog(
        path=path,
        ids=ids[rows],
        labels=_as_text(table[label_col])[rows] if label_col else None,
        periods=periods[rows] if period_col else None,
        extra={c: _passthrough(table[c])[rows] for c in extra_cols},
        rows=rows,
        rejects=rejects,
    )
