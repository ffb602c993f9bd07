"""``FlagConfig`` and :func:`flag_catalog`: the library entry point of ``rnngmm flag``.

The run's own settings decide how each new object is prepared: the
:class:`~rnngmm.lightcurves.objects.Preprocessing` of its training dataset (cleaning,
period rule and Lomb-Scargle range) and its
:class:`~rnngmm.lightcurves.objects.Chunking`; catalog labels are merged with the
dataset's ``--class_map`` before they are compared with the run's classes.
"""

import logging
import os
from collections import Counter
from dataclasses import dataclass, field, replace

import numpy as np

from rnngmm.errors import InputError
from rnngmm.object_table import anomaly_column, reserved_columns
from rnngmm.flagging.sources import CatalogSource, DatasetSource
from rnngmm.rundir import load_run
from rnngmm.flagging.catalog_pass import run_training_prior
from rnngmm.flagging.driver import FlagJob, run_flagging
from rnngmm.flagging.scorer import ModelScorer
from rnngmm.dist import init_mpi
from rnngmm.flagging.driver import abort_on_failure
from rnngmm.flagging.catalog_pass import Calibration
from rnngmm.flagging.output import output_format
from rnngmm.io.readers import check_reader_options

log = logging.getLogger(__name__)


@dataclass
class FlagConfig:
    """Settings of ``rnngmm flag`` (see ``rnngmm flag --help`` for each).

    Input is either ``catalog`` + ``lightcurves`` (raw files), or ``data`` (a
    prepared dataset, whose objects are already cleaned and keep their periods).
    ``min_period``/``max_period`` override the run's Lomb-Scargle range when
    set (the model then sees periods searched differently from training).
    ``band`` (and asassn's alias ``filter``) is one band name, or a tuple of
    several (``--band g r``): each star's bands are then read together (the
    reader option ``bands``) and scored in one row; ``zero_point`` is one
    value, or one per band.
    """

    run_dir: str
    output: str
    catalog: str = None
    lightcurves: str = None
    data: str = None
    format: str = "asassn"
    catalog_format: str = None
    template: str = None
    id_col: str = "id"
    period_col: str = None
    label_col: str = None
    pass_through: list = field(default_factory=list)
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
    min_period: float = None
    max_period: float = None
    percentiles: tuple = (80.0, 95.0, 99.0)
    batch_objects: int = 512
    shard_objects: int = 2048
    batch_size: int = 512
    resume: bool = False
    progress_interval: float = 10.0
    with_code: bool = False
    calibrate: str = "training"
    contamination: float = None
    estimate_priors: bool = False

    def calibration(self):
        """The :class:`~rnngmm.flagging.catalog_pass.Calibration` of these settings."""
        return Calibration(mode=self.calibrate, contamination=self.contamination,
                           estimate_priors=bool(self.estimate_priors))

    def validate(self):
        """Check every setting before any work; raise InputError for the first problem."""
        if not self.output:
            raise InputError("--output is required (the flag table to write)")
        if self.data is not None:
            if self.catalog is not None or self.lightcurves is not None:
                raise InputError("give either --data or --catalog/--lightcurves, not both")
            if not os.path.isfile(self.data):
                raise InputError(f"dataset {self.data!r} does not exist")
        else:
            if self.catalog is None or self.lightcurves is None:
                raise InputError("give --catalog and --lightcurves (or --data)")
            if not os.path.isfile(self.catalog):
                raise InputError(f"catalog {self.catalog!r} does not exist")
            if not os.path.exists(self.lightcurves):
                raise InputError(f"light curves {self.lightcurves!r} do not exist")
        if self.filter and self.format != "asassn":
            raise InputError("--filter only applies to --format asassn")
        if self.data is None:
            check_reader_options(self.format, self.reader_options())
        else:
            given = [f"--{name}" for name in ("band_col", "band", "flux_col", "flux_err_col",
                                               "zero_point") if getattr(self, name) is not None]
            if given:
                raise InputError(f"{', '.join(given)} apply to --catalog/--lightcurves "
                                 "input; a --data dataset is already prepared")
        if not os.path.isdir(self.run_dir):
            raise InputError(f"run directory {self.run_dir!r} does not exist")
        output_format(self.output)
        out_dir = os.path.dirname(os.path.abspath(self.output))
        if not os.path.isdir(out_dir):
            raise InputError(f"output directory {out_dir!r} does not exist")
        if not os.access(out_dir, os.W_OK):
            raise InputError(f"output directory {out_dir!r} is not writable")
        if not all(0 < p < 100 for p in self.percentiles):
            raise InputError(f"--percentiles must lie strictly between 0 and 100, "
                             f"got {list(self.percentiles)}")
        if len(set(self.percentiles)) != len(self.percentiles):
            raise InputError(f"--percentiles has duplicates: {list(self.percentiles)}")
        self.calibration().validate()
        for name in ("batch_objects", "shard_objects", "batch_size"):
            if getattr(self, name) < 1:
                raise InputError(f"--{name} must be at least 1, got {getattr(self, name)}")
        low = self.min_period if self.min_period is not None else 1e-300
        high = self.max_period if self.max_period is not None else np.inf
        if not 0 < low < high:
            raise InputError("need 0 < --min_period < --max_period")
        clashes = set(self.pass_through) & (reserved_columns([], self.percentiles)
                                            | {self.id_col})
        if clashes or any(c.startswith("prob_") for c in self.pass_through):
            raise InputError(f"--pass_through column(s) "
                             f"{sorted(clashes) or list(self.pass_through)} clash with "
                             "output columns; rename them in the catalog")
        return self

    def reader_options(self):
        """Options of the light-curve reader for ``format`` (only those set).

        Column names apply to the table and ztf formats; band and flux
        options are passed for every format, so that
        :func:`rnngmm.io.readers.check_reader_options` refuses them where
        they do not apply.
        """
        options = {}
        if self.format == "asassn" and self.filter:
            options["filter"] = self.filter
        if self.format in ("table", "ztf"):
            options.update(time_col=self.time_col, mag_col=self.mag_col,
                           err_col=self.err_col)
        options.update(band_col=self.band_col, band=self.band, flux_col=self.flux_col,
                       flux_err_col=self.flux_err_col, zero_point=self.zero_point)
        return {k: v for k, v in options.items() if v is not None}


def build_source(config):
    """The flagging source (catalog + light curves, or a prepared dataset)."""
    pass_through = list(config.pass_through)
    if config.label_col and config.label_col not in pass_through:
        pass_through.append(config.label_col)
    if config.data is not None:
        source = DatasetSource(config.data, pass_through=[c for c in pass_through
                                                          if c != config.label_col])
        if config.label_col:
            source.columns[config.label_col] = (
                source.labels if source.labels is not None
                else np.full(source.n_rows, "", dtype=object))
        return source

    def make(period_col):
        return CatalogSource(config.catalog, config.lightcurves, config.format,
                             id_col=config.id_col, period_col=period_col,
                             pass_through=pass_through, label_col=config.label_col,
                             template=config.template, reader_options=config.reader_options(),
                             lc_id_col=config.lc_id_col, catalog_format=config.catalog_format)
    if config.period_col is not None:
        return make(config.period_col)
    try:
        return make("period")
    except InputError as exc:
        if "no column(s) period" not in str(exc):
            raise
        return make(None)


def run_preprocessing(run, config):
    """The run's preprocessing, with the Lomb-Scargle range overridden if asked."""
    settings = run.preprocessing
    overrides = {k: getattr(config, k) for k in ("min_period", "max_period")
                 if getattr(config, k) is not None}
    if overrides:
        log.warning(f"flag: Lomb-Scargle range {overrides} differs from the run's "
                    f"({settings.min_period}-{settings.max_period} d): new objects get "
                    "periods searched differently from the training data")
        settings = replace(settings, **overrides)
    return settings.validate()


def novel_mask(labels, class_names, class_map=None):
    """Labels (mapped through the training ``class_map``) the run never saw."""
    labels = np.asarray(labels).astype(str)
    mapped = np.array([(class_map or {}).get(label, label) for label in labels], dtype=str)
    return (labels != "") & ~np.isin(mapped, list(class_names))


class FlagSummary:
    """Counts of a flag table, added block by block (rows, statuses, flags, novel)."""

    def __init__(self, percentiles, class_names, label_col=None, class_map=None):
        self.percentiles, self.class_names = tuple(percentiles), list(class_names)
        self.label_col, self.class_map = label_col, class_map
        self.rows = self.ok = 0
        self.reasons = Counter()
        # the first full status of each reason: the summary counts reasons
        # without their details, which alone would not say why
        self.examples = {}
        self.novel = None
        self.flagged = {p: 0 for p in self.percentiles}
        self.flagged_novel = {p: 0 for p in self.percentiles}
        self.partial = None  # several bands: stars scored without every band

    def add(self, table):
        """Count the rows of ``table`` (a block of the flag table)."""
        status = np.asarray(table["status"]).astype(str)
        ok = status == "ok"
        self.rows += len(table)
        self.ok += int(ok.sum())
        for reason in status[~ok]:
            category = reason.split(" (")[0]
            self.reasons[category] += 1
            self.examples.setdefault(category, str(reason))
        if "bands_missing" in table.colnames:
            partial = ok & (np.asarray(table["bands_missing"]).astype(str) != "")
            self.partial = (self.partial or 0) + int(partial.sum())
        novel = None
        if self.label_col and self.label_col in table.colnames:
            novel = ok & novel_mask(table[self.label_col], self.class_names, self.class_map)
            self.novel = (self.novel or 0) + int(novel.sum())
        for p in self.percentiles:
            flagged = np.asarray(table[anomaly_column(p)], bool)
            self.flagged[p] += int(flagged.sum())
            if novel is not None:
                self.flagged_novel[p] += int((flagged & novel).sum())
        return self

    def lines(self):
        """Human-readable summary lines."""
        lines = [f"rnngmm flag: {self.rows} rows, {self.ok} scored"]
        for reason, count in self.reasons.most_common():
            detail = self.examples.get(reason, reason)[len(reason):].strip()
            if detail:
                detail = f" {detail}" if count == 1 else f", e.g. {detail}"
            lines.append(f"  not scored: {count:6d}  {reason}{detail}")
        if self.partial:
            lines.append(f"  scored from fewer bands than asked: {self.partial} "
                         "(column bands_missing says why)")
        if self.novel is not None:
            mapped = " (labels merged with the training class map)" if self.class_map else ""
            lines.append(f"  scored objects whose class ({self.label_col}) the run never saw"
                         f"{mapped}: {self.novel}")
        for p in self.percentiles:
            text = f"  anomaly_{p:g}: {self.flagged[p]} flagged"
            if self.novel is not None:
                found = self.flagged_novel[p]
                text += f", of which {found} truly novel ({found}/{self.novel} novel found)"
            lines.append(text)
        return lines


def summary_lines(table, percentiles, class_names, label_col=None, class_map=None):
    """Human-readable summary of a flag table (rows, statuses, flags, novel)."""
    return FlagSummary(percentiles, class_names, label_col, class_map).add(table).lines()


def _limit_threads(dist):
    """Share the node's cores between the ranks on it (before TF starts)."""
    if dist.local_size <= 1:
        return
    import tensorflow as tf
    threads = max(1, (os.cpu_count() or 1) // dist.local_size)
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


def flag_catalog(config, dist):
    """Classify and flag every row of the configured catalog (every rank calls this).

    Parameters
    ----------
    config : FlagConfig
    dist : rnngmm.dist.Dist

    Returns
    -------
    FlagSummary or None
        Counts of the written table on rank 0 (which never holds the whole
        table), None on the other ranks.
    """
    config.validate()
    source = build_source(config)
    _limit_threads(dist)
    run = load_run(config.run_dir)
    class_names = [str(c) for c in run.class_names]
    clashes = set(source.columns) & reserved_columns(
        class_names, config.percentiles,
        bands=(getattr(source, "reader_options", None) or {}).get("bands"))
    if clashes:
        raise InputError(f"--pass_through column(s) {sorted(clashes)} clash with output "
                         "columns; rename them in the catalog")
    preprocessing = run_preprocessing(run, config)
    calibration = config.calibration()
    job = FlagJob(source=source, scorer=ModelScorer(run.model, run.novelty, config.batch_size),
                  novelty=run.novelty, class_names=class_names, preprocessing=preprocessing,
                  chunking=run.chunking, out=config.output, run_id=str(run.run_id),
                  percentiles=tuple(float(p) for p in config.percentiles),
                  batch_objects=config.batch_objects, shard_objects=config.shard_objects,
                  resume=config.resume, progress_interval=config.progress_interval,
                  with_code=config.with_code,
                  code_size=int(run.model.hparams.get("embedding", 0)),
                  meta={"run_dir": os.path.abspath(config.run_dir), "n_ranks": dist.size,
                        "class_map": run.class_map or {}},
                  keep_table=False,
                  summary=FlagSummary(tuple(float(p) for p in config.percentiles),
                                      class_names, config.label_col,
                                      run.class_map),
                  calibration=calibration,
                  training_prior=(run_training_prior(run) if calibration.estimate_priors
                                  else None))
    run_flagging(job, dist)
    if not dist.is_root:
        return None
    for line in job.summary.lines():
        log.info(line)
    for line in (job.adjustment.lines() if job.adjustment is not None else []):
        log.info(line)
    peaks = ", ".join(f"{p:.0f}" for p in job.meta["peak_rss_mb_per_rank"])
    log.info(f"rnngmm flag: peak memory per rank while scoring (MiB): {peaks}")
    log.info(f"rnngmm flag: wrote {config.output}")
    return job.summary


def run_flag_job(config):
    """Run :func:`flag_catalog` under MPI: any failure on any rank ends every rank.

    Returns
    -------
    int
        Exit code 0 (failures raise on one rank, or abort the job on several).
    """
    dist = init_mpi()
    if dist.size == 1:
        flag_catalog(config, dist)
        return 0
    try:
        flag_catalog(config, dist)
    except BaseException as exc:  # noqa: BLE001 - every failure must end every rank
        if isinstance(exc, SystemExit) and not exc.code:
            raise
        abort_on_failure(dist, exc)
    return 0
