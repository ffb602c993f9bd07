"""One object's light curve in several bands (``--band g r``), behind one entry point.

:func:`read_lightcurve_bands` reads the asked-for bands of one star from one
file holding them all (a band column; Gaia's flat or RAW epoch photometry;
ASAS-SN's filter column) or from one file per band (``{band}`` in the
file-name template, :func:`rnngmm.io.readers.locate_band_files`), each band
with its own plan of :mod:`rnngmm.io.readers` (ZTF ``g`` means ``zg``; Gaia's
per-band zero points). A band that cannot be read is recorded with its
reason, never merged with another and never fatal on its own; a star none of
whose bands is usable raises ``BadLightCurve`` naming each band's problem.
"""

from collections.abc import Mapping

import numpy as np

from rnngmm.errors import BadLightCurve, InputError
from rnngmm.io.readers import (BAND_COLUMNS, PLANNERS, _apply_plan,
                               _asassn_rows, _asassn_select, _count, _find_band_column,
                               _gaia_plan, _load_columns, _table_plan, _ztf_options,
                               check_reader_options, reader_bands)


class BandedLightCurve(dict):
    """One object's light curve in several bands: ``{band: (time, mag, err)}``.

    Keys are the band names as asked for (``--band g r``), in that order,
    and only the bands that were read; each value is as stored (unsorted,
    uncleaned) like :func:`read_lightcurve`'s. A band may hold no points
    (every row dropped); cleaning decides what is too few.

    Attributes
    ----------
    missing : dict
        ``{band: reason}`` of the asked-for bands that could not be read
        (no file, no rows of that band, unreadable file ...).
    dropped : dict
        ``{band: {reason: rows}}`` of the rows each band's reader dropped
        (non-detections, flagged or non-positive fluxes ...; in a per-band
        file also ``"other band"``: rows of another band).
    """

    def __init__(self, items=(), missing=None, dropped=None):
        super().__init__(items)
        self.missing = dict(missing or {})
        self.dropped = dict(dropped or {})

    def __repr__(self):
        read = ", ".join(f"{band}: {len(value[0])} points" for band, value in self.items())
        return f"BandedLightCurve({{{read}}}, missing={self.missing!r})"


def no_band_reason(missing):
    """Why no band of an object could be read, naming each band's problem.

    Bands with the same problem are named together:
    ``no band usable (g: light-curve file not found (x_g.tbl); r: empty table)``.
    """
    groups = {}
    for band, reason in missing.items():
        groups.setdefault(reason, []).append(str(band))
    parts = [f"{', '.join(bands)}: {reason}" for reason, bands in groups.items()]
    return f"no band usable ({'; '.join(parts)})"


def _band_options(format, options):
    """``{band: reader options of that band alone}`` of checked ``options``, in order.

    Each band gets the single-band option (``band``; asassn: ``filter``) and
    its zero point (one value for every band, or its own).
    """
    bands = reader_bands(options)
    if not bands:
        raise InputError(f"--format {format}: no band given to read")
    zero_point = options.get("zero_point")
    base = {k: v for k, v in options.items()
            if k not in ("band", "bands", "filter", "zero_point")}
    per_band = {}
    for k, band in enumerate(bands):
        band_options = dict(base)
        band_options["filter" if format == "asassn" else "band"] = band
        if zero_point is not None:
            band_options["zero_point"] = (zero_point[k] if isinstance(zero_point, tuple)
                                          else zero_point)
        per_band[band] = band_options
    return per_band


def _band_column(format, names, options):
    """The band column a ``format`` reader would use in a table with ``names``
    (None when the table has none)."""
    if options.get("band_col"):
        return options["band_col"]
    if format == "ztf":
        return "filtercode" if "filtercode" in names else None
    if format == "gaia":
        return "band" if "band" in names and "time" in names else None
    return _find_band_column(names)


def _band_plans(format, names, per_band):
    """``(plans, errors)``: the read plan of each band of a table holding several
    bands, and ``{band: reason}`` of the bands that cannot be planned.

    Raises
    ------
    BadLightCurve
        When no band can be planned (a table without a band column, a
        missing time column ...).
    """
    bands = list(per_band)
    first = per_band[bands[0]]
    if format == "table" and _band_column(format, names, first) is None:
        raise BadLightCurve(f"--band {' '.join(bands)} given but the table has no band "
                            f"column (looked for {', '.join(BAND_COLUMNS)}; name it with "
                            "--band_col)")
    plans, errors = {}, {}
    for band, band_options in per_band.items():
        try:
            plans[band] = PLANNERS[format](names, **band_options)
        except BadLightCurve as exc:
            errors[band] = exc.reason
    if not plans:
        reasons = set(errors.values())
        raise BadLightCurve(reasons.pop() if len(reasons) == 1 else no_band_reason(errors))
    return plans, errors


def _apply_band_plans(columns, bands, plans, errors, counts=None):
    """BandedLightCurve of one object's rows in ``columns`` (a table of several bands).

    Rows of none of ``bands`` are added to ``counts`` once, as ``"other band"``.
    """
    result = BandedLightCurve()
    matched = None
    for band in bands:
        if band in errors:
            result.missing[band] = errors[band]
            continue
        plan = plans[band]
        band_counts = {}
        try:
            result[band] = _apply_plan(columns, plan, band_counts)
        except BadLightCurve as exc:
            result.missing[band] = exc.reason
        else:
            if plan["band_col"]:
                rows = np.asarray(plan["band_match"](columns.text(plan["band_col"]),
                                                     plan["band"]), bool)
                matched = rows if matched is None else matched | rows
        band_counts.pop("other band", None)  # rows of the other asked-for bands
        _add_band_counts(result, band, band_counts, counts)
    if matched is not None:
        _count(counts, "other band", len(matched) - np.count_nonzero(matched))
    if not result:
        raise BadLightCurve(no_band_reason(result.missing))
    return result


def _add_band_counts(result, band, band_counts, counts):
    if band_counts:
        result.dropped[band] = dict(band_counts)
        for reason, n in band_counts.items():
            _count(counts, reason, n)


def _asassn_no_filter_rows(body, index, band):
    """BadLightCurve reason when no row of ``body`` is of filter ``band``, else None."""
    found = [r[index["filter"]].strip() for r in body]
    if band in found:
        return None
    return (f"no rows of filter {band} (filters found: "
            f"{', '.join(sorted(set(found) - {''})) or 'none'})")


def _read_asassn_bands(source, per_band, counts):
    """BandedLightCurve of an ASAS-SN file holding several filters (parsed once)."""
    body, index = _asassn_rows(source)
    bands = list(per_band)
    if index["filter"] is None:
        raise BadLightCurve(f"filters {', '.join(bands)} requested but the file has no "
                            "filter column")
    result = BandedLightCurve()
    for band in bands:
        reason = _asassn_no_filter_rows(body, index, band)
        if reason:
            result.missing[band] = reason
            continue
        band_counts = {}
        try:
            result[band] = _asassn_select((body, index), band_counts, band)
        except BadLightCurve as exc:  # a non-numeric value in this filter's rows
            result.missing[band] = exc.reason
        band_counts.pop("other filter", None)  # rows of the other asked-for filters
        _add_band_counts(result, band, band_counts, counts)
    _count(counts, "other filter", sum(r[index["filter"]].strip() not in bands for r in body))
    if not result:
        raise BadLightCurve(no_band_reason(result.missing))
    return result


def _read_band_file(path, format, band_options, counts):
    """``(time, mag, err)`` of one band's own file.

    A band column in the file is still checked: its rows of other bands are
    dropped (counted as ``"other band"``/``"other filter"``) and a file with
    no row of the band gives BadLightCurve. Without a band column every row
    is the band's.
    """
    if format == "asassn":
        body, index = _asassn_rows(path)
        band = band_options["filter"] if index["filter"] is not None else None
        reason = band and _asassn_no_filter_rows(body, index, band)
        if reason:
            raise BadLightCurve(reason)
        return _asassn_select((body, index), counts, band)
    columns = _load_columns(path, band_options.get("table_format"))
    if format == "gaia":
        plan = _gaia_plan(columns.names, **band_options)
    else:
        table_options = (_ztf_options(**band_options) if format == "ztf"
                         else dict(band_options))
        if _band_column(format, columns.names, band_options) is None:
            table_options.update(band_col=None, band=None)  # the file is the band
        plan = _table_plan(columns.names, **table_options)
    return _apply_plan(columns, plan, counts)


def _read_band_files(files, format, per_band, counts):
    """BandedLightCurve of per-band files ``{band: path}`` (``files.missing``: reasons)."""
    result = BandedLightCurve()
    missing = getattr(files, "missing", {})
    for band, band_options in per_band.items():
        if band in missing or band not in files:
            result.missing[band] = missing.get(band, "no light-curve file given")
            continue
        band_counts = {}
        try:
            result[band] = _read_band_file(files[band], format, band_options, band_counts)
        except BadLightCurve as exc:
            result.missing[band] = exc.reason
        _add_band_counts(result, band, band_counts, counts)
    if not result:
        raise BadLightCurve(no_band_reason(result.missing))
    return result


def read_lightcurve_bands(source, format, bands, counts=None, **options):
    """Read one object's light curve in several bands.

    Parameters
    ----------
    source : str, Path, file object, or mapping
        One file holding every band (a band column: ZTF ``filtercode``, a
        ``table``'s band column; Gaia flat or RAW epoch photometry; an
        ASAS-SN ``filter`` column), or ``{band: path}`` of one file per band
        (:func:`locate_band_files`; its ``missing`` reasons are kept). A
        band column in a per-band file is still checked.
    format : str
        ``"asassn"``, ``"table"``, ``"ztf"`` or ``"gaia"`` (``"crts"`` files
        hold one band: InputError).
    bands : sequence of str
        Band names in the order wanted (ZTF: ``g`` means ``zg``; Gaia: G, BP,
        RP; ASAS-SN: filters such as V and g).
    counts : dict, optional
        Receives rows dropped per reason, summed over the bands; rows of
        none of ``bands`` in a shared file count once as ``"other band"``
        (asassn: ``"other filter"``).
    **options
        Reader options of ``format`` (see :func:`check_reader_options`);
        ``zero_point`` may hold one value per band (Gaia's default: each
        band's :data:`GAIA_ZERO_POINTS`).

    Returns
    -------
    BandedLightCurve
        ``{band: (time, mag, err)}`` of the bands read, in the order asked
        for; ``.missing`` gives the reasons of the others.

    Raises
    ------
    InputError
        For options that do not fit ``format`` (checked as the flags are).
    BadLightCurve
        When no band can be read (the reason names each band's problem) or
        the shared file cannot be read at all.
    """
    bands = (bands,) if isinstance(bands, str) else tuple(bands)
    if any(key in options for key in ("band", "bands", "filter")):
        raise InputError("read_lightcurve_bands takes the bands as its bands argument, "
                         "not as a band, bands or filter option")
    checked = check_reader_options(format, dict(options, bands=bands))
    per_band = _band_options(format, checked)
    if isinstance(source, Mapping):
        return _read_band_files(source, format, per_band, counts)
    if format == "asassn":
        return _read_asassn_bands(source, per_band, counts)
    columns = _load_columns(source, checked.get("table_format"))
    plans, errors = _band_plans(format, columns.names, per_band)
    return _apply_band_plans(columns, list(per_band), plans, errors, counts)
