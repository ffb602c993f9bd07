"""Catalog + light curves -> one HDF5 dataset and a rejects table.

Every catalog row ends up either in the dataset or in the rejects table
(``<output stem>.rejects.ecsv``: catalog row, id, reason). Rank 0 first scans
the catalog (:func:`rnngmm.io.catalog.scan_catalog`: rows without a usable
id or period, column types) and hands the result to every rank. The kept
objects are cut into blocks of ``BLOCK_OBJECTS`` handed out round robin, so
slow (Lomb-Scargle) objects spread over the ranks; each rank reads only its
blocks' catalog rows, a few thousand at a time, and reads, cleans and
period-searches their light curves into temporary part files next to the
output (:mod:`rnngmm.io.dataset_parts`); rank 0 then streams the parts, block
by block in catalog order, into the dataset and the rejects table, each
written under a temporary name and renamed when complete. No rank holds the
catalog or more than a part file's worth of light curves, and the output does
not depend on the number of ranks.
"""

import json
import logging
import os
import re
import sys
import time as clock
import traceback
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from rnngmm.dist import Dist
from rnngmm.errors import BadLightCurve, InputError
from rnngmm import debug
from rnngmm.io.catalog import kept_blocks, scan_catalog
from rnngmm.io.catalog_file import CatalogFile
from rnngmm.io.dataset import create_column, streamed_dataset
from rnngmm.io.dataset_parts import (STR as _STR, PartWriter, block_owner, check_free_space,
                               join_parts, remove_pieces)
from rnngmm.io.rejects import rejects_writer
from rnngmm.io.readers import (DEFAULT_TEMPLATES, ONE_BAND_NOTE, READERS, TABLE_FORMATS,
                               check_reader_options, check_template, locate_lightcurve,
                               read_lightcurve, reader_bands)
from rnngmm.io.table_objects import read_table_objects
from rnngmm.lightcurves.objects import MIN_CATALOG_PERIOD, Preprocessing, prepare_object
from rnngmm.lightcurves.periods import MAX_PERIOD, MIN_PERIOD
from rnngmm.progress import Progress

logger = logging.getLogger(__name__)

#: Objects per block of work: blocks go round robin to the ranks, so slow
#: (Lomb-Scargle) objects spread over every rank.
BLOCK_OBJECTS = 64
#: A rank writes a part file once this many objects or points are pending.
PIECE_OBJECTS, PIECE_POINTS = 4096, 2_000_000


@dataclass
class PrepareConfig:
    """Everything ``prepare`` needs; mirrors the ``rnngmm prepare`` flags.

    Attributes
    ----------
    catalog, lightcurves, output : str
        Catalog file; directory of per-object files or one long table; output ``.h5``.
    format : str
        Light-curve format, a key of ``rnngmm.io.readers.READERS``.
    id_col, label_col, period_col : str
        Catalog columns (label and period optional).
    extra_cols : tuple of str
        Catalog columns copied into the dataset (``/objects/extra/<name>``).
        With ``period_source="lomb-scargle"`` the period column is copied
        too (:meth:`stored_columns`): the dataset keeps the catalog's period
        beside the package's own, which the model reads.
    catalog_format : str, optional
        astropy format of the catalog (guessed from the suffix when None).
    template : str, optional
        Per-object file name, e.g. ``"{id}.dat"`` (format default when None);
        a ``{band}`` field is filled with the band (``"{id}_{band}.tbl"``).
    reader_options : dict
        Passed to the reader (``filter`` for asassn; column names, ``band_col``,
        ``band``, ``flux_col``, ``flux_err_col``, ``zero_point`` and
        ``table_format`` for table, ztf and gaia; see
        :func:`rnngmm.io.readers.check_reader_options`). One band: a model
        learns one band, so several bands are refused (InputError).
    lc_id_col : str
        Id column when ``lightcurves`` is one long table. A Parquet long table
        is read per rank, only the rows of that rank's objects; another long
        table is read whole by every rank.
    min_points : int
        Objects with fewer cleaned points are rejected.
    sigma_clip : float, optional
        Robust sigma-clip threshold for :func:`rnngmm.lightcurves.preprocess.clean`.
    ss_resid_col, max_ss_resid : str, float
        Reject objects whose residual column exceeds ``max_ss_resid`` (if set).
    class_prob_col, min_class_prob : str, float
        Reject objects whose label probability is below ``min_class_prob`` (if set).
    class_map : dict, optional
        Label -> super-class; labels not in the map are rejected.
    period_source : {"auto", "catalog", "lomb-scargle"}
        "auto": catalog period when given, else Lomb-Scargle.
    min_period, max_period : float
        Lomb-Scargle search range (days).
    min_catalog_period : float
        Shorter catalog periods are implausible and searched instead.
    block_objects : int
        Catalog objects per block of work (blocks go round robin to the ranks).

    The cleaning and period settings form the dataset's
    :class:`rnngmm.lightcurves.objects.Preprocessing` (:meth:`preprocessing`), which
    ``flag`` reuses for new objects.
    """

    catalog: str
    lightcurves: str
    output: str
    format: str = "asassn"
    id_col: str = "id"
    label_col: str = None
    period_col: str = None
    extra_cols: tuple = ()
    catalog_format: str = None
    template: str = None
    reader_options: dict = field(default_factory=dict)
    lc_id_col: str = "id"
    min_points: int = 20
    sigma_clip: float = None
    ss_resid_col: str = "ss_resid"
    max_ss_resid: float = None
    class_prob_col: str = "class_prob"
    min_class_prob: float = None
    class_map: dict = None
    period_source: str = "auto"
    min_period: float = MIN_PERIOD
    max_period: float = MAX_PERIOD
    min_catalog_period: float = MIN_CATALOG_PERIOD
    block_objects: int = BLOCK_OBJECTS

    def preprocessing(self):
        """The :class:`~rnngmm.lightcurves.objects.Preprocessing` these settings describe."""
        return Preprocessing.from_dict(asdict(self))

    def stored_columns(self):
        """Catalog columns copied into ``/objects/extra``: ``extra_cols``, plus the
        period column when the periods are searched (kept beside them)."""
        columns = tuple(self.extra_cols)
        if self.period_source == "lomb-scargle" and self.period_col \
                and self.period_col not in columns:
            columns += (self.period_col,)
        return columns

    def validate(self):
        """Raise InputError for any flag or path that makes the run pointless."""
        if not os.path.isfile(self.catalog):
            raise InputError(f"--catalog {self.catalog!r} does not exist")
        if not os.path.exists(self.lightcurves):
            raise InputError(f"--lightcurves {self.lightcurves!r} does not exist")
        if self.format not in READERS:
            raise InputError(f"--format {self.format!r} is unknown; "
                             f"choose one of {', '.join(READERS)}")
        if os.path.isfile(self.lightcurves) and self.format not in TABLE_FORMATS:
            raise InputError(f"--lightcurves {self.lightcurves!r} is a file: one long "
                             f"table needs --format {', '.join(TABLE_FORMATS)} "
                             "(or give a directory)")
        options = check_reader_options(self.format, self.reader_options)
        if "bands" in options:
            raise InputError(f"--band {' '.join(options['bands'])}: {ONE_BAND_NOTE}; give "
                             "one --band value")
        check_template(self.template or DEFAULT_TEMPLATES[self.format], reader_bands(options))
        out_dir = os.path.dirname(os.path.abspath(self.output))
        if not os.path.isdir(out_dir):
            raise InputError(f"--output directory {out_dir!r} does not exist")
        self.preprocessing().validate()
        if self.min_class_prob is not None and not 0 <= self.min_class_prob <= 1:
            raise InputError(f"--class_prob must lie in [0, 1] (got {self.min_class_prob})")
        if self.block_objects < 1:
            raise InputError(f"--block_objects must be at least 1 (got {self.block_objects})")
        if self.period_source == "catalog" and not self.period_col:
            raise InputError("--period_source catalog needs --period_col")


@dataclass
class PrepareResult:
    """What ``prepare`` did (complete on rank 0 only)."""

    output: str
    rejects_path: str
    n_input: int
    n_kept: int
    reject_counts: dict
    point_counts: dict
    period_sources: dict
    seconds: float


def parse_class_map(text):
    """Class map from a JSON file (``{"sub": "super"}``) or inline ``"A:B,C:D"``.

    Raises
    ------
    InputError
        If the file is not a JSON object of strings or the inline form is malformed.
    """
    if text is None:
        return None
    if os.path.isfile(text):
        try:
            with open(text, encoding="utf-8") as handle:
                mapping = json.load(handle)
        except (OSError, ValueError) as exc:
            raise InputError(f"--class_map file {text!r} is not valid JSON: {exc}") from None
        if not isinstance(mapping, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()):
            raise InputError(f"--class_map file {text!r} must hold a JSON object "
                             'of label strings, e.g. {"EW": "ECL", "EA": "ECL"}')
        return mapping
    mapping = {}
    for pair in text.split(","):
        parts = [p.strip() for p in pair.split(":")]
        if len(parts) != 2 or not all(parts):
            raise InputError(f"--class_map {text!r}: expected 'SUB:SUPER,SUB:SUPER' "
                             "or the path of a JSON file")
        mapping[parts[0]] = parts[1]
    return mapping


def rejects_path(output):
    """The rejects table written next to dataset ``output``."""
    return str(Path(output).with_suffix(".rejects.ecsv"))


def reason_category(reason):
    """A reason without its numbers, for counting (``"too few points (3 < 20)"``
    counts as ``"too few points"``, ``"period 600 d is longer ..."`` as
    ``"period N d is longer ..."``)."""
    return re.sub(r"\d[\d.eE+-]*", "N", reason.split(" (")[0])


def _catalog_reason(block, j, label, config):
    """Reason to reject object ``j`` of catalog ``block`` before reading its light curve."""
    if config.max_ss_resid is not None:
        value = block.extra[config.ss_resid_col][j]
        if not value <= config.max_ss_resid:
            return f"ss_resid above cut ({value:.4g} > {config.max_ss_resid})"
    if config.min_class_prob is not None:
        value = block.extra[config.class_prob_col][j]
        if not value >= config.min_class_prob:
            return f"class probability below cut ({value:.4g} < {config.min_class_prob})"
    if config.class_map is not None and label and label not in config.class_map:
        return f"class not in class map ({label})"
    return None


def _loader(config, ids=None):
    """Function ``object_id, counts -> (time, mag, err)`` for the configured input.

    ``ids`` (a callable giving the objects of this rank) limits what a long
    table is read for: a Parquet table is read only for those ids (pyarrow
    filter on ``lc_id_col``); other tables are read whole and only those
    objects kept.
    """
    options = check_reader_options(config.format, config.reader_options)
    if os.path.isdir(config.lightcurves):
        template = config.template or DEFAULT_TEMPLATES[config.format]

        band = (reader_bands(options) or (None,))[0]  # fills a {band} field, if any

        def load(object_id, counts):
            path = locate_lightcurve(config.lightcurves, object_id, template, band=band)
            return read_lightcurve(path, config.format, counts, **options)
        return load
    objects = read_table_objects(config.lightcurves, config.lc_id_col, ids=ids(),
                                 format=config.format, **options)
    return objects.load


class _RankCatalog:
    """The catalog rows of one rank's blocks, read block by block (second pass)."""

    def __init__(self, source, scan, config, columns, rank, size):
        self.source, self.scan, self.config = source, scan, config
        self.columns, self.rank, self.size = tuple(columns), rank, size

    def _mine(self, index):
        return block_owner(index // self.config.block_objects, self.size) == self.rank

    def blocks(self, ids_only=False):
        """``(index, Catalog)`` of this rank's objects, a few thousand at a time."""
        c = self.config
        if ids_only:
            return kept_blocks(self.source, self.scan, c.id_col, select=self._mine)
        return kept_blocks(self.source, self.scan, c.id_col, c.label_col, c.period_col,
                           self.columns, select=self._mine)

    def ids(self):
        """Ids of this rank's objects (for reading a long light-curve table)."""
        return [str(i) for _, block in self.blocks(ids_only=True) for i in block.ids]


def _process_blocks(catalog, n, config, writer, progress=None, scale=1):
    """Prepare this rank's objects (whole blocks of ``catalog``, a _RankCatalog) into ``writer``.

    Returns ``(point_counts, period_sources, reject_reasons)`` as Counters.
    ``progress`` (rank 0's :class:`rnngmm.progress.Progress`) is told
    ``scale`` x the objects done here (every rank holds an equal share).
    """
    load = _loader(config, ids=catalog.ids)
    settings = config.preprocessing()
    class_map = config.class_map or {}
    extra_cols = config.stored_columns()
    block_objects = config.block_objects
    point_counts, sources, reasons = Counter(), Counter(), Counter()
    done = 0
    for index, block in catalog.blocks():
        for j, i in enumerate(index):
            if i % block_objects == 0:
                debug.prepare_fault(writer.rank, "block", i // block_objects)
            if progress is not None:
                progress.update(min(done * scale, progress.total))
            done += 1
            object_id = block.ids[j]
            label = block.labels[j] if block.labels is not None else ""
            period = block.periods[j] if block.periods is not None else np.nan
            reason = _catalog_reason(block, j, label, config)
            if reason is None:
                try:
                    counts = {}
                    prepared = prepare_object(*load(object_id, counts), period, settings)
                except BadLightCurve as exc:
                    reason = exc.reason
                else:
                    point_counts.update(counts)
                    point_counts.update(prepared.dropped)
                    sources[prepared.period_source] += 1
                    writer.add_kept(i, object_id, class_map.get(label, label), prepared,
                                    {c: block.extra[c][j] for c in extra_cols})
            if reason is not None:
                writer.add_reject(i, block.rows[j], object_id, reason)
                reasons[reason_category(reason)] += 1
            if (i + 1) % block_objects == 0 or i + 1 == n:
                writer.end_block()
    writer.flush()
    return point_counts, sources, reasons


def _scan(config, dist, columns, extra_cols):
    """Rank 0 scans the catalog; every rank gets ``(source, scan)`` or the same error.

    The other ranks get ``source`` None (they open the catalog afterwards).
    """
    source = scan = None
    if dist.is_root:
        try:
            source = CatalogFile(config.catalog, columns, config.id_col, config.catalog_format)
            scan = scan_catalog(source, config.id_col, config.period_col, extra_cols)
        except Exception as exc:  # the other ranks must not wait for a scan that failed
            scan = exc
    scan = dist.bcast(scan)
    if isinstance(scan, Exception):
        raise scan
    return source, scan


def _provenance(config):
    inputs = asdict(config)
    inputs["catalog"] = os.path.abspath(config.catalog)
    inputs["lightcurves"] = os.path.abspath(config.lightcurves)
    return inputs


def prepare(config, dist=None, log=None):
    """Run the whole ``prepare`` stage (every rank calls this).

    Parameters
    ----------
    config : PrepareConfig
    dist : rnngmm.dist.Dist, optional
        Process topology; a single process when None.
    log : callable, optional
        Where rank 0 writes its summary (default: the ``rnngmm`` logger).

    Returns
    -------
    PrepareResult on rank 0, None on other ranks.
    """
    dist = dist or Dist()
    log = log or logger.info
    start = clock.perf_counter()
    config.validate()
    extra_cols = config.stored_columns()
    filter_cols = tuple(c for c, on in ((config.ss_resid_col, config.max_ss_resid),
                                        (config.class_prob_col, config.min_class_prob))
                        if on is not None and c not in extra_cols)
    columns = list(dict.fromkeys(
        [c for c in (config.label_col, config.period_col) if c] + list(extra_cols + filter_cols)))
    source, scan = _scan(config, dist, columns, extra_cols + filter_cols)
    for column in filter_cols:
        if scan.extra_dtypes[column].kind not in "iuf":
            raise InputError(f"catalog column {column!r} used as a cut is not numeric")
    n = scan.n_kept
    progress = Progress(n, interval=10.0, label="prepare") if dist.is_root else None
    extra_dtypes = {c: _STR if scan.extra_dtypes[c].kind in "OUS" else scan.extra_dtypes[c]
                    for c in extra_cols}
    if dist.is_root:
        remove_pieces(config.output)  # left by a killed earlier run
    dist.barrier()
    writer = PartWriter(config.output, dist.rank, dist.size, config.block_objects, extra_dtypes,
                        piece_objects=PIECE_OBJECTS, piece_points=PIECE_POINTS)
    try:
        if source is None:  # ranks other than 0: the header (or schema) only
            source = CatalogFile(config.catalog, columns, config.id_col, config.catalog_format)
        catalog = _RankCatalog(source, scan, config, extra_cols + filter_cols, dist.rank,
                               dist.size)
        counts = _process_blocks(catalog, n, config, writer, progress, dist.size)
    except BaseException as exc:
        writer.discard()
        if dist.size == 1:
            raise
        # One failing rank (even a bad flag found there, or a full disk while
        # writing its part) would leave the others waiting in gather forever.
        if isinstance(exc, InputError):
            print(f"rnngmm prepare: error on rank {dist.rank} of {dist.size}: {exc}; "
                  "aborting the job", file=sys.stderr, flush=True)
        else:
            traceback.print_exc()
        dist.abort(2 if isinstance(exc, InputError) else 1)
    parts = dist.gather((writer.pieces, counts))
    if not dist.is_root:
        return None
    point_counts, sources, reasons = Counter(), Counter(), Counter(
        reason_category(r[2]) for r in scan.rejects)
    for _, (points, kept, rejected) in parts:
        point_counts.update(points)
        sources.update(kept)
        reasons.update(rejected)
    try:
        _join(config, [p[0] for p in parts], n, scan.rejects, extra_dtypes, dist.rank)
    finally:
        remove_pieces(config.output)
    result = PrepareResult(
        output=config.output, rejects_path=rejects_path(config.output),
        n_input=scan.n_rows, n_kept=sum(sources.values()),
        reject_counts=dict(reasons), point_counts=dict(point_counts),
        period_sources=dict(sources), seconds=clock.perf_counter() - start)
    log(summary(result, dist.size))
    return result


def _join(config, pieces_by_rank, n_catalog, earlier_rejects, extra_dtypes, rank):
    """Join every rank's pieces into the dataset and its rejects table (rank 0)."""
    check_free_space(config.output, [p for paths in pieces_by_rank for p in paths])

    def on_block(block):
        debug.prepare_fault(rank, "join", block)

    with rejects_writer(rejects_path(config.output), earlier_rejects) as rejects:
        with streamed_dataset(config.output, _provenance(config)) as handle:
            join_parts(handle, pieces_by_rank, n_catalog, config.block_objects, extra_dtypes,
                       create_column, rejects.add, on_block=on_block)


def summary(result, n_ranks=1):
    """Human-readable account of a ``prepare`` run."""
    lines = [f"prepared {result.n_kept} of {result.n_input} objects into {result.output} "
             f"in {result.seconds:.1f} s on {n_ranks} process(es) "
             f"({result.n_input / max(result.seconds, 1e-9):.1f} objects/s)"]
    sources = ", ".join(f"{k}: {v}" for k, v in sorted(result.period_sources.items()))
    lines.append(f"  periods: {sources or 'none'}")
    lines.append(f"  rejected {result.n_input - result.n_kept} objects "
                 f"(listed in {result.rejects_path}):")
    for reason, count in sorted(result.reject_counts.items(), key=lambda kv: -kv[1]):
        lines.append(f"    {count:8d}  {reason}")
    if result.point_counts:
        lines.append("  points dropped from kept objects:")
        for reason, count in sorted(result.point_counts.items(), key=lambda kv: -kv[1]):
            lines.append(f"    {count:8d}  {reason}")
    return "\n".join(lines)
