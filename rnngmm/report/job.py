"""Anomaly reports: one page per object of a flag table's most anomalous objects.

What an astronomer looks at before writing a follow-up proposal, behind
``rnngmm report``. For each selected object (the ``n`` scored rows highest
on the score the anomaly flags use, :func:`ranking_score`, or ids given by
name) a page shows
the raw and the phase-folded light curve with the decoder's reconstruction,
the class probabilities, the energy, its percentile and the ``anomaly_<p>``
flags, and the nearest catalog objects in latent space when the table has
code columns (``rnngmm flag --with_code``).

This module is the job: choose the rows (:func:`select_rows`), load the run,
gather what each page shows (:func:`collect_objects`) from the parts, and
write the pages (:func:`write_report`). The parts:

* the flag table and its metadata: :mod:`rnngmm.flagging.table`;
* the reconstruction, turned back into magnitudes and times or phases:
  :mod:`rnngmm.decoder.reconstruction` (over the raw light curve for runs
  trained on time lags, the folded one for runs trained with
  ``--period_fold``);
* the neighbours: :mod:`rnngmm.latent` (standardised codes, exact search);
* the figures: :mod:`rnngmm.report.figures`.

Each light curve is read again from the catalog the table was flagged from
(the sources of :mod:`rnngmm.flagging.sources`) and prepared exactly as
``rnngmm flag`` prepared it (:func:`rnngmm.lightcurves.objects.prepare_object`, then
:func:`rnngmm.lightcurves.objects.object_chunks`). An object whose light curve cannot be
read again, or was never scored, still gets its page, saying why. A table
flagged with several bands (``--band g r``) is read again in those bands: the
page shows every band's light curve and reconstruction
(:func:`rnngmm.flagging.stream.prepare_banded`), in one colour per band, and
each band's class, percentile and the colours.

Output: a ``.pdf`` output is a multi-page PDF (one object per page) with one
PNG per page next to it (``<stem>_001.png`` ...); a ``.png`` output is one
tall PNG sheet holding every object. Every file is written atomically.

Importing this module imports neither the model stack nor matplotlib (the
CLI imports it to build its parser): :mod:`rnngmm.rundir`,
:mod:`rnngmm.flagging.job` and the figures are imported when a report is made.
"""

import logging
import os
from dataclasses import dataclass, field, replace

import numpy as np

from rnngmm.decoder.reconstruction import reconstruct_object
from rnngmm.errors import InputError
from rnngmm.flagging.table import (class_names_of, float_values, read_table, recorded_inputs,
                                   table_id_column, table_meta, text_values)
from rnngmm.io.atomic import atomic_path
from rnngmm.io.readers import check_reader_options
from rnngmm.latent import catalog_codes, catalog_search
from rnngmm.lightcurves.objects import Preprocessing, prepare_object
from rnngmm.object_table import OK

log = logging.getLogger(__name__)

#: Objects in a report by default.
DEFAULT_N = 20
#: Latent-space neighbours listed per object by default.
DEFAULT_K = 5
#: Output suffixes and what they give.
OUTPUT_SUFFIXES = (".pdf", ".png")


# ---------------------------------------------------------------------------
# The rows and their neighbours
# ---------------------------------------------------------------------------

def ranking_score(table):
    """The score the table's anomaly flags are set on, HIGHER = more anomalous.

    ``novelty_score`` (the run's score, what ``anomaly_<p>`` compares with
    ``threshold_<p>``); tables written before that column: ``energy_percentile``
    with ties broken by ``energy`` (the flags then compared the percentile), or
    ``energy`` alone.
    """
    if "novelty_score" in table.colnames:
        return float_values(table, "novelty_score")
    energy = float_values(table, "energy")
    if "energy_percentile" not in table.colnames:
        return energy
    percentile = float_values(table, "energy_percentile")
    # rank by the percentile; energies only order rows of equal percentile
    order = np.lexsort((np.nan_to_num(energy, nan=-np.inf), np.nan_to_num(percentile, nan=-1)))
    rank = np.empty(len(order))
    rank[order] = np.arange(len(order), dtype=np.float64)
    rank[~np.isfinite(percentile) | ~np.isfinite(energy)] = np.nan
    return rank


def select_rows(table, *, n=DEFAULT_N, ids=None, id_col=None):
    """Rows of the objects to report on.

    Parameters
    ----------
    table : astropy.table.Table
        A flag table (``status`` and ``energy`` columns).
    n : int
        Without ``ids``: the ``n`` scored rows ranked by the score the anomaly
        flags use (:func:`ranking_score`), highest first (a repeated id
        counts once).
    ids : sequence of str, optional
        Report these objects, in this order (a repeated id: its first scored
        row, else its first row).
    id_col : str, optional
        Id column (default: the first column).

    Returns
    -------
    list of int
        Table rows, most anomalous first without ``ids``.

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
    all_ids = text_values(table, id_col)
    ok = (text_values(table, "status") == OK)
    score = ranking_score(table)
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
    candidates = np.flatnonzero(ok & np.isfinite(score))
    if not len(candidates):
        raise InputError("no object of the table was scored (no row with status 'ok')")
    candidates = candidates[np.argsort(-score[candidates], kind="stable")]
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

    One search for every row (:func:`rnngmm.latent.catalog_search`: codes
    standardised over the table's scored objects, exact Euclidean search).

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
    id_col = table_id_column(table, id_col)
    try:
        catalog = catalog_codes(table, id_col)
    except InputError as exc:
        return {int(row): str(exc) for row in rows}
    where = {int(r): i for i, r in enumerate(catalog.rows)}
    ids = catalog.ids
    classes = (text_values(table, "predicted_class")
               if "predicted_class" in table.colnames else np.full(len(table), ""))
    percentile = (float_values(table, "energy_percentile")
                  if "energy_percentile" in table.colnames else np.full(len(table), np.nan))
    all_ids = text_values(table, id_col)
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
    distances, indices = catalog_search(  # one search for every object
        catalog, catalog.codes[own_rows], min(int(k) + 1, len(catalog)), self_rows=own_rows)
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
    reconstruction : list of rnngmm.decoder.reconstruction.ChunkPoints or None
    bands : dict or None
        A star read in several bands: ``{band: BandCurve}`` of the bands
        scored, in the table's order (``time``/``mag``/``err`` then hold all
        bands' points, ``reconstruction`` all bands' chunks); None for one band.
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
    bands: dict = None
    folded_model: bool = False
    problem: str = None
    notes: list = field(default_factory=list)
    neighbours: object = None


@dataclass
class BandCurve:
    """One band of a star's page: its cleaned light curve and reconstruction."""

    time: np.ndarray
    mag: np.ndarray
    err: np.ndarray
    reconstruction: list = None


def _load_bands(obj, record, run, preprocessing, chunking):
    """:func:`load_object` for a star read in several bands (a ``BandedRecord``):
    each band prepared as ``rnngmm flag`` prepared it, reconstructed on its own."""
    from rnngmm.flagging.stream import describe_failure, prepare_banded
    try:
        star = prepare_banded(record, preprocessing, chunking)
    except Exception as exc:  # noqa: BLE001 - one object's problem, never the report's
        obj.problem = f"light curve could not be prepared again: {describe_failure(exc)}"
        return obj
    obj.period = float(star.period)
    obj.bands = {}
    for name, band in star.bands.items():
        curve = BandCurve(*(np.asarray(a, np.float64) for a in (band.time, band.mag,
                                                                 band.err)))
        try:
            curve.reconstruction = reconstruct_object(run.model, curve.time, curve.mag,
                                                      curve.err, obj.period, chunking)
        except Exception as exc:  # noqa: BLE001
            obj.notes.append(f"no reconstruction of band {name}: {describe_failure(exc)}")
        obj.bands[name] = curve
    for name, reason in star.dropped.items():
        obj.notes.append(f"band {name} not shown: {reason}")
    obj.time, obj.mag, obj.err = (np.concatenate([getattr(c, a) for c in obj.bands.values()])
                                  for a in ("time", "mag", "err"))
    obj.reconstruction = [chunk for c in obj.bands.values() for chunk in c.reconstruction or []]
    _check_period(obj)
    return obj


def _check_period(obj):
    table_period = obj.values.get("period")
    if (table_period is not None and np.isfinite(table_period)
            and not np.isclose(obj.period, table_period, rtol=1e-6, atol=0.0)):
        obj.notes.append(f"period found again ({obj.period:.6g} d) differs from the "
                         f"table's ({table_period:.6g} d): other inputs or settings?")


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
    record : rnngmm.flagging.sources.ObjectRecord or BandedRecord or str
        As a source's ``iter_records`` yields it (a string says why the
        light curve could not be read). A ``BandedRecord`` (several bands)
        gives each band's light curve and reconstruction (``obj.bands``).
    run : rnngmm.rundir.LoadedRun
    preprocessing : rnngmm.lightcurves.objects.Preprocessing
    chunking : rnngmm.lightcurves.objects.Chunking

    Returns
    -------
    ReportObject
        ``obj``, with ``problem`` set instead of raising for this object.
    """
    from rnngmm.flagging.stream import describe_failure  # imports the model stack
    obj.folded_model = bool(chunking.period_fold)
    if isinstance(record, str):
        obj.problem = f"light curve could not be read again: {record}"
        return obj
    if hasattr(record, "bands") and hasattr(record, "missing"):
        return _load_bands(obj, record, run, preprocessing, chunking)
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
    _check_period(obj)
    try:
        obj.reconstruction = reconstruct_object(run.model, obj.time, obj.mag, obj.err,
                                                obj.period, chunking)
    except Exception as exc:  # noqa: BLE001
        obj.notes.append(f"no reconstruction: {describe_failure(exc)}")
    return obj


def _source_rows(source, table, rows, id_col):
    """Source row of each table row (the same row when the table came from this
    catalog, else the first source row of the id), or None."""
    ids = text_values(table, id_col)
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
    ids = text_values(table, id_col)
    status = text_values(table, "status")
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
        from rnngmm.flagging.stream import describe_failure  # imports the model stack
        for row in (r for rs in wanted.values() for r in rs):
            if objects[row].time is None and objects[row].problem is None:
                objects[row].problem = (f"light curve could not be read again: "
                                        f"{describe_failure(exc)}")
    return [objects[int(r)] for r in rows]


# ---------------------------------------------------------------------------
# The pages
# ---------------------------------------------------------------------------

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
        :func:`rnngmm.report.figures.table_info` of the table.

    Returns
    -------
    list of str
        Paths written (the PDF first).
    """
    from matplotlib.backends.backend_pdf import PdfPages  # matplotlib: only to draw

    from rnngmm.report import figures
    output = os.fspath(output)
    total = len(objects)
    if output.lower().endswith(".png"):
        fig = figures.sheet_figure(objects, class_names, info)
        with atomic_path(output) as tmp:
            fig.savefig(tmp, format="png", dpi=figures.DPI)
        figures.close(fig)
        return [output]
    paths = []
    with atomic_path(output) as tmp_pdf:
        with PdfPages(tmp_pdf, metadata={"Title": "rnngmm anomaly report"}) as pdf:
            for position, obj in enumerate(objects, 1):
                fig = figures.page_figure(obj, position, total, class_names, info)
                pdf.savefig(fig)
                png = png_page_path(output, position)
                with atomic_path(png) as tmp:
                    fig.savefig(tmp, format="png", dpi=figures.DPI)
                paths.append(png)
                figures.close(fig)
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
        from rnngmm.flagging.job import FlagConfig  # imports the model stack
        return FlagConfig(run_dir=run_dir, output=self.output,
                          **{name: getattr(self, name) for name in SOURCE_FIELDS})


def recorded_source(table, config):
    """A copy of ``config`` reading light curves where the table says flag read them,
    or None when the table records no usable inputs."""
    inputs = recorded_inputs(table)
    if inputs is None:
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
        elif name == "bands" and value:  # flag read several bands: read them all again
            values["band"] = tuple(str(b) for b in value)
    return replace(config, **values)


def open_source(config, run_dir):
    """The light-curve source of ``config`` (see :func:`rnngmm.flagging.job.build_source`).

    Raises
    ------
    InputError
        For files that do not exist or flags that do not fit the format.
    """
    from rnngmm.flagging.job import build_source  # imports the model stack
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
    from rnngmm.report.figures import table_info  # matplotlib
    from rnngmm.rundir import load_run  # the model stack
    config.validate()
    table = read_table(config.table)
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
