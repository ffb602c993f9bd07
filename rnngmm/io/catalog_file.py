"""The named columns of a catalog file, read in blocks of consecutive rows.

A 10^7-row catalog need not be held whole to be prepared: :class:`CatalogFile`
hands out its rows a block at a time, each block an astropy Table of the
requested columns only, with the file row of every table row.

- CSV and ECSV are cut into blocks of lines; each block (after the file's
  header lines) is parsed by astropy exactly as a whole-file read would parse
  those lines. Data rows are the non-blank lines (ECSV: not ``#`` comments)
  after the header, as astropy counts them. A caller that wants only some rows
  (``select``) gets only those lines parsed.
- Parquet is read in record batches of the named columns (pyarrow).
- Any other format (FITS, VOTable, IPAC ``.tbl``, other astropy ASCII formats)
  is read whole by astropy, once, and handed out in slices.
- Compressed files (``.gz``, ``.bz2``, ``.xz``) read like the plain ones, the
  format decided from the name without the compression suffix
  (:mod:`rnngmm.io.formats`).

astropy infers a text column's type from the cells it parses, so a block can
be typed otherwise than the whole column; callers that need whole-column
types pass ``converters`` (from a first pass over every block).
"""

import gc
import os
import re

import numpy as np

from rnngmm.errors import InputError
from rnngmm.io.formats import guess_format, parquet_source

#: Rows per block: astropy's pure-Python parse holds about a kilobyte per row
#: for a moment, and larger blocks fragmented the heap (BENCHMARKS.md, issue 16.1).
BLOCK_ROWS = 2048
#: Line formats read in blocks: format -> regex of comment lines (None: no comments).
LINE_FORMATS = {"ascii.csv": None, "csv": None, "ascii.ecsv": r"\s*#"}
#: Line formats whose column types astropy guesses from the cells (ECSV declares them).
CELL_TYPED = ("ascii.csv", "csv")
#: astropy ASCII formats whose id column is read as text when read whole.
ASCII_FORMATS = ("ascii.csv", "csv", "ascii.basic", "ascii")
_READ_BYTES = 1 << 18


def text_converters(names, types=None):
    """astropy ``converters`` reading ``names`` as ``types`` (default ``str``)."""
    from astropy.io import ascii
    types = types or {}
    return {name: [ascii.convert_numpy(types.get(name, str))] for name in names}


def _first_line(exc):
    """First line of an exception's message: astropy's can list every format."""
    lines = str(exc).strip().splitlines()
    return lines[0][:200] if lines else ""


def _unreadable(path, fmt, exc):
    return InputError(f"catalog {path!r} could not be read as "
                      f"{fmt or 'any astropy table format'} "
                      f"({type(exc).__name__}: {_first_line(exc)}); "
                      "pass --catalog_format to name the format")


def _check_columns(path, wanted, names):
    missing = [c for c in wanted if c not in names]
    if missing:
        raise InputError(f"catalog {path!r} has no column(s) {', '.join(missing)}; "
                         f"available columns: {', '.join(names)}")


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


def _selected(select, first, n):
    """Boolean mask of rows ``first:first + n`` that ``select`` wants (all when None)."""
    return np.ones(n, bool) if select is None else np.asarray(select(first, n), bool)


class _LineBlocks:
    """CSV or ECSV: header lines, then blocks of data lines parsed by astropy."""

    def __init__(self, path, fmt, columns, id_col, block_rows):
        self.path, self.fmt, self.columns = path, fmt, list(columns)
        self.id_col, self.block_rows = id_col, block_rows
        comment = LINE_FORMATS[fmt]
        self.comment = re.compile(comment) if comment else None
        self.header = None
        lines = self._lines()
        try:
            self.header = self._read_header(lines)
        finally:
            lines.close()
        table = self._parse([])
        _check_columns(path, self.columns, table.colnames)

    def _lines(self):
        """Lines of the file, as ``str.splitlines`` cuts the text astropy reads."""
        from astropy.utils.data import get_readable_fileobj
        with get_readable_fileobj(self.path) as handle:
            rest = ""
            while True:
                text = handle.read(_READ_BYTES)
                if not text:
                    break
                text = rest + text
                # The last line may go on in the next read ("\r" may be half of "\r\n").
                rest = text.splitlines(keepends=True)[-1]
                yield from text[:len(text) - len(rest)].splitlines()
            yield from rest.splitlines()

    def _is_row(self, line):
        return bool(line.strip()) and not (self.comment and self.comment.match(line))

    def _read_header(self, lines):
        """Lines up to and including the column names (the first data-like line)."""
        header = []
        for line in lines:
            header.append(line)
            if self._is_row(line):
                return header
        raise InputError(f"catalog {self.path!r} has no header line")

    def _parse(self, lines, converters=None, columns=None):
        from astropy.io import ascii
        converters = {**text_converters([self.id_col]), **(converters or {})} \
            if self.fmt in CELL_TYPED else {}
        try:
            # Every column is parsed: astropy 8's pure-Python reader puts the
            # masks of blank cells on the wrong columns under include_names.
            table = ascii.read(self.header + list(lines) + [""],
                               format=self.fmt.split(".")[-1], guess=False, fast_reader=False,
                               converters=converters or None)
        except InputError:
            raise
        except Exception as exc:  # astropy raises many types for unreadable files
            raise _unreadable(self.path, self.fmt, exc) from None
        finally:
            # astropy's reader leaves reference cycles holding the parsed
            # strings; left to the garbage collector's own pace they piled up
            # over millions of rows. Only the youngest generation: cheap.
            gc.collect(0)
        if lines:
            table.keep_columns(list(dict.fromkeys(columns or self.columns)))
        return table

    def blocks(self, select=None, converters=None, columns=None):
        lines = self._lines()
        try:
            for _ in self.header:
                next(lines)
            first, chunk, yielded = 0, [], False
            for line in lines:
                if self._is_row(line):
                    chunk.append(line)
                    if len(chunk) >= self.block_rows:
                        for block in self._block(first, chunk, select, converters, columns):
                            yielded = True
                            yield block
                        first, chunk = first + len(chunk), []
            for block in self._block(first, chunk, select, converters, columns):
                yielded = True
                yield block
            if not yielded:
                yield np.zeros(0, np.int64), self._parse([], converters, columns)
        finally:
            lines.close()

    def _block(self, first, chunk, select, converters, columns):
        wanted = _selected(select, first, len(chunk))
        rows = first + np.flatnonzero(wanted)
        if len(rows):
            table = self._parse([line for line, keep in zip(chunk, wanted) if keep], converters,
                                columns)
            if len(table) != len(rows):
                raise InputError(f"catalog {self.path!r}: rows {first}-{first + len(chunk) - 1} "
                                 f"gave {len(table)} table rows for {len(rows)} lines")
            yield rows, table


class _ParquetBlocks:
    """Parquet: record batches of the named columns."""

    def __init__(self, path, columns, block_rows):
        import pyarrow.parquet as pq
        self.path, self.columns, self.block_rows = path, list(dict.fromkeys(columns)), block_rows
        try:
            # a compressed file is held decompressed for the two passes
            self.source = parquet_source(path)
            names = list(pq.read_schema(self.source).names)
        except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ...
            raise self._error(exc) from None
        _check_columns(path, self.columns, names)

    def _error(self, exc):
        return InputError(f"catalog {self.path!r} could not be read as parquet "
                          f"({type(exc).__name__}: {_first_line(exc)})")

    def blocks(self, select=None, converters=None, columns=None):
        import pyarrow as pa
        import pyarrow.parquet as pq
        columns = list(dict.fromkeys(columns or self.columns))
        try:
            batches = pq.ParquetFile(self.source).iter_batches(batch_size=self.block_rows,
                                                               columns=columns)
            first, yielded = 0, False
            for batch in batches:
                n = batch.num_rows
                wanted = _selected(select, first, n)
                if wanted.any() or not yielded:
                    table = pa.Table.from_batches([batch]).filter(pa.array(wanted))
                    yield first + np.flatnonzero(wanted), _arrow_to_astropy(table)
                    yielded = True
                first += n
            if not yielded:
                schema = pq.read_schema(self.source)
                yield np.zeros(0, np.int64), _arrow_to_astropy(
                    schema.empty_table().select(columns))
        except InputError:
            raise
        except Exception as exc:
            raise self._error(exc) from None


class _WholeBlocks:
    """Any other format: read whole by astropy once, handed out in slices."""

    def __init__(self, path, fmt, columns, id_col, block_rows):
        from astropy.table import Table
        self.columns, self.block_rows = list(dict.fromkeys(columns)), block_rows
        kwargs = {}
        if fmt in ASCII_FORMATS:
            kwargs["converters"] = text_converters([id_col])
        try:
            table = Table.read(path, format=fmt, **kwargs)
        except Exception as exc:  # astropy raises many types for unreadable files
            raise _unreadable(path, fmt, exc) from None
        _check_columns(path, self.columns, table.colnames)
        self.table = table[self.columns]

    def blocks(self, select=None, converters=None, columns=None):
        table = self.table[list(dict.fromkeys(columns))] if columns else self.table
        n = len(table)
        for first in range(0, max(n, 1), self.block_rows):
            count = min(self.block_rows, n - first)
            wanted = _selected(select, first, count)
            if wanted.any() or first == 0:
                yield first + np.flatnonzero(wanted), table[first:first + count][wanted]


class CatalogFile:
    """Some columns of a catalog file, read in blocks of rows.

    Parameters
    ----------
    path : str or Path
    columns : sequence of str
        Columns to read (a missing one is an InputError naming those available).
    id_col : str
        The id column (read as text from CSV, so ``007`` keeps its zeros).
    format : str, optional
        astropy format name, or ``"parquet"``; guessed from the suffix when None.
    block_rows : int, optional
        Rows per block (default ``BLOCK_ROWS``).

    Raises
    ------
    InputError
        If the file is missing, unreadable, or lacks a named column.
    """

    def __init__(self, path, columns, id_col, format=None, block_rows=None):
        block_rows = block_rows or BLOCK_ROWS
        self.path = os.fspath(path)
        if not os.path.isfile(self.path):
            raise InputError(f"catalog {self.path!r} does not exist")
        self.format = format or guess_format(self.path)
        self.columns = list(dict.fromkeys([id_col, *columns]))
        self.id_col = id_col
        if self.format in LINE_FORMATS:
            self._reader = _LineBlocks(self.path, self.format, self.columns, id_col, block_rows)
        elif self.format == "parquet":
            self._reader = _ParquetBlocks(self.path, self.columns, block_rows)
        else:
            self._reader = _WholeBlocks(self.path, self.format, self.columns, id_col,
                                        block_rows)

    @property
    def typed_by_cells(self):
        """True when a block's column types depend on its cells (CSV)."""
        return self.format in CELL_TYPED

    def blocks(self, select=None, converters=None, columns=None):
        """Yield ``(rows, table)`` block by block, in file order.

        Parameters
        ----------
        select : callable, optional
            ``select(first, n)`` -> boolean mask of the wanted rows among rows
            ``first:first + n``; every row when None.
        converters : dict, optional
            astropy converters by column (CSV only), e.g. from
            :func:`text_converters`.
        columns : sequence of str, optional
            A subset of the source's columns (all of them when None).

        Yields
        ------
        rows : ndarray of int64
            File row (0-based data row) of each table row.
        table : astropy.table.Table
            The requested columns of those rows. At least one (possibly
            empty) block is yielded.
        """
        return self._reader.blocks(select, converters, columns)
