"""Catalog + light curves -> one HDF5 dataset and a rejects table.

Every catalog row ends up either in the dataset or in the rejects table
(``<output stem>.rejects.ecsv``: catalog row, id, reason). Under MPI each rank
reads, cleans and period-searches a contiguous shard of the catalog; rank 0
gathers the shards and writes the files in catalog order, so the output does
not depend on the number of ranks.
"""

import json
import logging
import os
import re
import time as clock
import traceback
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .dist import Dist
from .errors import BadLightCurve, InputError
from .io.atomic import atomic_path
from .io.catalog import read_catalog
from .io.dataset import write_dataset
from .io.readers import (DEFAULT_TEMPLATES, READERS, TABLE_FORMATS, check_reader_options,
                         check_template, locate_lightcurve, read_lightcurve,
                         read_table_objects)
from .objects import MIN_CATALOG_PERIOD, Preprocessing, prepare_object
from .periods import MAX_PERIOD, MIN_PERIOD
from .progress import Progress

logger = logging.getLogger(__name__)


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
        Catalog columns copied into the dataset.
    catalog_format : str, optional
        astropy format of the catalog (guessed from the suffix when None).
    template : str, optional
        Per-object file name, e.g. ``"{id}.dat"`` (format default when None).
    reader_options : dict
        Passed to the reader (``filter`` for asassn; column names, ``band_col``,
        ``band``, ``flux_col``, ``flux_err_col``, ``zero_point`` and
        ``table_format`` for table, ztf and gaia; see
        :func:`rnngmm.io.readers.check_reader_options`).
    lc_id_col : str
        Id column when ``lightcurves`` is one long table. A Parquet long table
        is read per rank, only the rows of that rank's objects; another long
        table is read whole by every rank.
    min_points : int
        Objects with fewer cleaned points are rejected.
    sigma_clip : float, optional
        Robust sigma-clip threshold for :func:`rnngmm.preprocess.clean`.
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

    The cleaning and period settings form the dataset's
    :class:`rnngmm.objects.Preprocessing` (:meth:`preprocessing`), which
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

    def preprocessing(self):
        """The :class:`~rnngmm.objects.Preprocessing` these settings describe."""
        return Preprocessing.from_dict(asdict(self))

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
        check_reader_options(self.format, self.reader_options)
        check_template(self.template or DEFAULT_TEMPLATES[self.format])
        out_dir = os.path.dirname(os.path.abspath(self.output))
        if not os.path.isdir(out_dir):
            raise InputError(f"--output directory {out_dir!r} does not exist")
        self.preprocessing().validate()
        if self.min_class_prob is not None and not 0 <= self.min_class_prob <= 1:
            raise InputError(f"--class_prob must lie in [0, 1] (got {self.min_class_prob})")
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


def _catalog_reason(i, catalog, labels, config):
    """Reason to reject catalog object ``i`` before reading its light curve, or None."""
    if config.max_ss_resid is not None:
        value = catalog.extra[config.ss_resid_col][i]
        if not value <= config.max_ss_resid:
            return f"ss_resid above cut ({value:.4g} > {config.max_ss_resid})"
    if config.min_class_prob is not None:
        value = catalog.extra[config.class_prob_col][i]
        if not value >= config.min_class_prob:
            return f"class probability below cut ({value:.4g} < {config.min_class_prob})"
    if config.class_map is not None and labels[i] and labels[i] not in config.class_map:
        return f"class not in class map ({labels[i]})"
    return None


def _loader(config, ids=None):
    """Function ``object_id, counts -> (time, mag, err)`` for the configured input.

    ``ids`` (the objects of this rank) limits what a long table is read for:
    a Parquet table is read only for those ids (pyarrow filter on
    ``lc_id_col``); other tables are read whole and only those objects kept.
    """
    options = check_reader_options(config.format, config.reader_options)
    if os.path.isdir(config.lightcurves):
        template = config.template or DEFAULT_TEMPLATES[config.format]

        def load(object_id, counts):
            path = locate_lightcurve(config.lightcurves, object_id, template)
            return read_lightcurve(path, config.format, counts, **options)
        return load
    objects = read_table_objects(config.lightcurves, config.lc_id_col, ids=ids,
                                 format=config.format, **options)
    return objects.load


def _process_shard(indices, catalog, labels, periods, config, progress=None, scale=1):
    """Prepare the objects ``indices`` of this rank; returns (kept, rejects, counts).

    ``progress`` (rank 0's :class:`rnngmm.progress.Progress`) is told
    ``scale`` x the objects done here (every rank holds an equal share).
    """
    load = _loader(config, ids=[str(catalog.ids[i]) for i in indices])
    settings = config.preprocessing()
    kept, rejects, point_counts = [], [], Counter()
    for done, i in enumerate(indices):
        if progress is not None:
            progress.update(min(done * scale, progress.total))
        object_id = catalog.ids[i]
        reason = _catalog_reason(i, catalog, labels, config)
        if reason is None:
            try:
                counts = {}
                prepared = prepare_object(*load(object_id, counts), periods[i], settings)
            except BadLightCurve as exc:
                reason = exc.reason
            else:
                point_counts.update(counts)
                point_counts.update(prepared.dropped)
                kept.append((int(i), prepared.period, prepared.period_source,
                             prepared.period_power, prepared.time,
                             prepared.mag.astype(np.float32), prepared.err.astype(np.float32)))
                continue
        rejects.append((int(catalog.rows[i]), object_id, reason))
    return kept, rejects, dict(point_counts)


def write_rejects(path, rejects):
    """Write ``(row, id, reason)`` rows as an ECSV table (atomically)."""
    from astropy.table import Table
    rows = sorted(rejects)
    table = Table([np.array([r[0] for r in rows], np.int64),
                   np.array([r[1] for r in rows], dtype=str),
                   np.array([r[2] for r in rows], dtype=str)],
                  names=("catalog_row", "id", "reason"))
    table.meta["comments"] = ["Objects of the catalog left out of the dataset, and why."]
    with atomic_path(path) as tmp:
        table.write(tmp, format="ascii.ecsv", overwrite=True)


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
    extra_cols = tuple(config.extra_cols)
    filter_cols = tuple(c for c, on in ((config.ss_resid_col, config.max_ss_resid),
                                        (config.class_prob_col, config.min_class_prob))
                        if on is not None and c not in extra_cols)
    catalog = read_catalog(config.catalog, config.id_col, config.label_col,
                           config.period_col, extra_cols + filter_cols,
                           config.catalog_format)
    for column in filter_cols:
        if catalog.extra[column].dtype.kind not in "iuf":
            raise InputError(f"catalog column {column!r} used as a cut is not numeric")
    n = len(catalog)
    labels = catalog.labels if catalog.labels is not None else np.full(n, "", dtype=object)
    periods = catalog.periods if catalog.periods is not None else np.full(n, np.nan)
    progress = Progress(n, interval=10.0, label="prepare") if dist.is_root else None
    try:
        part = _process_shard(dist.shard(n), catalog, labels, periods, config,
                              progress, dist.size)
    except InputError:
        raise
    except Exception:
        if dist.size == 1:
            raise
        # One failing rank would leave the others waiting in gather forever.
        traceback.print_exc()
        dist.abort(1)
    parts = dist.gather(part)
    if not dist.is_root:
        return None
    kept = sorted(k for p in parts for k in p[0])
    rejects = list(catalog.rejects) + [r for p in parts for r in p[1]]
    point_counts = Counter()
    for p in parts:
        point_counts.update(p[2])
    index = np.array([k[0] for k in kept], dtype=np.int64)
    mapped = np.array([(config.class_map or {}).get(label, label) for label in labels],
                      dtype=object)
    objects = {
        "id": catalog.ids[index],
        "label": mapped[index] if len(index) else [],
        "period": np.array([k[1] for k in kept], np.float64),
        "period_source": [k[2] for k in kept],
        "period_power": np.array([k[3] for k in kept], np.float64),
    }
    write_dataset(config.output, objects, [k[4:] for k in kept],
                  extra={c: catalog.extra[c][index] for c in extra_cols},
                  inputs=_provenance(config))
    write_rejects(rejects_path(config.output), rejects)
    result = PrepareResult(
        output=config.output, rejects_path=rejects_path(config.output),
        n_input=n + len(catalog.rejects), n_kept=len(kept),
        reject_counts=dict(Counter(reason_category(r[2]) for r in rejects)),
        point_counts=dict(point_counts),
        period_sources=dict(Counter(k[2] for k in kept)),
        seconds=clock.perf_counter() - start)
    log(summary(result, dist.size))
    return result


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
