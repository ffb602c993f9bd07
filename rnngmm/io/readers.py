"""Light-curve readers behind one entry point, one reader per file format.

Every reader returns ``(time float64, mag float64, err float64)`` exactly as
stored (unsorted, possibly duplicated): cleaning is ``rnngmm.preprocess.clean``'s
job. A file that cannot give a light curve raises ``BadLightCurve`` with a
short reason, so ``prepare`` records it as a reject instead of crashing.

Formats (``READERS``):

``crts``
    Three whitespace-separated columns: MJD, mag, err. ``#`` comments and
    one header line of column names (e.g. ``MJD mag err``) are skipped.
``asassn``
    ASAS-SN light-curve CSV with a header (HJD, camera, filter, mag, mag_err,
    flux, flux_err, ...). Non-detections (magnitude written as ``>17.5``, or
    error 99.99) are dropped and counted; optionally one filter is selected.
``table``
    Any table astropy reads, with configurable time/mag/err column names.
    :func:`read_table_objects` reads one long table holding many objects.

The ``crts`` and ``asassn`` readers tolerate a UTF-8 byte-order mark
(spreadsheet programs and Windows editors write one) and ``#`` comment lines.
"""

import csv
import io
import os
import re

import numpy as np

from ..errors import BadLightCurve, InputError

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
    mark; BadLightCurve if not text."""
    try:
        if hasattr(source, "read"):
            raw = source.read()
        else:
            with open(source, "rb") as handle:
                raw = handle.read()
    except OSError as exc:
        raise BadLightCurve(f"unreadable file ({exc.strerror or exc})") from None
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
    lines = _data_lines(_read_text(source))
    if not lines:
        raise BadLightCurve("empty file (comments only)")
    rows = list(csv.reader(io.StringIO("\n".join(lines))))
    header, body = rows[0], rows[1:]
    i_time, i_mag, i_err = (_pick(header, r, "") for r in ("time", "mag", "err"))
    i_filter = _pick(header, "filter", "")
    i_quality = _pick(header, "quality", "")
    if any(len(r) != len(header) for r in body):
        line = next(i for i, r in enumerate(body) if len(r) != len(header))
        raise BadLightCurve(f"expected {len(header)} columns, found "
                            f"{len(body[line])} on data row {line + 1}")
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


def _read_astropy_table(source, table_format=None):
    from astropy.table import Table
    try:
        return Table.read(source, format=table_format)
    except FileNotFoundError:
        raise BadLightCurve("file not found") from None
    except Exception as exc:  # astropy raises many types for unreadable tables
        raise BadLightCurve(f"unreadable table ({type(exc).__name__}: {str(exc)[:80]})") from None


def _table_columns(table, names, where):
    missing = [n for n in names if n not in table.colnames]
    if missing:
        raise BadLightCurve(f"missing column(s) {', '.join(missing)} in {where}; "
                            f"available: {', '.join(table.colnames)}")
    out = []
    for name in names:
        column = table[name]
        if hasattr(column, "filled"):
            column = column.filled(np.nan) if column.dtype.kind == "f" else column
        try:
            out.append(np.asarray(column, dtype=np.float64))
        except (TypeError, ValueError):
            raise BadLightCurve(f"column {name!r} is not numeric") from None
    return out


def read_table(source, counts=None, time_col="time", mag_col="mag", err_col="err",
               table_format=None):
    """Read one object's light curve from any table astropy reads.

    Parameters
    ----------
    source : str or Path
    counts : dict, optional
        Unused; accepted for a uniform API.
    time_col, mag_col, err_col : str
        Column names.
    table_format : str, optional
        astropy format name (e.g. ``"ascii.csv"``, ``"fits"``); guessed if None.
    """
    table = _read_astropy_table(source, table_format)
    if len(table) == 0:
        raise BadLightCurve("empty table")
    return tuple(_table_columns(table, (time_col, mag_col, err_col), "the table"))


def read_table_objects(path, id_col, time_col="time", mag_col="mag", err_col="err",
                       table_format=None):
    """Read one long table holding many objects.

    Returns
    -------
    dict
        ``{object id (str): (time, mag, err)}`` with rows in file order.

    Raises
    ------
    InputError
        If the file cannot be read or lacks a column (the whole input is bad,
        so this stops the command rather than rejecting every object).
    """
    try:
        table = _read_astropy_table(path, table_format)
        if id_col not in table.colnames:
            raise BadLightCurve(f"missing column {id_col} in the table; "
                                f"available: {', '.join(table.colnames)}")
        time, mag, err = _table_columns(table, (time_col, mag_col, err_col), "the table")
    except BadLightCurve as exc:
        raise InputError(f"light-curve table {os.fspath(path)!r}: {exc.reason}") from None
    ids = np.asarray(table[id_col]).astype(str)
    order = np.argsort(ids, kind="stable")
    unique, starts = np.unique(ids[order], return_index=True)
    bounds = list(starts) + [len(order)]
    objects = {}
    for k, object_id in enumerate(unique):
        rows = order[bounds[k]:bounds[k + 1]]
        objects[str(object_id)] = (time[rows], mag[rows], err[rows])
    return objects


#: Reader of each per-object file format; all accept ``(source, counts, **options)``.
READERS = {"crts": read_crts, "asassn": read_asassn, "table": read_table}
#: File-name template of each format's per-object files.
DEFAULT_TEMPLATES = {"crts": "{id}.dat", "asassn": "{id}.csv", "table": "{id}.csv"}


def read_lightcurve(source, format, counts=None, **options):
    """Read one object's light curve in ``format``.

    Parameters
    ----------
    source : str, Path or file object
    format : str
        A key of ``READERS``: ``"crts"``, ``"asassn"`` or ``"table"``.
    counts : dict, optional
        Receives rows the reader dropped, per reason (e.g. non-detections).
    **options
        Reader options (``filter`` for asassn; column names for table).

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


def check_template(template):
    """Raise InputError unless ``template`` is a file-name template with ``{id}``."""
    if "{id}" not in template:
        raise InputError(f"file-name template {template!r} must contain '{{id}}'")
    if "/" in template.replace("{id}", "") or "\\" in template:
        raise InputError(f"file-name template {template!r} must be a plain file name "
                         "(no directories)")
    try:
        template.format(id="x")
    except (KeyError, IndexError, ValueError):
        raise InputError(f"file-name template {template!r} may only use the field "
                         "'{id}'") from None


def locate_lightcurve(directory, object_id, template="{id}.dat"):
    """Path of ``object_id``'s file in ``directory``, refusing to leave it.

    Ids come from catalogs, i.e. from outside: an id such as ``../../etc/passwd``
    or an absolute path must never select a file outside ``directory``.

    Raises
    ------
    BadLightCurve
        If the id is unsafe or the file does not exist.
    """
    object_id = str(object_id)
    if (not object_id or object_id in (".", "..") or "/" in object_id
            or "\\" in object_id or "\x00" in object_id):
        raise BadLightCurve(f"unsafe object id {object_id!r} (path characters)")
    root = os.path.realpath(directory)
    path = os.path.realpath(os.path.join(root, template.format(id=object_id)))
    if os.path.commonpath([root, path]) != root or path == root:
        raise BadLightCurve(f"file of object id {object_id!r} would lie outside "
                            "the light-curve directory")
    if not os.path.isfile(path):
        raise BadLightCurve(f"light-curve file not found ({template.format(id=object_id)})")
    return path
