"""Anomaly reports: one page per object of a flag table's most anomalous objects.

What an astronomer looks at before writing a follow-up proposal, behind
``rnngmm report``. For each selected object (the ``n`` highest ``energy``
values among the table's scored rows, or ids given by name) a page shows

* the raw light curve (time against magnitude with error bars, magnitudes
  increasing downwards) and the light curve folded at its ``period`` (two
  cycles);
* the decoder's reconstruction, turned back into magnitudes and times or
  phases (:func:`invert_chunk`), over the points it was computed for: the
  raw light curve for runs trained on time lags, the folded one for runs
  trained with ``--period_fold``;
* the class probabilities (``prob_<class>`` columns) as a bar chart;
* the energy, its percentile among the run's training objects and the
  ``anomaly_<p>`` flags;
* the nearest catalog objects in latent space when the table has code
  columns (``rnngmm flag --with_code``), with their predicted classes and
  distances (:mod:`rnngmm.latent`: standardised codes, exact search).

Each light curve is read again from the catalog the table was flagged from
(the sources of :mod:`rnngmm.flagging.sources`) and prepared exactly as
``rnngmm flag`` prepared it (:func:`rnngmm.lightcurves.objects.prepare_object`, then
:func:`rnngmm.lightcurves.objects.object_chunks`). An object whose light curve cannot be
read again, or was never scored, still gets its page, saying why.

Output: a ``.pdf`` output is a multi-page PDF (one object per page) with one
PNG per page next to it (``<stem>_001.png`` ...); a ``.png`` output is one
tall PNG sheet holding every object. Every file is written atomically.
"""

import json
import logging
import os
from dataclasses import dataclass, field

import numpy as np

from rnngmm.errors import BadLightCurve, InputError
from rnngmm.object_table import OK

log = logging.getLogger(__name__)

#: Objects in a report by default.
DEFAULT_N = 20
#: Latent-space neighbours listed per object by default.
DEFAULT_K = 5
#: Size of one object's page (inches) and PNG resolution.
PAGE_SIZE = (13.0, 8.5)
DPI = 100
#: Output suffixes and what they give.
OUTPUT_SUFFIXES = (".pdf", ".png")
#: Table columns never shown as "other columns" on a page.
_SHOWN_ELSEWHERE = ("status", "period", "period_source", "predicted_class",
                    "class_probability", "n_chunks", "energy", "energy_percentile")


# ---------------------------------------------------------------------------
# Reconstruction: network space -> magnitudes and times/phases
# ---------------------------------------------------------------------------

@dataclass
class ChunkPoints:
    """One chunk's points back in the units of the light curve.

    Attributes
    ----------
    position : ndarray of float64, shape (n,)
        Epoch (days) of each real point, or its phase in [0, 1) for a
        phase-folded chunk.
    mag : ndarray of float64, shape (n,)
        The chunk's input magnitudes.
    reconstruction : ndarray of float64, shape (n,) or None
        The decoder's reconstruction in magnitudes, when one was given.
    """

    position: np.ndarray
    mag: np.ndarray
    reconstruction: np.ndarray = None


def invert_chunk(x, weights, supports, origin=0.0, reconstruction=None):
    """Undo :func:`rnngmm.lightcurves.preprocess.standardise_chunk` for one chunk.

    ``standardise_chunk`` stores per step the lag since the previous point
    (0 for the first) and ``(mag - mean) / std``, right-padded with zero
    weights; ``supports`` holds ``[mean, std, log10 period]``. Inverting
    needs the position of the chunk's first point (``origin``), which the
    chunk itself does not keep.

    Parameters
    ----------
    x : array_like, shape (n_max, 2)
        ``[lag, standardised magnitude]`` per step.
    weights : array_like, shape (n_max,)
        Zero on padding steps.
    supports : array_like, shape (3,)
        ``[mean mag, mag std, log10 period]``.
    origin : float
        Epoch (days) or phase of the chunk's first point.
    reconstruction : array_like, shape (n_max,), optional
        The decoder's output for the chunk (standardised magnitudes).

    Returns
    -------
    ChunkPoints
        Positions and magnitudes of the chunk's real points, in chunk order
        (accurate to the float32 precision of the lags and magnitudes).
    """
    x = np.asarray(x)
    valid = np.asarray(weights) > 0
    mean, std = (float(v) for v in np.asarray(supports, np.float64)[:2])
    lags = np.asarray(x[valid, 0], np.float64)
    position = float(origin) + np.cumsum(lags)  # the first lag is 0
    mag = np.asarray(x[valid, 1], np.float64) * std + mean
    rebuilt = None
    if reconstruction is not None:
        rebuilt = np.asarray(reconstruction, np.float64)[valid] * std + mean
    return ChunkPoints(position, mag, rebuilt)


def chunk_layout(time, period, chunking):
    """What :func:`rnngmm.lightcurves.preprocess.make_chunks` cuts, in the order it cuts it
    (:func:`rnngmm.lightcurves.preprocess.chunk_layout` for a run's chunking).

    Parameters
    ----------
    time : ndarray of float64
        A prepared object's sorted epochs.
    period : float
    chunking : rnngmm.lightcurves.objects.Chunking

    Returns
    -------
    positions : ndarray of float64
        Epochs, or phases (sorted) when ``chunking.period_fold``.
    order : ndarray of int
        Index into ``time`` of each position.
    bounds : list of (int, int)
        ``[start, stop)`` of each chunk in ``positions``.
    """
    from rnngmm.lightcurves.preprocess import chunk_layout as layout
    return layout(time, period, n_min=chunking.n_min, n_max=chunking.n_max,
                  period_fold=chunking.period_fold)


def reconstruct_object(model, time, mag, err, period, chunking):
    """The decoder's reconstruction of a prepared object, chunk by chunk.

    Parameters
    ----------
    model : keras.Model
        A run's model (``run.model``).
    time, mag, err : ndarray
        A prepared object's photometry (:func:`rnngmm.lightcurves.objects.prepare_object`).
    period : float
    chunking : rnngmm.lightcurves.objects.Chunking

    Returns
    -------
    list of ChunkPoints
        One per chunk, positions in days (or phases for a folding run).
    """
    from rnngmm.lightcurves.objects import object_chunks
    chunks = object_chunks(time, mag, err, period, chunking)
    outputs = model({"x": chunks.x, "weights": chunks.weights, "supports": chunks.supports},
                    training=False)
    rebuilt = np.asarray(outputs["reconstruction"], np.float64)
    positions, _, bounds = chunk_layout(time, period, chunking)
    return [invert_chunk(chunks.x[c], chunks.weights[c], chunks.supports[c],
                         origin=positions[start], reconstruction=rebuilt[c])
            for c, (start, _) in enumerate(bounds)]


# ---------------------------------------------------------------------------
# The flag table
# ---------------------------------------------------------------------------

def _meta_lookup(meta):
    """Case-insensitive view of a table's metadata (FITS upper-cases keys, CSV
    keeps them as ``key: value`` comment lines)."""
    found = {}
    for line in meta.get("comments", []) or []:
        key, sep, value = str(line).partition(": ")
        if sep:
            found[key.strip().lower()] = value
    for key, value in meta.items():
        found[str(key).lower()] = value
    return found


def table_meta(table, key, default=None):
    """A flag table's metadata entry ``key``, whatever format the table came in.

    JSON text (FITS headers and CSV comments hold lists and dicts as JSON)
    is decoded; ``default`` when the table lacks the entry.
    """
    value = _meta_lookup(table.meta).get(key.lower(), default)
    if isinstance(value, str) and value[:1] in "[{\"" and value:
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def table_id_column(table, id_col=None):
    """The table's id column: ``id_col`` or its first column (as flag writes it)."""
    id_col = id_col or table.colnames[0]
    if id_col not in table.colnames:
        raise InputError(f"the table has no id column {id_col!r} (columns: "
                         f"{', '.join(table.colnames[:8])}, ...)")
    return id_col


def class_names_of(table):
    """Classes of the table's ``prob_<class>`` columns, in the run's order."""
    names = table_meta(table, "class_names")
    if isinstance(names, (list, tuple)) and all(f"prob_{n}" in table.colnames for n in names):
        return [str(n) for n in names]
    return [c[len("prob_"):] for c in table.colnames if c.startswith("prob_")]


def _column_values(table, name, kind=float):
    if kind is float:
        return np.ma.filled(np.ma.asarray(table[name]).astype(np.float64), np.nan)
    return np.asarray(table[name]).astype(str)


def select_rows(table, *, n=DEFAULT_N, ids=None, id_col=None):
    """Rows of the objects to report on.

    Parameters
    ----------
    table : astropy.table.Table
        A flag table (``status`` and ``energy`` columns).
    n : int
        Without ``ids``: the ``n`` scored rows of highest energy (a repeated
        id counts once).
    ids : sequence of str, optional
        Report these objects, in this order (a repeated id: its first scored
        row, else its first row).
    id_col : str, optional
        Id column (default: the first column).

    Returns
    -------
    list of int
        Table rows, highest energy first without ``ids``.

    Raises
    ------
    InputError
        Without the needed columns, for ``n < 1``, or naming ids the table
        does not have.
    """
    id_col = table_id_column(table, id_col)
    missing = [c for c in ("status", "energy") if c not in table.colnames]
    if missing:
        raise InputError(f"the table has no {' or '.join(missing)} column: give a table "
                         "written by 'rnngmm flag' (or 'rnngmm embed')")
    all_ids = _column_values(table, id_col, str)
    ok = (_column_values(table, "status", str) == OK)
    energy = _column_values(table, "energy")
    if ids:
        unknown = [i for i in ids if i not in set(all_ids)]
        if unknown:
            raise InputError(f"{len(unknown)} id(s) not in the table: "
                             f"{', '.join(map(repr, unknown[:10]))}"
                             f"{' ...' if len(unknown) > 10 else ''}")
        rows = []
        for object_id in ids:
            hits = np.flatnonzero(all_ids == object_id)
            scored = hits[ok[hits]]
            rows.append(int(scored[0] if len(scored) else hits[0]))
        return rows
    if n is None or int(n) < 1:
        raise InputError(f"--n must be at least 1, got {n}")
    candidates = np.flatnonzero(ok & np.isfinite(energy))
    if not len(candidates):
        raise InputError("no object of the table was scored (no row with status 'ok')")
    candidates = candidates[np.argsort(-energy[candidates], kind="stable")]
    rows, seen = [], set()
    for row in candidates:
        if all_ids[row] in seen:
            continue
        seen.add(all_ids[row])
        rows.append(int(row))
        if len(rows) == int(n):
            break
    return rows


@dataclass
class Neighbour:
    """One latent-space neighbour of a reported object."""

    object_id: str
    predicted_class: str
    distance: float
    energy_percentile: float


def neighbours_of(table, rows, k=DEFAULT_K, id_col=None):
    """The ``k`` nearest other catalog objects of each row, in latent space.

    Parameters
    ----------
    table : astropy.table.Table
    rows : sequence of int
    k : int
    id_col : str, optional

    Returns
    -------
    dict
        Row -> list of :class:`Neighbour` (nearest first), or -> a string
        saying why there is none (no code columns, the row has no code).
    """
    from rnngmm import latent
    id_col = table_id_column(table, id_col)
    try:
        catalog = latent.catalog_codes(table, id_col)
    except InputError as exc:
        return {int(row): str(exc) for row in rows}
    mean, scale = latent.fit_standardiser(catalog.codes)
    reference = latent.standardise(catalog.codes, mean, scale)
    where = {int(r): i for i, r in enumerate(catalog.rows)}
    ids = catalog.ids
    classes = (_column_values(table, "predicted_class", str)
               if "predicted_class" in table.colnames else np.full(len(table), ""))
    percentile = (_column_values(table, "energy_percentile")
                  if "energy_percentile" in table.colnames else np.full(len(table), np.nan))
    all_ids = _column_values(table, id_col, str)
    by_id = {object_id: j for j, object_id in enumerate(ids)}
    result, queries = {}, {}
    for row in rows:
        row = int(row)
        own = where.get(row)
        if own is None:  # a repeated id's later row: use the id's scored row
            own = by_id.get(all_ids[row])
        if own is None:
            result[row] = "no latent code (the object was not scored)"
        elif len(catalog) < 2:
            result[row] = "no other object of the table has a code"
        else:
            queries[row] = own
    if not queries:
        return result
    own_rows = list(queries.values())
    distances, indices = latent.nearest_neighbours(  # one search for every object
        reference, reference[own_rows], min(int(k) + 1, len(catalog)), self_rows=own_rows)
    for q, row in enumerate(queries):
        found = []
        for d, i in zip(distances[q][1:], indices[q][1:]):  # [0] is the object itself
            source_row = int(catalog.rows[i])
            found.append(Neighbour(str(ids[i]), str(classes[source_row]), float(d),
                                   float(percentile[source_row])))
        result[row] = found[:int(k)]
    return result


# ---------------------------------------------------------------------------
# One object's page data
# ---------------------------------------------------------------------------

@dataclass
class ReportObject:
    """Everything a page shows about one object.

    Attributes
    ----------
    object_id : str
    row : int
        Row in the flag table.
    values : dict
        The table row (column -> value).
    time, mag, err : ndarray or None
        The light curve as flag prepared it; None when it could not be read.
    period : float
        Period used (the re-derived one, else the table's).
    reconstruction : list of ChunkPoints or None
    folded_model : bool
        The run reads phase-folded chunks.
    problem : str or None
        Why there is no light curve on the page.
    notes : list of str
        Caveats shown on the page.
    neighbours : list of Neighbour or str
        The neighbours, or why there are none.
    """

    object_id: str
    row: int
    values: dict
    time: np.ndarray = None
    mag: np.ndarray = None
    err: np.ndarray = None
    period: float = np.nan
    reconstruction: list = None
    folded_model: bool = False
    problem: str = None
    notes: list = field(default_factory=list)
    neighbours: object = None


def _row_values(table, row):
    values = {}
    for name in table.colnames:
        value = table[name][row]
        if np.ma.is_masked(value):
            value = None
        elif isinstance(value, bytes):
            value = value.decode()
        elif isinstance(value, np.generic):
            value = value.item()
        values[name] = value
    return values


def load_object(obj, record, run, preprocessing, chunking):
    """Fill ``obj`` with the light curve ``record`` and its reconstruction.

    Parameters
    ----------
    obj : ReportObject
    record : rnngmm.flagging.sources.ObjectRecord or str
        As a source's ``iter_records`` yields it (a string says why the
        light curve could not be read).
    run : rnngmm.rundir.LoadedRun
    preprocessing : rnngmm.lightcurves.objects.Preprocessing
    chunking : rnngmm.lightcurves.objects.Chunking

    Returns
    -------
    ReportObject
        ``obj``, with ``problem`` set instead of raising for this object.
    """
    from rnngmm.flagging.stream import describe_failure
    from rnngmm.lightcurves.objects import prepare_object
    obj.folded_model = bool(chunking.period_fold)
    if isinstance(record, str):
        obj.problem = f"light curve could not be read again: {record}"
        return obj
    try:
        if record.prepared:
            time, mag, err, period = record.time, record.mag, record.err, record.period
        else:
            prepared = prepare_object(record.time, record.mag, record.err, record.period,
                                      preprocessing, catalog_source=record.period_source)
            time, mag, err, period = (prepared.time, prepared.mag, prepared.err,
                                      prepared.period)
    except Exception as exc:  # noqa: BLE001 - one object's problem, never the report's
        obj.problem = f"light curve could not be prepared again: {describe_failure(exc)}"
        return obj
    obj.time, obj.mag, obj.err = (np.asarray(a, np.float64) for a in (time, mag, err))
    obj.period = float(period)
    table_period = obj.values.get("period")
    if (table_period is not None and np.isfinite(table_period)
            and not np.isclose(obj.period, table_period, rtol=1e-6, atol=0.0)):
        obj.notes.append(f"period found again ({obj.period:.6g} d) differs from the "
                         f"table's ({table_period:.6g} d): other inputs or settings?")
    try:
        obj.reconstruction = reconstruct_object(run.model, obj.time, obj.mag, obj.err,
                                                obj.period, chunking)
    except Exception as exc:  # noqa: BLE001
        obj.notes.append(f"no reconstruction: {describe_failure(exc)}")
    return obj


def _source_rows(source, table, rows, id_col):
    """Source row of each table row (the same row when the table came from this
    catalog, else the first source row of the id), or None."""
    ids = _column_values(table, id_col, str)
    source_ids = np.asarray(source.ids).astype(str)
    first = {}
    for i, object_id in enumerate(source_ids):
        first.setdefault(object_id, i)
    same = len(source_ids) == len(table)
    out = {}
    for row in rows:
        if same and source_ids[row] == ids[row]:
            out[row] = int(row)
        else:
            out[row] = first.get(ids[row])
    return out


def collect_objects(table, rows, run, *, source=None, preprocessing=None, k=DEFAULT_K,
                    id_col=None, source_problem=None):
    """The :class:`ReportObject` of each table row.

    Parameters
    ----------
    table : astropy.table.Table
    rows : sequence of int
    run : rnngmm.rundir.LoadedRun
    source : CatalogSource or DatasetSource, optional
        Where the light curves are read again; None: pages without them.
    preprocessing : rnngmm.lightcurves.objects.Preprocessing, optional
        Default: the run's.
    k : int
        Neighbours per object.
    id_col : str, optional
    source_problem : str, optional
        Why there is no source (shown on every page).

    Returns
    -------
    list of ReportObject
    """
    id_col = table_id_column(table, id_col)
    preprocessing = preprocessing or run.preprocessing
    ids = _column_values(table, id_col, str)
    status = _column_values(table, "status", str)
    neighbours = neighbours_of(table, rows, k, id_col) if k > 0 else {}
    objects = {}
    for row in rows:
        obj = ReportObject(str(ids[row]), int(row), _row_values(table, row))
        obj.period = float(obj.values.get("period") or np.nan)
        obj.neighbours = neighbours.get(int(row))
        if status[row] != OK:
            obj.notes.append(f"not scored by flag: {status[row]}")
        objects[int(row)] = obj
    if source is None:
        for obj in objects.values():
            obj.problem = source_problem or "no light-curve source given"
        return [objects[int(r)] for r in rows]
    where = _source_rows(source, table, rows, id_col)
    wanted = {}
    for row in rows:
        if where[row] is None:
            objects[int(row)].problem = (f"id {ids[row]!r} is not in the light-curve "
                                         "source given")
        else:
            wanted.setdefault(where[row], []).append(int(row))
    try:
        for source_row, record in source.iter_records(sorted(wanted)):
            for row in wanted[int(source_row)]:
                load_object(objects[row], record, run, preprocessing, run.chunking)
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - e.g. a light-curve table that cannot be read
        from rnngmm.flagging.stream import describe_failure
        for row in (r for rs in wanted.values() for r in rs):
            if objects[row].time is None and objects[row].problem is None:
                objects[row].problem = (f"light curve could not be read again: "
                                        f"{describe_failure(exc)}")
    return [objects[int(r)] for r in rows]


# ---------------------------------------------------------------------------
# Drawing
# ---------------------------------------------------------------------------

def _fmt(value, spec=".4g"):
    if value is None:
        return "n/a"
    if isinstance(value, float) and not np.isfinite(value):
        return "n/a"
    try:
        return format(value, spec)
    except (TypeError, ValueError):
        return str(value)


def _message(ax, text, title=None):
    import textwrap
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=10)
    ax.text(0.5, 0.5, textwrap.fill(text, 60), ha="center", va="center", fontsize=9,
            color="0.25", transform=ax.transAxes, wrap=True)


def _draw_raw(ax, obj):
    ax.errorbar(obj.time, obj.mag, yerr=obj.err, fmt=".", ms=3, color="0.2", ecolor="0.7",
                elinewidth=0.6, label=f"{len(obj.time)} points")
    if obj.reconstruction and not obj.folded_model:  # computed on these points
        first = True
        for chunk in obj.reconstruction:
            if chunk.reconstruction is not None:
                ax.plot(chunk.position, chunk.reconstruction, "o", ms=3.5, mfc="none",
                        mew=0.8, color="tab:red", alpha=0.9, zorder=3,
                        label="decoder reconstruction" if first else None)
                first = False
    ax.invert_yaxis()
    ax.ticklabel_format(axis="x", style="plain", useOffset=False)
    ax.set_xlabel("time (d)")
    ax.set_ylabel("magnitude")
    ax.set_title("light curve", fontsize=10)
    ax.legend(fontsize=7, loc="best")


def _draw_folded(ax, obj):
    from rnngmm.lightcurves.preprocess import phase_fold
    period = obj.period
    if not (np.isfinite(period) and period > 0):
        _message(ax, "no period", "phase-folded light curve")
        return
    phase = phase_fold(obj.time, period)
    for shift in (0.0, 1.0):
        ax.errorbar(phase + shift, obj.mag, yerr=obj.err, fmt=".", ms=3, color="0.2",
                    ecolor="0.7", elinewidth=0.6)
    first = True
    for chunk in obj.reconstruction or []:
        if chunk.reconstruction is None:
            continue
        label = "decoder reconstruction" if first else None
        if obj.folded_model:  # computed on phases: a curve per chunk
            for shift in (0.0, 1.0):
                ax.plot(chunk.position + shift, chunk.reconstruction, "-", color="tab:red",
                        lw=1.2, alpha=0.8, zorder=3, label=label if shift == 0 else None)
        else:  # computed on times: its points at their phases
            where = phase_fold(chunk.position, period, epoch=obj.time[0])
            for shift in (0.0, 1.0):
                ax.plot(where + shift, chunk.reconstruction, "o", ms=3.5, mfc="none",
                        mew=0.8, color="tab:red", alpha=0.9, zorder=3,
                        label=label if shift == 0 else None)
        first = False
    ax.set_xlim(0.0, 2.0)
    ax.invert_yaxis()
    ax.set_xlabel(f"phase (P = {period:.6g} d, two cycles)")
    ax.set_ylabel("magnitude")
    ax.set_title("phase-folded light curve", fontsize=10)
    if not first:
        ax.legend(fontsize=7, loc="best")


def _draw_probabilities(ax, obj, class_names):
    values = [obj.values.get(f"prob_{c}") for c in class_names]
    values = [float(v) if v is not None else np.nan for v in values]
    if not class_names or not np.isfinite(values).any():
        _message(ax, "no class probabilities (the object was not scored)",
                 "class probabilities")
        return
    predicted = str(obj.values.get("predicted_class") or "")
    colours = ["tab:red" if c == predicted else "tab:blue" for c in class_names]
    y = np.arange(len(class_names))
    ax.barh(y, np.nan_to_num(values), color=colours)
    ax.set_yticks(y, class_names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0.0, 1.0)
    ax.set_xlabel("probability")
    ax.set_title("class probabilities", fontsize=10)


def _info_lines(obj, info):
    v = obj.values
    lines = [f"id         {obj.object_id}", f"status     {v.get('status', 'n/a')}"]
    if v.get("predicted_class"):
        lines.append(f"class      {v['predicted_class']} "
                     f"(p = {_fmt(v.get('class_probability'), '.3f')})")
    lines.append(f"energy     {_fmt(v.get('energy'))}")
    lines.append(f"percentile {_fmt(v.get('energy_percentile'), '.2f')} "
                 "(% of training objects lower)")
    for name, threshold in info["flags"]:
        flag = v.get(name)
        mark = "n/a" if flag is None else ("YES" if flag in (True, "True") else "no")
        limit = f" (energy > {_fmt(threshold)})" if threshold is not None else ""
        lines.append(f"{name:<11}{mark}{limit}")
    lines.append(f"period     {_fmt(obj.period, '.6g')} d ({v.get('period_source') or 'n/a'})")
    if obj.time is not None:
        lines.append(f"points     {len(obj.time)} cleaned, "
                     f"{len(obj.reconstruction or [])} chunk(s)")
    elif v.get("n_chunks") is not None:
        lines.append(f"chunks     {v.get('n_chunks')}")
    for name in info["other"]:
        value = v.get(name)
        shown = _fmt(value) if value is None or isinstance(value, float) else value
        lines.append(f"{name[:10]:<11}{shown}")
    return lines


def _draw_info(ax, obj, info):
    import textwrap
    ax.set_axis_off()
    ax.set_title("energy and flags", fontsize=10)
    lines = _info_lines(obj, info)
    for note in ([obj.problem] if obj.problem else []) + obj.notes:
        lines.extend(textwrap.wrap(f"! {note}", 52))
    ax.text(0.0, 1.0, "\n".join(lines), ha="left", va="top", family="monospace",
            fontsize=7.5, transform=ax.transAxes)


def _draw_neighbours(ax, obj):
    import textwrap
    ax.set_axis_off()
    ax.set_title("nearest catalog objects (latent code)", fontsize=10)
    if not isinstance(obj.neighbours, list):
        text = obj.neighbours or "neighbours not asked for"
        ax.text(0.0, 1.0, "\n".join(textwrap.wrap(text, 50)), ha="left", va="top",
                fontsize=7.5, transform=ax.transAxes, color="0.3")
        return
    lines = [f"{'':2}{'id':<16} {'class':<8} {'distance':>8} {'pct':>6}"]
    for rank, n in enumerate(obj.neighbours, 1):
        lines.append(f"{rank:<2}{n.object_id[:16]:<16} {n.predicted_class[:8]:<8} "
                     f"{n.distance:8.3f} {_fmt(n.energy_percentile, '6.1f')}")
    lines.append("")
    lines.append("distance: Euclidean, code components")
    lines.append("standardised over the table's scored")
    lines.append("objects; pct: energy percentile")
    ax.text(0.0, 1.0, "\n".join(lines), ha="left", va="top", family="monospace",
            fontsize=7.5, transform=ax.transAxes)


def page_title(obj, position, total):
    """Title of an object's page: rank, id, class and energy."""
    v = obj.values
    parts = [f"{position}/{total}  {obj.object_id}"]
    if v.get("predicted_class"):
        parts.append(f"predicted {v['predicted_class']}")
    if v.get("energy") is not None and np.isfinite(v.get("energy")):
        parts.append(f"energy {_fmt(v['energy'])} (percentile "
                     f"{_fmt(v.get('energy_percentile'), '.1f')})")
    return "   ".join(parts)


def draw_object(fig, obj, class_names, info, title):
    """Draw one object's panels on ``fig`` (a Figure or a SubFigure)."""
    fig.suptitle(title, fontsize=12, ha="left", x=0.01)
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.15, 1.0])
    ax_raw, ax_fold = top.subplots(1, 2)
    ax_prob, ax_info, ax_near = bottom.subplots(1, 3, width_ratios=[1.0, 1.25, 1.1])
    if obj.time is None:
        _message(ax_raw, obj.problem or "no light curve", "light curve")
        _message(ax_fold, obj.problem or "no light curve", "phase-folded light curve")
    else:
        _draw_raw(ax_raw, obj)
        _draw_folded(ax_fold, obj)
    _draw_probabilities(ax_prob, obj, class_names)
    _draw_info(ax_info, obj, info)
    _draw_neighbours(ax_near, obj)


def _failed_page(fig, obj, title, exc):
    fig.suptitle(title, fontsize=12, ha="left", x=0.01)
    ax = fig.add_subplot(1, 1, 1)
    _message(ax, f"this page could not be drawn: {type(exc).__name__}: {exc}")


def table_info(table, id_col=None):
    """What every page shows of the table as a whole: flag columns, thresholds and
    the other (pass-through) columns."""
    from rnngmm.latent import CODE_COLUMN
    flags = [(name, table_meta(table, f"threshold_{name[len('anomaly_'):]}"))
             for name in table.colnames if name.startswith("anomaly_")]
    id_col = table_id_column(table, id_col)
    other = [name for name in table.colnames
             if name not in _SHOWN_ELSEWHERE and name != id_col
             and not name.startswith(("prob_", "anomaly_")) and not CODE_COLUMN.match(name)]
    return {"flags": flags, "other": other[:6]}


def _page(obj, position, total, class_names, info, figure=None):
    """A figure (or ``figure``, a SubFigure) holding one object's page."""
    from rnngmm.scoring.plots import plt
    fig = figure if figure is not None else plt.figure(figsize=PAGE_SIZE,
                                                      layout="constrained")
    title = page_title(obj, position, total)
    try:
        draw_object(fig, obj, class_names, info, title)
    except Exception as exc:  # noqa: BLE001 - one object's page, never the report
        log.warning(f"report: page of {obj.object_id!r} could not be drawn: {exc}")
        if figure is None:
            plt.close(fig)
            fig = plt.figure(figsize=PAGE_SIZE, layout="constrained")
        else:
            fig.clear()
        _failed_page(fig, obj, title, exc)
    return fig


def png_page_path(output, position):
    """Path of page ``position`` (from 1) next to a PDF report: ``<stem>_001.png``."""
    stem = os.path.splitext(os.fspath(output))[0]
    return f"{stem}_{position:03d}.png"


def write_report(objects, output, class_names, info):
    """Write the report of ``objects`` (atomically).

    Parameters
    ----------
    objects : list of ReportObject
    output : str
        ``.pdf``: one page per object plus ``<stem>_NNN.png`` per page;
        ``.png``: one sheet with every object.
    class_names : list of str
    info : dict
        :func:`table_info` of the table.

    Returns
    -------
    list of str
        Paths written (the PDF first).
    """
    from matplotlib.backends.backend_pdf import PdfPages

    from rnngmm.io.atomic import atomic_path
    from rnngmm.scoring.plots import plt
    output = os.fspath(output)
    total = len(objects)
    if output.lower().endswith(".png"):
        fig = plt.figure(figsize=(PAGE_SIZE[0], PAGE_SIZE[1] * total), layout="constrained")
        subs = fig.subfigures(total, 1) if total > 1 else [fig.subfigures(1, 1)]
        for position, (obj, sub) in enumerate(zip(objects, np.ravel(subs)), 1):
            _page(obj, position, total, class_names, info, figure=sub)
        with atomic_path(output) as tmp:
            fig.savefig(tmp, format="png", dpi=DPI)
        plt.close(fig)
        return [output]
    paths = []
    with atomic_path(output) as tmp_pdf:
        with PdfPages(tmp_pdf, metadata={"Title": "rnngmm anomaly report"}) as pdf:
            for position, obj in enumerate(objects, 1):
                fig = _page(obj, position, total, class_names, info)
                pdf.savefig(fig)
                png = png_page_path(output, position)
                with atomic_path(png) as tmp:
                    fig.savefig(tmp, format="png", dpi=DPI)
                paths.append(png)
                plt.close(fig)
    return [output, *paths]


# ---------------------------------------------------------------------------
# The whole job
# ---------------------------------------------------------------------------

#: Fields of FlagConfig that describe where light curves come from.
SOURCE_FIELDS = ("catalog", "lightcurves", "data", "format", "catalog_format", "template",
                 "id_col", "period_col", "time_col", "mag_col", "err_col", "lc_id_col",
                 "filter", "band_col", "band", "flux_col", "flux_err_col", "zero_point")


@dataclass
class ReportConfig:
    """Settings of ``rnngmm report`` (see ``rnngmm report --help`` for each).

    Light curves are read again from ``catalog`` + ``lightcurves`` or from
    ``data``, with the flags ``rnngmm flag`` takes; when none of the three is
    given, from the inputs the table records (when they still exist).
    """

    table: str
    output: str = "report.pdf"
    run_dir: str = None
    n: int = DEFAULT_N
    ids: tuple = ()
    k: int = DEFAULT_K
    table_id_col: str = None
    catalog: str = None
    lightcurves: str = None
    data: str = None
    format: str = "asassn"
    catalog_format: str = None
    template: str = None
    id_col: str = "id"
    period_col: str = None
    time_col: str = None
    mag_col: str = None
    err_col: str = None
    lc_id_col: str = None
    filter: str = None
    band_col: str = None
    band: str = None
    flux_col: str = None
    flux_err_col: str = None
    zero_point: float = None

    def validate(self):
        """Check the settings that need no file read; raise InputError for the first."""
        if not os.path.isfile(self.table):
            raise InputError(f"table {self.table!r} does not exist")
        suffix = os.path.splitext(self.output)[1].lower()
        if suffix not in OUTPUT_SUFFIXES:
            raise InputError(f"--output must end in .pdf or .png, got {self.output!r}")
        out_dir = os.path.dirname(os.path.abspath(self.output))
        if not os.path.isdir(out_dir):
            raise InputError(f"output directory {out_dir!r} does not exist")
        if not os.access(out_dir, os.W_OK):
            raise InputError(f"output directory {out_dir!r} is not writable")
        if not self.ids and int(self.n) < 1:
            raise InputError(f"--n must be at least 1, got {self.n}")
        if int(self.k) < 0:
            raise InputError(f"--k must be 0 or more, got {self.k}")
        if self.data is not None and (self.catalog or self.lightcurves):
            raise InputError("give either --data or --catalog/--lightcurves, not both")
        if self.data is None and bool(self.catalog) != bool(self.lightcurves):
            raise InputError("give both --catalog and --lightcurves (or --data)")
        if self.filter and self.format != "asassn":
            raise InputError("--filter only applies to --format asassn")
        return self

    def flag_config(self, run_dir):
        """The :class:`~rnngmm.flagging.job.FlagConfig` of the light-curve source."""
        from rnngmm.flagging.job import FlagConfig
        return FlagConfig(run_dir=run_dir, output=self.output,
                          **{name: getattr(self, name) for name in SOURCE_FIELDS})


def recorded_source(table, config):
    """A copy of ``config`` reading light curves where the table says flag read them,
    or None when the table records no usable inputs."""
    from dataclasses import replace
    inputs = table_meta(table, "inputs")
    if isinstance(inputs, str):
        try:
            inputs = json.loads(inputs)
        except ValueError:
            inputs = None
    if not isinstance(inputs, dict):
        return None
    if inputs.get("data") and os.path.isfile(inputs["data"]):
        return replace(config, data=inputs["data"])
    if not (inputs.get("catalog") and inputs.get("lightcurves")
            and os.path.isfile(inputs["catalog"]) and os.path.exists(inputs["lightcurves"])):
        return None
    values = {"catalog": inputs["catalog"], "lightcurves": inputs["lightcurves"]}
    for name in ("format", "template", "id_col", "period_col"):
        if inputs.get(name):
            values[name] = inputs[name]
    for name, value in (inputs.get("reader_options") or {}).items():
        if name in SOURCE_FIELDS:
            values[name] = value
    return replace(config, **values)


def open_source(config, run_dir):
    """The light-curve source of ``config`` (see :func:`rnngmm.flagging.job.build_source`).

    Raises
    ------
    InputError
        For files that do not exist or flags that do not fit the format.
    """
    from rnngmm.flagging.job import build_source
    from rnngmm.io.readers import check_reader_options
    flag_config = config.flag_config(run_dir)
    if flag_config.data is not None:
        if not os.path.isfile(flag_config.data):
            raise InputError(f"dataset {flag_config.data!r} does not exist")
    else:
        if not os.path.isfile(flag_config.catalog):
            raise InputError(f"catalog {flag_config.catalog!r} does not exist")
        if not os.path.exists(flag_config.lightcurves):
            raise InputError(f"light curves {flag_config.lightcurves!r} do not exist")
        check_reader_options(flag_config.format, flag_config.reader_options())
    return build_source(flag_config)


def run_report(config):
    """Write the anomaly report ``config`` describes (one process; rank 0).

    Returns
    -------
    list of str
        Paths written.
    """
    from rnngmm.latent import read_code_table
    from rnngmm.lightcurves.objects import Preprocessing
    from rnngmm.rundir import load_run
    config.validate()
    table = read_code_table(config.table)
    rows = select_rows(table, n=config.n, ids=list(config.ids), id_col=config.table_id_col)
    run_dir = config.run_dir or table_meta(table, "run_dir")
    if not run_dir:
        raise InputError("--run_dir is required: the table records no run_dir")
    run = load_run(run_dir)
    recorded_id = table_meta(table, "run_id")
    if recorded_id not in (None, run.run_id):
        log.warning(f"report: the table was written by run {recorded_id!r}, the "
                    f"reconstructions come from {run.run_id!r}")
    recorded = table_meta(table, "preprocessing")
    preprocessing = (Preprocessing.from_dict(recorded) if isinstance(recorded, dict)
                     else run.preprocessing)
    source, source_problem = None, None
    if config.catalog or config.data:
        source = open_source(config, run_dir)
    else:
        replayed = recorded_source(table, config)
        if replayed is None:
            source_problem = ("no light-curve source: give --catalog and --lightcurves "
                              "(or --data) as for 'rnngmm flag'")
            log.warning(f"report: {source_problem}")
        else:
            try:
                source = open_source(replayed, run_dir)
                log.info("report: reading light curves from the inputs the table records")
            except InputError as exc:
                source_problem = f"the light-curve source the table records: {exc}"
                log.warning(f"report: {source_problem}")
    try:
        objects = collect_objects(table, rows, run, source=source,
                                  preprocessing=preprocessing, k=int(config.k),
                                  id_col=config.table_id_col, source_problem=source_problem)
    finally:
        if source is not None:
            source.close()
    paths = write_report(objects, config.output, class_names_of(table),
                         table_info(table, config.table_id_col))
    problems = sum(obj.problem is not None for obj in objects)
    log.info(f"rnngmm report: {len(objects)} object(s)"
             f"{f', {problems} without a light curve' if problems else ''}; "
             f"wrote {', '.join(paths[:2])}{' ...' if len(paths) > 2 else ''}")
    return paths
