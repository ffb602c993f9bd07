"""Light-curve readers behind one entry point, one reader per file format.

Every reader returns ``(time float64, mag float64, err float64)`` exactly as
stored (unsorted, possibly duplicated): cleaning is ``rnngmm.lightcurves.preprocess.clean``'s
job. A file that cannot give a light curve raises ``BadLightCurve`` with a
short reason, so ``prepare`` records it as a reject instead of crashing.

Formats (``READERS``):

``crts``
    Three whitespace-separated columns: MJD, mag, err. ``#`` comments and
    one header line of column names (e.g. ``MJD mag err``) are skipped.
``asassn``
    ASAS-SN light-curve CSV with a header (HJD, camera, filter, mag, mag_err,
    flux, flux_err, ...). Non-detections (magnitude written as ``>17.5``, or
    error 99.99) are dropped and counted; optionally one filter is selected
    (``--band V``, alias ``--filter V``; several: ``--band V g``).
``table``
    Any table astropy reads (CSV, ECSV, IPAC ``.tbl``, FITS, VOTable), or
    Parquet (suffix ``.parquet``, read with pyarrow), with configurable column names
    (``time_col``, ``mag_col``, ``err_col``; defaults time, mag, err).
    Fluxes instead of magnitudes: ``flux_col``, ``flux_err_col`` and
    ``zero_point`` (see :func:`flux_to_mag`; non-positive fluxes are dropped
    and counted as ``"non-positive flux"``). Bands: ``band_col`` and ``band``
    keep one band's rows (the rest counted as ``"other band"``). Without
    ``band_col`` a column named band, filter, filtercode or passband is used
    when present; a light curve holding several bands without ``band`` is
    refused (never merged).
``ztf``
    The ``table`` reader with the columns of the IRSA ZTF light-curve API
    (``oid, expid, hjd, mjd, mag, magerr, catflags, filtercode, ...``; its
    CSV or its default IPAC table, ``{id}_r.tbl``): time
    ``mjd``, magnitude ``mag``, error ``magerr``, band column ``filtercode``
    (``zg``, ``zr``, ``zi``; ``--band g`` means ``zg``). Query IRSA with
    ``BAD_CATFLAGS_MASK`` to leave out flagged epochs.
``gaia``
    Gaia DR3 epoch photometry (Datalink ``EPOCH_PHOTOMETRY``), one file per
    source (``{id}.parquet`` by default; any format above), in either shape:
    the flat INDIVIDUAL/COMBINED structure (``source_id, transit_id, band,
    time, mag, flux, flux_error, flux_over_error, rejected_by_photometry,
    rejected_by_variability, other_flags, solution_id``; one row per
    transit and band) or the wide RAW structure (``g_transit_time,
    g_transit_flux, g_transit_flux_error, variability_flag_g_reject,
    bp_obs_time, bp_flux, bp_flux_error, variability_flag_bp_reject, rp_...``;
    one row per transit, or one row per source holding arrays). ``band`` (G,
    BP or RP) is required; magnitudes and errors come from the fluxes with
    the Gaia (E)DR3 Vega zero points (:data:`GAIA_ZERO_POINTS`, as Gaia's own
    ``mag`` column) unless ``zero_point`` is given; rows rejected by Gaia's
    photometric or variability processing are dropped and counted. Times
    stay BJD(TCB) - 2455197.5 days (only time differences reach the model).

Several bands (``--band g r``, ``--band G BP RP``, ``--band V g``; issue 25):
:func:`rnngmm.io.band_readers.read_lightcurve_bands` reads one object's bands
into a ``BandedLightCurve`` ``{band: (time, mag, err)}`` (the bands read, in the
order asked for; ``.missing`` gives the others' reasons), either from one
file holding every band (a band column, Gaia flat or RAW, an ASAS-SN filter
column) or from one file per band, found by a ``{band}`` field in the
file-name template (``'{id}_{band}.tbl'``; :func:`locate_band_files`), whose
band column, if any, is still checked. ``zero_point`` then takes one value
for every band or one per band (Gaia: each band's own by default). A CRTS
file holds one band. One band is read exactly as before (option ``band``;
asassn: ``filter``); :func:`check_reader_options` turns a list of several
into the option ``bands``.

:func:`rnngmm.io.table_objects.read_table_objects` reads one long table holding
many objects (formats ``table``, ``ztf`` and ``gaia``: ``TABLE_FORMATS``), optionally only the rows of
some ids: a Parquet table is read with a pyarrow filter on the id column (row
groups whose id statistics exclude the ids are skipped, so sort a large table
by id), while a CSV/ECSV/FITS table is read whole, once per process (peak
memory: the whole table on every rank), and only the wanted objects are kept.
A cell that is not a number (an archive's ``--`` for a missing error) rejects
only the object whose row holds it.

The table format comes from the file name (:func:`rnngmm.io.formats.guess_format`):
``.csv``, ``.ecsv``, ``.tbl``/``.ipac`` (IPAC), ``.fits``, ``.vot``/``.xml``,
``.parquet``; ``table_format`` overrides it. Every format reads compressed
files (``.gz``, ``.bz2``, ``.xz``; ``lightcurves.csv.gz``, ``{id}.dat.gz``),
its format decided from the name without the compression suffix. A file that
cannot be read gives ``unreadable table (<file name>: <the reader's message>)``.

The ``crts`` and ``asassn`` readers tolerate a UTF-8 byte-order mark
(spreadsheet programs and Windows editors write one) and ``#`` comment lines.
"""

import csv
import io
import lzma
import os
import re
import string

import numpy as np

from rnngmm.errors import BadLightCurve, InputError
from rnngmm.io.formats import guess_format, open_binary, parquet_source

#: Magnitude errors at or above this mark a non-detection in ASAS-SN files.
ASASSN_MISSING_ERR = 99.0
#: Column-name aliases (lower case) of the ASAS-SN CSV variants.
ASASSN_COLUMNS = {
    "time": ("hjd", "jd", "bjd", "mjd", "time"),
    "mag": ("mag",),
    "err": ("mag_err", "magerr", "err", "e_mag"),
    "filter": ("filter", "band"),
    "quality": ("quality",),
}


def _count(counts, reason, n):
    """Add ``n`` dropped rows for ``reason`` to ``counts`` (when given)."""
    if counts is not None and n:
        counts[reason] = counts.get(reason, 0) + int(n)


#: UTF-8 byte-order mark as it reads once decoded.
BOM = "\ufeff"
#: Byte-order marks of UTF-16 files, which are text but not ours to guess.
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def _read_text(source):
    """Decoded text of a path or file object without a leading byte-order
    mark; BadLightCurve if not text. A path ending in ``.gz``, ``.bz2`` or
    ``.xz`` is decompressed."""
    try:
        if hasattr(source, "read"):
            raw = source.read()
        else:
            with open_binary(source) as handle:
                raw = handle.read()
    except OSError as exc:
        raise BadLightCurve(f"unreadable file ({exc.strerror or exc})") from None
    except (EOFError, lzma.LZMAError) as exc:  # truncated or corrupt compressed file
        raise BadLightCurve(f"unreadable compressed file ({_first_line(exc)})") from None
    if isinstance(raw, str):
        text = raw
    else:
        if raw.startswith(UTF16_BOMS):
            raise BadLightCurve("not a text file (UTF-16; save it as UTF-8)")
        if b"\x00" in raw:
            raise BadLightCurve("not a text file")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise BadLightCurve("not a text file (not UTF-8)") from None
    if text.startswith(BOM):
        text = text[len(BOM):]
    if not text.strip():
        raise BadLightCurve("empty file")
    return text


def _first_line(exc, limit=200):
    """First line of an exception's message (its type's name when it has none)."""
    lines = str(exc).strip().splitlines()
    return lines[0][:limit] if lines and lines[0].strip() else type(exc).__name__


def _source_name(source):
    """Base name of a path or file object, for messages."""
    name = source if not hasattr(source, "read") else getattr(source, "name", "")
    return os.path.basename(os.fspath(name)) if isinstance(name, (str, os.PathLike)) else ""


def _as_float(values, what):
    """Convert a sequence of strings to float64, naming the column if it fails."""
    try:
        return np.asarray(values, dtype=np.float64)
    except ValueError:
        bad = next(v for v in values if not _is_float(v))
        raise BadLightCurve(f"non-numeric {what} value {bad[:20]!r}") from None


def _is_float(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _data_lines(text):
    """Non-blank lines of ``text`` that are not ``#`` comments."""
    return [line for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def is_header(line):
    """True if no field of ``line`` (split at whitespace, commas, semicolons) is a number.

    Such a first line holds column names (``MJD mag err``, ``time,mag,err``);
    a line with any number in it is data, so a typo in the first data row
    still gives the non-numeric-value message instead of silently vanishing.
    """
    fields = [f for f in re.split(r"[\s,;]+", line.strip()) if f]
    return bool(fields) and not any(_is_float(f) for f in fields)


def read_crts(source, counts=None):
    """Read a CRTS file: whitespace columns MJD, mag, err.

    ``#`` comments, blank lines and a first line of column names (see
    :func:`is_header`) are skipped.

    Parameters
    ----------
    source : str, Path or file object
    counts : dict, optional
        Unused (CRTS files mark no non-detections); accepted for a uniform API.

    Returns
    -------
    time, mag, err : ndarray of float64
    """
    lines = _data_lines(_read_text(source))
    if not lines:
        raise BadLightCurve("empty file (comments only)")
    if is_header(lines[0]):
        lines = lines[1:]
        if not lines:
            raise BadLightCurve("empty file (header only)")
    rows = [line.split() for line in lines]
    widths = {len(r) for r in rows}
    if widths != {3}:
        line = next(i for i, r in enumerate(rows) if len(r) != 3)
        raise BadLightCurve(f"expected 3 columns (MJD mag err), found "
                            f"{len(rows[line])} on data row {line + 1}")
    columns = list(zip(*rows))
    return (_as_float(columns[0], "time"), _as_float(columns[1], "mag"),
            _as_float(columns[2], "err"))


def _pick(header, role, path_hint):
    """Index of the first header column matching one of ``role``'s aliases."""
    lowered = [h.strip().lower() for h in header]
    for alias in ASASSN_COLUMNS[role]:
        if alias in lowered:
            return lowered.index(alias)
    if role in ("filter", "quality"):
        return None
    raise BadLightCurve(f"no {role} column (one of {', '.join(ASASSN_COLUMNS[role])}) "
                        f"in header {', '.join(header)}{path_hint}")


def read_asassn(source, counts=None, filter=None, drop_bad_quality=True):
    """Read an ASAS-SN light-curve CSV.

    Parameters
    ----------
    source : str, Path or file object
    counts : dict, optional
        Receives the number of rows dropped per reason: ``"non-detection"``,
        ``"other filter"``, ``"bad quality"``.
    filter : str, optional
        Keep only rows of this filter (e.g. ``"V"`` or ``"g"``).
    drop_bad_quality : bool
        Drop rows whose ``quality`` column (Sky Patrol v2) is ``"B"``.

    Returns
    -------
    time, mag, err : ndarray of float64
    """
    return _asassn_select(_asassn_rows(source), counts, filter, drop_bad_quality)


def _asassn_rows(source):
    """``(body rows, column indices)`` of an ASAS-SN CSV; BadLightCurve if malformed."""
    lines = _data_lines(_read_text(source))
    if not lines:
        raise BadLightCurve("empty file (comments only)")
    rows = list(csv.reader(io.StringIO("\n".join(lines))))
    header, body = rows[0], rows[1:]
    index = {role: _pick(header, role, "") for role in ("time", "mag", "err")}
    index["filter"] = _pick(header, "filter", "")
    index["quality"] = _pick(header, "quality", "")
    if any(len(r) != len(header) for r in body):
        line = next(i for i, r in enumerate(body) if len(r) != len(header))
        raise BadLightCurve(f"expected {len(header)} columns, found "
                            f"{len(body[line])} on data row {line + 1}")
    return body, index


def _asassn_select(parsed, counts, filter, drop_bad_quality=True):
    """``(time, mag, err)`` of the parsed rows of one filter (all rows when None)."""
    body, index = parsed
    i_time, i_mag, i_err = index["time"], index["mag"], index["err"]
    i_filter, i_quality = index["filter"], index["quality"]
    if filter is not None:
        if i_filter is None:
            raise BadLightCurve(f"filter {filter!r} requested but the file has no filter column")
        kept = [r for r in body if r[i_filter].strip() == filter]
        _count(counts, "other filter", len(body) - len(kept))
        body = kept
    if drop_bad_quality and i_quality is not None:
        kept = [r for r in body if r[i_quality].strip().upper() != "B"]
        _count(counts, "bad quality", len(body) - len(kept))
        body = kept
    mags = [r[i_mag].strip() for r in body]
    errs = [r[i_err].strip() for r in body]
    upper_limit = np.array([m.startswith(">") or m.startswith("<") for m in mags], bool)
    # Errors are parsed before the limit cut so a junk error still reads as junk.
    err_all = _as_float([e if not u else "nan" for e, u in zip(errs, upper_limit)], "mag_err")
    detected = ~upper_limit & ~(err_all >= ASASSN_MISSING_ERR)
    _count(counts, "non-detection", np.count_nonzero(~detected))
    keep = np.flatnonzero(detected)
    time = _as_float([body[i][i_time].strip() for i in keep], "time")
    mag = _as_float([mags[i] for i in keep], "mag")
    return time, mag, err_all[keep]


#: Column names taken as a band column when ``band_col`` is not given (lower case).
BAND_COLUMNS = ("band", "filter", "filtercode", "passband")
#: Gaia (E)DR3 Vega magnitude zero points per band (Riello et al. 2021, Table 3).
GAIA_ZERO_POINTS = {"G": 25.6874, "BP": 25.3385, "RP": 24.7479}
#: Columns of each band in Gaia's wide (RAW) epoch photometry: time, flux,
#: flux error, variability rejection flag.
GAIA_RAW_COLUMNS = {
    "G": ("g_transit_time", "g_transit_flux", "g_transit_flux_error",
          "variability_flag_g_reject"),
    "BP": ("bp_obs_time", "bp_flux", "bp_flux_error", "variability_flag_bp_reject"),
    "RP": ("rp_obs_time", "rp_flux", "rp_flux_error", "variability_flag_rp_reject"),
}
#: Rejection flags of Gaia's flat (INDIVIDUAL/COMBINED) epoch photometry.
GAIA_FLAT_FLAGS = ("rejected_by_photometry", "rejected_by_variability")
#: ZTF band names (filtercode values) accepted by their short names.
ZTF_BANDS = {"g": "zg", "r": "zr", "i": "zi"}


def flux_to_mag(flux, flux_err, zero_point):
    """Magnitudes and magnitude errors of fluxes.

    ``m = zero_point - 2.5 log10(f)`` and ``sigma_m = 2.5 / ln(10) * sigma_f / f``.

    Parameters
    ----------
    flux, flux_err : array_like
        Fluxes and their errors, in the units ``zero_point`` refers to (the
        flux of magnitude 0 is ``10**(zero_point / 2.5)``).
    zero_point : float
        Magnitude of unit flux, e.g. 25.0, or Gaia G's 25.6874 (Vega).

    Returns
    -------
    mag, err : ndarray of float64
        NaN where the flux is not positive (or NaN); callers drop those rows.
    """
    flux = np.asarray(flux, dtype=np.float64)
    flux_err = np.asarray(flux_err, dtype=np.float64)
    positive = flux > 0
    safe = np.where(positive, flux, np.nan)
    mag = float(zero_point) - 2.5 * np.log10(safe)
    err = 2.5 / np.log(10.0) * np.abs(flux_err) / safe
    return mag, err


def is_parquet(source, table_format=None):
    """True if ``source`` is to be read as Parquet (by name or ``table_format``).

    A compression suffix is ignored (``a.parquet.gz`` is Parquet).
    """
    if table_format is not None:
        return str(table_format).lower() == "parquet"
    if hasattr(source, "read"):
        return False
    return guess_format(source) == "parquet"


class _Columns:
    """Columns of one table (astropy Table, pyarrow Table or numpy arrays),
    converted to numpy on first use.

    ``numeric`` gives float64 (nulls and blank cells as NaN; list columns of
    Parquet, such as Gaia's RAW arrays, flattened) and refuses a column with
    a cell that is not a number, ``text`` gives stripped str (nulls as "")
    and ``flag`` gives bool (true, "true", "t", "1" or non-zero).
    ``convert`` parses a column for later :meth:`subset` calls, keeping its
    non-numeric cells for the subsets to refuse: one object's ``--`` in a
    long table must not stop the others.
    """

    def __init__(self, table, kind):
        self.table = table
        self.kind = kind  # "astropy", "arrow" or "numpy" (dict of arrays)
        if kind == "astropy":
            self.names = list(table.colnames)
        elif kind == "arrow":
            self.names = list(table.column_names)
        else:
            self.names = list(table)
        self._cache = {}
        # column -> (bool mask of non-numeric cells, {row: cell text}); only
        # columns that have such cells
        self._bad = {}

    def _raw(self, name):
        column = self.table[name] if self.kind != "arrow" else self.table.column(name)
        if self.kind == "arrow":
            import pyarrow as pa
            import pyarrow.compute as pc
            if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
                column = pc.list_flatten(column)
            if pa.types.is_dictionary(column.type):
                column = column.cast(column.type.value_type)
            if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
                if column.null_count:
                    column = pc.fill_null(column.cast(pa.float64()), float("nan"))
                return column.to_numpy()
            values = column.to_numpy(zero_copy_only=False)
            if values.dtype == object:
                values = np.array(["" if v is None else v for v in values], dtype=object)
            return values
        if hasattr(column, "filled") and getattr(column, "mask", None) is not None \
                and np.any(column.mask):
            if column.dtype.kind in "iuf":
                return column.astype(np.float64).filled(np.nan)
            if column.dtype.kind == "b":
                return column.filled(False)
            return np.asarray(column.astype(str).filled(""))
        return np.asarray(column)

    def convert(self, name):
        """Parse column ``name`` as float64 once; non-numeric cells become NaN
        and are remembered.

        Raises
        ------
        BadLightCurve
            If no cell of the column is a number (a wrong column, not one
            object's bad value).
        """
        key = ("numeric", name)
        if key in self._cache:
            return self._cache[key]
        values = self._raw(name)
        try:
            self._cache[key] = np.asarray(values, dtype=np.float64).ravel()
            return self._cache[key]
        except (TypeError, ValueError):
            pass
        # Cell by cell: blank (missing) cells are NaN as in a numeric column,
        # any other text is kept to reject the rows' object.
        text = np.asarray(values, dtype=object).ravel()
        parsed = np.full(len(text), np.nan)
        bad, numbers = {}, 0
        for row, cell in enumerate(text):
            cell = "" if cell is None else str(cell).strip()
            if not cell:
                continue
            try:
                parsed[row] = float(cell)
                numbers += 1
            except ValueError:
                bad[row] = cell
        if not numbers:
            example = next(iter(bad.values()), "")
            raise BadLightCurve(f"column {name!r} is not numeric (first value "
                                f"{example[:20]!r})")
        if bad:
            self._bad[name] = (_mask_of(bad, len(text)), bad)
        self._cache[key] = parsed
        return parsed

    def numeric(self, name):
        """Column ``name`` as float64; BadLightCurve naming a non-numeric cell."""
        values = self.convert(name)
        if name in self._bad:
            mask, cells = self._bad[name]
            first = cells[int(np.flatnonzero(mask)[0])]
            raise BadLightCurve(f"non-numeric {name} value {first[:20]!r}")
        return values

    def text(self, name):
        key = ("text", name)
        if key not in self._cache:
            values = self._raw(name)
            self._cache[key] = np.char.strip(np.asarray(values).astype(str))
        return self._cache[key]

    def flag(self, name):
        key = ("flag", name)
        if key not in self._cache:
            values = np.asarray(self._raw(name))
            if values.dtype.kind == "b":
                flags = values
            elif values.dtype.kind in "iuf":
                flags = np.nan_to_num(values.astype(np.float64)) != 0
            else:
                flags = np.isin(np.char.lower(np.char.strip(values.astype(str))),
                                ("true", "t", "1", "yes"))
            self._cache[key] = flags.ravel()
        return self._cache[key]

    def subset(self, rows, names):
        """The rows ``rows`` of ``names``' already converted columns, as a new _Columns."""
        sub = _Columns({}, "numpy")
        sub.names = list(self.names)
        for (kind, name), values in self._cache.items():
            if name in names:
                sub._cache[(kind, name)] = values[rows]
        for name, (mask, cells) in self._bad.items():
            if name in names and mask[rows].any():
                sub_mask = mask[rows]
                sub._bad[name] = (sub_mask, {int(j): cells[int(rows[j])]
                                             for j in np.flatnonzero(sub_mask)})
        return sub


def _mask_of(cells, n):
    """Boolean mask of length ``n``, true at the keys of ``cells``."""
    mask = np.zeros(n, bool)
    if cells:
        mask[np.fromiter(cells, np.int64, count=len(cells))] = True
    return mask


def _unreadable(what, source, exc):
    """BadLightCurve saying why ``source`` could not be read: its name and the
    first line of the reader's message (astropy's can run to a whole table)."""
    name = _source_name(source)
    return BadLightCurve(f"unreadable {what} ({name + ': ' if name else ''}"
                         f"{_first_line(exc)})")


def _read_astropy_table(source, table_format=None):
    """An astropy Table of ``source``; the format from its name when not given
    (compression suffix ignored: astropy decompresses ``.gz``, ``.bz2``, ``.xz``)."""
    from astropy.table import Table
    if table_format is None and not hasattr(source, "read"):
        table_format = guess_format(source)
    try:
        return Table.read(source, format=table_format)
    except FileNotFoundError:
        raise BadLightCurve("file not found") from None
    except Exception as exc:  # astropy raises many types for unreadable tables
        raise _unreadable("table", source, exc) from None


def _read_parquet(source, columns=None, filters=None):
    import pyarrow.parquet as pq
    try:
        return pq.read_table(parquet_source(source), columns=columns, filters=filters)
    except FileNotFoundError:
        raise BadLightCurve("file not found") from None
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ...
        raise _unreadable("Parquet file", source, exc) from None


def _load_columns(source, table_format=None):
    """One object's table as :class:`_Columns` (Parquet with pyarrow, else astropy)."""
    if is_parquet(source, table_format):
        return _Columns(_read_parquet(source), "arrow")
    return _Columns(_read_astropy_table(source, table_format), "astropy")


def _missing(names, wanted, where="the table"):
    missing = [n for n in wanted if n not in names]
    if missing:
        raise BadLightCurve(f"missing column(s) {', '.join(missing)} in {where}; "
                            f"available: {', '.join(names)}")


def _find_band_column(names):
    lowered = {n.lower(): n for n in names}
    for alias in BAND_COLUMNS:
        if alias in lowered:
            return lowered[alias]
    return None


def _table_plan(names, time_col=None, mag_col=None, err_col=None, band_col=None,
                band=None, flux_col=None, flux_err_col=None, zero_point=None,
                table_format=None):
    """What to read from a ``table`` light curve with columns ``names``.

    Raises BadLightCurve for a missing column.
    """
    time_col, mag_col, err_col = time_col or "time", mag_col or "mag", err_col or "err"
    if flux_col:
        values = {"time": time_col, "flux": flux_col, "flux_err": flux_err_col}
    else:
        values = {"time": time_col, "mag": mag_col, "err": err_col}
    _missing(names, list(values.values()) + ([band_col] if band_col else []))
    if band_col is None:
        band_col = _find_band_column(names)
        if band is not None and band_col is None:
            raise BadLightCurve(f"--band {band} given but the table has no band column "
                                f"(looked for {', '.join(BAND_COLUMNS)}; name it with "
                                "--band_col)")
    return {**values, "zero_point": zero_point, "band_col": band_col, "band": band,
            "band_match": lambda found, wanted: found == wanted, "flags": ()}


def _ztf_options(time_col=None, mag_col=None, err_col=None, band_col=None, band=None,
                 **options):
    """``table`` reader options with the ZTF light-curve API's column names."""
    band = ZTF_BANDS.get(band, band) if band is not None else None
    return dict(options, time_col=time_col or "mjd", mag_col=mag_col or "mag",
                err_col=err_col or "magerr", band_col=band_col or "filtercode", band=band)


def _ztf_plan(names, **options):
    """A ``table`` plan with the ZTF light-curve API's column names."""
    return _table_plan(names, **_ztf_options(**options))


def _gaia_plan(names, band=None, zero_point=None, table_format=None):
    """What to read from Gaia DR3 epoch photometry (flat or RAW) with columns ``names``."""
    band = str(band).upper()
    zero_point = GAIA_ZERO_POINTS[band] if zero_point is None else zero_point
    if "band" in names and "time" in names:
        _missing(names, ("time", "flux", "flux_error"), "the Gaia epoch photometry")
        return {"time": "time", "flux": "flux", "flux_err": "flux_error",
                "zero_point": zero_point, "band_col": "band", "band": band,
                "band_match": lambda found, wanted: np.char.upper(found) == wanted,
                "flags": tuple(f for f in GAIA_FLAT_FLAGS if f in names)}
    time_col, flux_col, err_col, flag_col = GAIA_RAW_COLUMNS[band]
    if not any(columns[0] in names for columns in GAIA_RAW_COLUMNS.values()):
        raise BadLightCurve("not Gaia epoch photometry: expected columns band, time, flux, "
                            "flux_error (INDIVIDUAL/COMBINED) or g_transit_time, "
                            "g_transit_flux, bp_obs_time, bp_flux, ... (RAW); "
                            f"available: {', '.join(names)}")
    _missing(names, (time_col, flux_col, err_col), "the Gaia epoch photometry")
    return {"time": time_col, "flux": flux_col, "flux_err": err_col,
            "zero_point": zero_point, "band_col": None, "band": None,
            "flags": (flag_col,) if flag_col in names else ()}


def _plan_columns(plan):
    """Every column a plan reads."""
    names = [plan[k] for k in ("time", "mag", "err", "flux", "flux_err", "band_col")
             if plan.get(k)]
    return names + list(plan["flags"])


def _apply_plan(columns, plan, counts=None):
    """``(time, mag, err)`` of one light curve following ``plan`` (see ``*_plan``)."""
    time = columns.numeric(plan["time"])
    n = len(time)
    if n == 0:
        raise BadLightCurve("empty table")
    keep = np.ones(n, bool)
    if plan["band_col"]:
        bands = columns.text(plan["band_col"])
        if len(bands) != n:
            raise BadLightCurve(f"band column {plan['band_col']!r} and time column "
                                f"{plan['time']!r} differ in length")
        found = sorted({b for b in bands if b})
        if plan["band"] is not None:
            keep = np.asarray(plan["band_match"](bands, plan["band"]), bool)
            if not keep.any():
                raise BadLightCurve(f"no rows of band {plan['band']} in column "
                                    f"{plan['band_col']!r} (bands found: "
                                    f"{', '.join(found) or 'none'})")
            _count(counts, "other band", n - np.count_nonzero(keep))
        elif len(found) > 1:
            raise BadLightCurve(f"light curve has bands {', '.join(found)} in column "
                                f"{plan['band_col']!r}: choose one with --band")
    for name in plan["flags"]:
        flagged = columns.flag(name)
        if len(flagged) != n:
            raise BadLightCurve(f"flag column {name!r} and time column {plan['time']!r} "
                                "differ in length")
        _count(counts, f"flagged {name}", np.count_nonzero(flagged & keep))
        keep &= ~flagged
    if plan.get("flux"):
        flux = columns.numeric(plan["flux"])
        flux_err = columns.numeric(plan["flux_err"])
        if not len(flux) == len(flux_err) == n:
            raise BadLightCurve(f"columns {plan['time']}, {plan['flux']} and "
                                f"{plan['flux_err']} differ in length")
        non_positive = flux <= 0
        _count(counts, "non-positive flux", np.count_nonzero(non_positive & keep))
        keep &= ~non_positive
        mag, err = flux_to_mag(flux[keep], flux_err[keep], plan["zero_point"])
    else:
        mag, err = columns.numeric(plan["mag"]), columns.numeric(plan["err"])
        if not len(mag) == len(err) == n:
            raise BadLightCurve(f"columns {plan['time']}, {plan['mag']} and "
                                f"{plan['err']} differ in length")
        mag, err = mag[keep], err[keep]
    return time[keep], mag, err


#: Planner of each table-like format (these formats also read long tables).
PLANNERS = {"table": _table_plan, "ztf": _ztf_plan, "gaia": _gaia_plan}
#: Formats whose light curves may come as one long table (``table_objects``).
TABLE_FORMATS = tuple(PLANNERS)


def _read_planned(format, source, counts, options):
    table_format = options.get("table_format")
    columns = _load_columns(source, table_format)
    return _apply_plan(columns, PLANNERS[format](columns.names, **options), counts)


def read_table(source, counts=None, time_col="time", mag_col="mag", err_col="err",
               table_format=None, band_col=None, band=None, flux_col=None,
               flux_err_col=None, zero_point=None):
    """Read one object's light curve from a table (astropy formats or Parquet).

    Parameters
    ----------
    source : str or Path
    counts : dict, optional
        Receives rows dropped per reason (``"other band"``, ``"non-positive flux"``).
    time_col, mag_col, err_col : str
        Column names (``mag_col``/``err_col`` unused with ``flux_col``).
    table_format : str, optional
        astropy format name (e.g. ``"ascii.csv"``, ``"fits"``) or ``"parquet"``;
        from the suffix if None.
    band_col, band : str, optional
        Band column and the band to keep; see the module docstring.
    flux_col, flux_err_col, zero_point : str, str, float, optional
        Read fluxes and convert them with :func:`flux_to_mag`.
    """
    return _read_planned("table", source, counts, dict(
        time_col=time_col, mag_col=mag_col, err_col=err_col, table_format=table_format,
        band_col=band_col, band=band, flux_col=flux_col, flux_err_col=flux_err_col,
        zero_point=zero_point))


def read_ztf(source, counts=None, **options):
    """Read a ZTF light-curve API table (``mjd, mag, magerr, filtercode``).

    Takes the options of :func:`read_table`; ``band`` may be ``g``, ``r``,
    ``i`` or the filtercode itself (``zg``, ...).
    """
    return _read_planned("ztf", source, counts, options)


def read_gaia(source, counts=None, band=None, zero_point=None, table_format=None):
    """Read one source's Gaia DR3 epoch photometry (flat or RAW; see the module docstring).

    Parameters
    ----------
    band : {"G", "BP", "RP"}
    zero_point : float, optional
        Default: :data:`GAIA_ZERO_POINTS` of the band (Vega, as Gaia's ``mag``).
    table_format : str, optional
        ``"parquet"`` or an astropy format; from the suffix if None.
    """
    if band is None:
        raise BadLightCurve("Gaia epoch photometry needs --band (G, BP or RP)")
    return _read_planned("gaia", source, counts, dict(band=band, zero_point=zero_point,
                                                      table_format=table_format))


#: Reader of each per-object file format; all accept ``(source, counts, **options)``.
READERS = {"crts": read_crts, "asassn": read_asassn, "table": read_table,
           "ztf": read_ztf, "gaia": read_gaia}
#: File-name template of each format's per-object files.
DEFAULT_TEMPLATES = {"crts": "{id}.dat", "asassn": "{id}.csv", "table": "{id}.csv",
                     "ztf": "{id}.csv", "gaia": "{id}.parquet"}
#: Reader options of the table formats (all optional; see ``check_reader_options``).
TABLE_OPTIONS = ("time_col", "mag_col", "err_col", "table_format", "band_col", "band",
                 "flux_col", "flux_err_col", "zero_point")
#: Flag name of each reader option (for messages).
OPTION_FLAGS = {name: f"--{name}" for name in TABLE_OPTIONS + ("filter",)}
OPTION_FLAGS["table_format"] = "table_format"
OPTION_FLAGS["bands"] = "--band"
#: Why ``prepare`` (and so training) reads one band; its --help and its errors say so.
ONE_BAND_NOTE = ("prepare and training read one band: a model learns one band (a "
                 "multi-band model is a later step); several bands are read by flag, "
                 "report, embed, similar and the API, which score a star's bands with it")
#: Reader options of each format; ``bands`` (several bands) wherever a band is read.
FORMAT_OPTIONS = {"crts": (), "asassn": ("filter", "band", "bands"),
                  "table": TABLE_OPTIONS + ("bands",), "ztf": TABLE_OPTIONS + ("bands",),
                  "gaia": ("band", "bands", "zero_point", "table_format")}


def _canonical_band(format, band):
    """The band ``band`` means in ``format`` (to find the same band named twice)."""
    band = str(band)
    if format == "gaia":
        return band.upper()
    if format == "ztf":
        return ZTF_BANDS.get(band, band)
    return band


def _normalise_bands(format, options):
    """Turn ``band``/``bands``/``filter`` of ``options`` into today's single-band
    option (``band``; asassn: ``filter``) or, for several bands, ``bands`` (a tuple).

    ``band`` and ``filter`` may hold one name or a sequence of names (the
    ``--band`` flag's values); ``filter`` is ``band``'s alias for asassn.
    """
    given = [key for key in ("band", "bands", "filter") if key in options]
    if not given:
        return
    if len(given) > 1:
        if "filter" in given:
            raise InputError("give --band or --filter, not both (--filter is an alias of "
                             "--band for --format asassn)")
        raise InputError("give the reader option band (one band) or bands (several), "
                         "not both")
    key = given[0]
    value = options.pop(key)
    flag = OPTION_FLAGS[key]
    names = tuple(value) if isinstance(value, (list, tuple)) else (value,)
    if not names:
        raise InputError(f"{flag} needs at least one band name")
    for name in names:
        if not str(name).strip():
            raise InputError(f"{flag} must not be empty")
    canonical = [_canonical_band(format, name) for name in names]
    twice = list(dict.fromkeys(c for c in canonical if canonical.count(c) > 1))
    if twice:
        raise InputError(f"{flag} {' '.join(map(str, names))} names band "
                         f"{', '.join(twice)} more than once")
    if len(names) == 1:
        options["filter" if format == "asassn" else "band"] = names[0]
    else:
        options["bands"] = tuple(str(name) for name in names)


def _check_zero_points(options):
    """``zero_point`` as one float (every band) or a tuple of one float per band."""
    values = options["zero_point"]
    several = isinstance(values, (list, tuple, np.ndarray))
    given = list(values) if several else [values]
    parsed = []
    for value in given:
        try:
            zero_point = float(value)
        except (TypeError, ValueError):
            raise InputError(f"--zero_point must be a number, got {value!r}") from None
        if not np.isfinite(zero_point):
            raise InputError(f"--zero_point must be finite, got {value!r}")
        parsed.append(zero_point)
    bands = options.get("bands", ())
    if len(parsed) == 1:
        options["zero_point"] = parsed[0]
    elif bands and len(parsed) == len(bands):
        options["zero_point"] = tuple(parsed)
    else:
        asked = f"{len(bands)} bands ({' '.join(bands)})" if bands else "one band"
        raise InputError(f"--zero_point takes one value (used for every band) or one value "
                         f"per band: got {len(parsed)} values for {asked}")


def check_reader_options(format, options):
    """Raise InputError unless ``options`` make sense for ``format``.

    Called before any work by ``prepare`` and ``flag``, so a bad flag stops
    the command with one message instead of rejecting every object.

    Bands: ``band`` (and, for asassn, its alias ``filter``) holds one band
    name or a sequence of names (``--band g r``). One name gives the
    single-band option of today (``band``; asassn: ``filter``); several give
    ``bands``, a tuple of names in the order given (no band twice), read
    with :func:`rnngmm.io.band_readers.read_lightcurve_bands`. ``zero_point`` is one value, or one
    value per band.

    Returns
    -------
    dict
        ``options`` without the entries that are None, bands normalised.
    """
    if format not in READERS:
        raise InputError(f"--format {format!r} is unknown; choose one of {', '.join(READERS)}")
    options = {k: v for k, v in dict(options or {}).items() if v is not None}
    allowed = FORMAT_OPTIONS[format]
    wrong = [k for k in options if k not in allowed]
    if wrong:
        flags = ", ".join(dict.fromkeys(OPTION_FLAGS.get(k, k) for k in wrong))
        where = {"crts": "--format crts takes no column or band options (a CRTS file "
                         "holds one band)",
                 "asassn": "--format asassn takes only --band (or its alias --filter)",
                 "gaia": "--format gaia reads Gaia's own columns and takes only --band "
                         "and --zero_point"}.get(format, f"--format {format}")
        raise InputError(f"{flags} cannot be used here: {where}")
    _normalise_bands(format, options)
    for name in ("time_col", "mag_col", "err_col", "band_col", "flux_col", "flux_err_col"):
        if name in options and not str(options[name]).strip():
            raise InputError(f"{OPTION_FLAGS[name]} must not be empty")
    if "zero_point" in options:
        _check_zero_points(options)
    if format == "gaia":
        names = options.get("bands", (options.get("band"),))
        if any(b is None or str(b).upper() not in GAIA_ZERO_POINTS for b in names):
            got = " ".join(str(b) for b in names if b is not None) or "none"
            raise InputError(f"--format gaia needs --band G, BP or RP (got {got})")
        return options
    if format in ("table", "ztf"):
        has_flux, has_err = "flux_col" in options, "flux_err_col" in options
        if has_flux != has_err:
            raise InputError("--flux_col and --flux_err_col go together (fluxes are "
                             "converted to magnitudes and errors)")
        if has_flux and "zero_point" not in options:
            raise InputError("--flux_col needs --zero_point (the magnitude of unit flux, "
                             "e.g. 25.0; Gaia G: 25.6874)")
        if "zero_point" in options and not has_flux:
            raise InputError("--zero_point only applies with --flux_col/--flux_err_col")
        if has_flux and "mag_col" in options:
            raise InputError("give either --mag_col (magnitudes) or --flux_col (fluxes), "
                             "not both")
    return options


def reader_bands(options):
    """The bands checked reader ``options`` ask for: a tuple of names, empty for none."""
    if "bands" in options:
        return tuple(options["bands"])
    one = options.get("band", options.get("filter"))
    return () if one is None else (one,)


def read_lightcurve(source, format, counts=None, **options):
    """Read one object's light curve in ``format``.

    Parameters
    ----------
    source : str, Path or file object
    format : str
        A key of ``READERS``: ``"crts"``, ``"asassn"``, ``"table"``, ``"ztf"``
        or ``"gaia"``.
    counts : dict, optional
        Receives rows the reader dropped, per reason (e.g. non-detections).
    **options
        Reader options (``filter`` for asassn; column names, band and flux
        options for table, ztf and gaia).

    Returns
    -------
    time, mag, err : ndarray of float64
        As stored in the file (not sorted or cleaned).

    Raises
    ------
    InputError
        For an unknown format (a bad flag).
    BadLightCurve
        When this file does not hold a usable light curve.
    """
    try:
        reader = READERS[format]
    except KeyError:
        raise InputError(f"unknown light-curve format {format!r}; "
                         f"choose one of {', '.join(READERS)}") from None
    return reader(source, counts=counts, **options)


def _template_fields(template):
    """Names of the replacement fields of ``template`` (ValueError if malformed)."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def template_has_band(template):
    """True if the file-name template has a ``{band}`` field (one file per band)."""
    try:
        return "band" in _template_fields(template)
    except ValueError:
        return False


def check_template(template, bands=None):
    """Raise InputError unless ``template`` is a file-name template with ``{id}``.

    ``{band}`` may be used as well (one file per object and band, e.g.
    ``'{id}_{band}.tbl'``), filled with the names in ``bands`` (one name or
    a sequence; ``--band``), which must then be given.
    """
    if "{id}" not in template:
        raise InputError(f"file-name template {template!r} must contain '{{id}}'")
    if "/" in template.replace("{id}", "") or "\\" in template:
        raise InputError(f"file-name template {template!r} must be a plain file name "
                         "(no directories)")
    try:
        template.format(id="x", band="b")
        fields = _template_fields(template)
    except (KeyError, IndexError, ValueError):
        fields = None
    if fields is None or not fields <= {"id", "band"}:
        raise InputError(f"file-name template {template!r} may only use the fields "
                         "'{id}' and '{band}'")
    if "band" not in fields:
        return
    names = (bands,) if isinstance(bands, str) else tuple(bands or ())
    if not names:
        raise InputError(f"file-name template {template!r} has a '{{band}}' field: name the "
                         "band(s) with --band (e.g. --band g r)")
    for name in names:
        if any(c in str(name) for c in ("/", "\\", "\x00")) or str(name) in (".", ".."):
            raise InputError(f"band {name!r} cannot fill the '{{band}}' field of "
                             f"{template!r}: it holds path characters")


def locate_lightcurve(directory, object_id, template="{id}.dat", band=None):
    """Path of ``object_id``'s file in ``directory``, refusing to leave it.

    Ids come from catalogs, i.e. from outside: an id such as ``../../etc/passwd``
    or an absolute path must never select a file outside ``directory``.
    ``band`` fills a ``{band}`` field of ``template`` (see :func:`check_template`).

    Raises
    ------
    BadLightCurve
        If the id is unsafe or the file does not exist.
    """
    object_id = str(object_id)
    if (not object_id or object_id in (".", "..") or "/" in object_id
            or "\\" in object_id or "\x00" in object_id):
        raise BadLightCurve(f"unsafe object id {object_id!r} (path characters)")
    if template_has_band(template):
        if band is None:
            raise InputError(f"file-name template {template!r} has a '{{band}}' field: "
                             "name the band with --band")
        name = template.format(id=object_id, band=band)
    else:
        name = template.format(id=object_id)
    root = os.path.realpath(directory)
    path = os.path.realpath(os.path.join(root, name))
    if os.path.commonpath([root, path]) != root or path == root:
        raise BadLightCurve(f"file of object id {object_id!r} would lie outside "
                            "the light-curve directory")
    if not os.path.isfile(path):
        raise BadLightCurve(f"light-curve file not found ({name})")
    return path


class BandFiles(dict):
    """One object's per-band files: ``{band: path}`` of the files found, in
    the order the bands were asked for; ``missing`` holds ``{band: reason}``
    of the others (see :func:`locate_band_files`)."""

    def __init__(self, items=(), missing=None):
        super().__init__(items)
        self.missing = dict(missing or {})


def locate_band_files(directory, object_id, template, bands):
    """The files of ``object_id``'s bands, ``template``'s ``{band}`` filled with each name.

    Parameters
    ----------
    directory : str or Path
    object_id : str
    template : str
        File-name template with ``{id}`` and ``{band}``, e.g. ``'{id}_{band}.tbl'``.
    bands : sequence of str
        Band names as given to ``--band``, e.g. ``("g", "r")``.

    Returns
    -------
    BandFiles
        ``{band: path}`` of the bands whose file exists; ``.missing`` gives
        the others' reasons (``light-curve file not found (x_g.tbl)``).

    Raises
    ------
    InputError
        If ``template`` has no ``{band}`` field.
    BadLightCurve
        If the object id is unsafe (path characters): no band can be read.
    """
    if not template_has_band(template):
        raise InputError(f"file-name template {template!r} has no '{{band}}' field: "
                         "one file holds every band")
    files = BandFiles()
    for band in bands:
        try:
            files[band] = locate_lightcurve(directory, object_id, template, band=band)
        except BadLightCurve as exc:
            if exc.reason.startswith("unsafe object id"):
                raise
            files.missing[band] = exc.reason
    return files
