"""Sharded, resumable flagging of a catalog on one or many MPI ranks.

Every rank builds the same shard plan, processes its round-robin share of
the shards not yet completed (a reader thread reads and prepares the next
batches of objects while the current one is scored, see
:mod:`rnngmm.flagging.stream`), and writes each finished
shard atomically under ``<out>.parts/``. When all ranks are done, rank 0
reads the shards in catalog order and writes the output atomically, one
shard's rows at a time (:mod:`rnngmm.flagging.assemble`); the parts
directory is then removed.

Failure handling: any exception on any rank in a multi-rank job calls
``MPI_Abort`` so every rank stops at once; a rank killed outright is noticed
by ``mpirun``/``srun``, which ends the job. Ranks that finished early wait in
a non-blocking barrier that they poll (sleeping in between), so they neither
hang nor burn a core while the others work.
"""

import os
import resource
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from rnngmm import debug
from rnngmm._version import __version__
from rnngmm.errors import InputError
from rnngmm.io.dataset import provenance
from rnngmm.object_table import percentile_label
from rnngmm.flagging import shards as sh
from rnngmm.flagging.assemble import read_results, row_status, write_output
from rnngmm.flagging.catalog_pass import adjust_on_catalog
from rnngmm.progress import Progress
from rnngmm.flagging.results import RowResults, write_shard
from rnngmm.flagging.prefetch import Prefetch
from rnngmm.flagging.stream import batches_of, prepare_batch, score_prepared

#: Seconds between polls of a pending barrier.
POLL_SECONDS = 0.05


@dataclass
class FlagJob:
    """Everything a flagging job needs besides the rank topology.

    Attributes
    ----------
    source : CatalogSource or DatasetSource
    scorer : object
        ``n_classes`` and ``score(chunks)``, e.g. ``ModelScorer``.
    novelty : rnngmm.novelty.mixture.GMMNovelty
        The run's mixture: thresholds and training energies.
    class_names : list of str
    preprocessing : rnngmm.lightcurves.objects.Preprocessing
        The run's cleaning and period settings.
    chunking : rnngmm.lightcurves.objects.Chunking
        The run's chunking.
    out : str
        Output file.
    run_id : str
    percentiles : sequence of float
    batch_objects : int
        Objects in flight per rank.
    shard_objects : int
        Catalog rows per shard (unit of resumption and of work sharing).
    resume : bool
    meta : dict
        Extra provenance for the output's metadata.
    progress_interval : float
        Seconds between progress lines on rank 0.
    with_code : bool
        Also write each object's mean latent code (``code_0 ...``).
    code_size : int
        Code length (for rows of a shard where nothing was scored).
    prefetch_batches : int
        Batches a reader thread prepares ahead of scoring (0: no thread).
    keep_table : bool
        Return the whole output table from :func:`run_flagging` (tests, the
        Python API); ``rnngmm flag`` does not, so rank 0 never holds it.
    summary : object, optional
        Given every block of the output (``summary.add(table)``), e.g.
        :class:`rnngmm.flagging.job.FlagSummary`.
    calibration : rnngmm.flagging.catalog_pass.Calibration, optional
        Thresholds from the catalog and/or its estimated class mix (default:
        the run's training thresholds, the network's probabilities).
    training_prior : tuple, optional
        ``(prior, source)`` the class probabilities were fitted to (for
        ``calibration.estimate_priors``).
    adjustment : rnngmm.flagging.catalog_pass.CatalogAdjustment
        Set by :func:`run_flagging` when the calibration needs a catalog pass.
    """

    source: object
    scorer: object
    novelty: object
    class_names: list
    preprocessing: object
    chunking: object
    out: str
    run_id: str
    percentiles: tuple = (80, 95, 99)
    batch_objects: int = 256
    shard_objects: int = 2048
    resume: bool = False
    meta: dict = field(default_factory=dict)
    progress_interval: float = 10.0
    with_code: bool = False
    code_size: int = 0
    prefetch_batches: int = 2
    keep_table: bool = True
    summary: object = None
    calibration: object = None
    training_prior: tuple = None
    adjustment: object = None

    @property
    def bands(self):
        """Band names of a job reading several bands (the source's ``bands``,
        else its ``reader_options["bands"]``, in the order given), else None."""
        bands = getattr(self.source, "bands", None)
        if not bands:
            bands = (getattr(self.source, "reader_options", None) or {}).get("bands")
        return tuple(str(b) for b in bands) if bands else None


def wait_for_all(dist, on_idle=None):
    """Barrier that polls instead of spinning; returns when every rank arrived.

    If another rank dies, ``mpirun`` terminates this process (or the other
    rank's ``Abort`` does), so this never waits forever on a dead peer.
    """
    if dist.comm is None:
        return
    request = dist.comm.Ibarrier()
    while not request.Test():
        if on_idle is not None:
            on_idle()
        time.sleep(POLL_SECONDS)


def peak_rss_mb():
    """Peak resident memory of this process so far, in MiB (Linux ru_maxrss)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _manifest(job, n_rows):
    return sh.manifest_for(n_rows=n_rows, shard_objects=job.shard_objects,
                           ids_fingerprint=job.source.ids_fingerprint(),
                           run_id=job.run_id, class_names=job.class_names,
                           chunking={**job.chunking.to_dict(),
                                     "preprocessing": job.preprocessing.to_dict(),
                                     "with_code": bool(job.with_code)},
                           inputs=job.source.inputs)


def _setup_parts(job, dist, plan, directory):
    """Rank 0 prepares the parts directory and finds completed shards; all
    ranks get the list of shards still to do (or the error)."""
    todo, error = None, None
    if dist.is_root:
        try:
            sh.prepare_parts(directory, _manifest(job, job.source.n_rows), resume=job.resume)
            done = set(sh.completed_shards(directory, plan, job.scorer.n_classes)
                       if job.resume else [])
            todo = [s.index for s in plan if s not in done]
        except InputError as exc:
            error = str(exc)
    todo, error = dist.bcast((todo, error))
    if error is not None:
        raise InputError(error)
    return [plan[i] for i in todo]


class _RootProgress:
    """Progress of the whole job as seen by rank 0: objects in shard files on
    disk (all ranks' completed shards) plus rank 0's shard in progress."""

    def __init__(self, job, plan, directory, todo):
        self.sizes = {os.path.basename(sh.shard_path(directory, s)): len(s) for s in plan}
        self.directory = directory
        total = sum(len(s) for s in plan)
        already = total - sum(len(s) for s in todo)
        self.progress = Progress(total, already, job.progress_interval)
        self.in_flight = 0
        self.on_disk = already

    def _scan(self):
        try:
            names = os.listdir(self.directory)
        except OSError:
            return
        self.on_disk = max(self.on_disk, sum(self.sizes.get(n, 0) for n in names))

    def shard_written(self, shard):
        """Rank 0 finished ``shard``: count it without waiting for a scan."""
        self.in_flight = 0
        self.on_disk += len(shard)

    def tick(self, force=False):
        """Print a line if due (scans the parts directory only then)."""
        if force or self.progress.due():
            self._scan()
            done = min(self.on_disk + self.in_flight, self.progress.total)
            self.progress.update(done, force=True)


def _prepared_batches(job, shards):
    """``(shard, PreparedBatch)`` of this rank's shards in order, and
    ``(shard, None)`` after each shard's last batch (runs in the reader thread)."""
    for shard in shards:
        records = job.source.iter_records(shard.rows)
        for items in batches_of(records, job.batch_objects):
            yield shard, prepare_batch(items, job.scorer.n_classes, job.preprocessing,
                                       job.chunking, job.bands)
        yield shard, None


def _scored_shards(job, shards):
    """``(shard, rows, results)`` of each shard of ``shards``, in order, and
    ``(None, rows, None)`` after each batch (for progress). Objects are read
    and prepared ``job.prefetch_batches`` batches ahead in a reader thread
    (0: in turn, in this thread)."""
    n_classes = job.scorer.n_classes

    def finished(batches):
        parts, rows = [], []
        for shard, batch in batches:
            if batch is not None:
                parts.append(score_prepared(batch, job.scorer, job.chunking))
                rows.append(batch.rows)
                yield None, batch.rows, None
                continue
            yield (shard, np.concatenate(rows) if rows else np.zeros(0, np.int64),
                   RowResults.concatenate(parts, n_classes) if parts
                   else RowResults.empty(0, n_classes, job.bands))
            parts, rows = [], []

    if job.prefetch_batches < 1:
        yield from finished(_prepared_batches(job, shards))
        return
    with Prefetch(lambda: _prepared_batches(job, shards), depth=job.prefetch_batches) as batches:
        yield from finished(batches)


def process_shards(job, shards, directory, dist, root_progress=None):
    """Score this rank's ``shards`` and write each one's file."""
    debug.flag_fault(dist.rank, 0)
    written = 0
    for shard, rows, results in _scored_shards(job, shards):
        if shard is None:  # one batch scored
            if root_progress is not None:
                root_progress.in_flight += len(rows)
                root_progress.tick()
            continue
        if job.with_code and results.code is None:  # no row of the shard was scored
            results.code = np.full((len(results), job.code_size), np.nan)
        elif not job.with_code:
            results.code = None
        if not np.array_equal(rows, shard.rows):
            raise RuntimeError(f"shard {shard.index}: the source returned rows out of order")
        write_shard(sh.shard_path(directory, shard), results, shard=shard.index,
                    start=shard.start, stop=shard.stop)
        written += 1
        if root_progress is not None:
            root_progress.shard_written(shard)
            root_progress.tick()
        debug.flag_fault(dist.rank, written)


def collect_results(plan, directory, n_classes):
    """All shards' results in catalog order, in memory (tests; the output is
    written streaming, see :mod:`rnngmm.flagging.assemble`)."""
    return RowResults.concatenate([read_results(shard, directory, n_classes)
                                   for shard in plan], n_classes)


#: What each novelty score means, for the output's metadata.
SCORE_DESCRIPTIONS = {
    "class_energy": "sample energy ranked within the predicted class: every known "
                    "class is flagged at the expected rate",
    "class_energy_msp": "mean of the sample energy and of the classifier's doubt (1 - max "
                        "class probability), each ranked within the predicted class, "
                        "ranked again: every known class is flagged at the expected rate",
    "energy": "sample energy with one threshold for all classes (rare classes are flagged "
              "more often)"}


def novelty_metadata(novelty, percentiles):
    """The run's novelty score and the flag rate expected of known objects."""
    score = novelty.novelty_score
    return {"novelty_score": score,
            "novelty_score_description": SCORE_DESCRIPTIONS[score],
            "sampling_conditioned": bool(novelty.conditions_on_sampling),
            "expected_flag_rate": {percentile_label(p): round(rate, 6) for p, rate in
                                   novelty.expected_flag_rates(percentiles).items()}}


def output_metadata(job, thresholds, results):
    """Provenance and summary stored in the output's metadata."""
    base = provenance(job.source.inputs)
    meta = {"format": "rnngmm-flags", "run_id": job.run_id,
            "package_version": __version__, "command": base["command"],
            "created": base["created"], "inputs": base["inputs"],
            "class_names": list(job.class_names),
            "percentiles": [float(p) for p in job.percentiles],
            "energy_aggregation": "mean over the object's chunks (as training thresholds)",
            "preprocessing": job.preprocessing.to_dict(), "chunking": job.chunking.to_dict(),
            "n_rows": int(len(results)), "n_ok": int(np.count_nonzero(results.ok))}
    for percentile, threshold in thresholds.items():
        meta[f"threshold_{percentile_label(percentile)}"] = float(threshold)
    if job.bands:
        meta["bands"] = list(job.bands)
        meta["band_rule"] = ("one row per star: each band cleaned and chunked on its own, "
                             "one period per star (catalog, else a multi-band "
                             "Lomb-Scargle search), the star scored on all its bands' "
                             "chunks; per-band columns from each band's chunks alone")
    meta.update(novelty_metadata(job.novelty, job.percentiles))
    meta.update(job.adjustment.metadata() if job.adjustment is not None
                else {"calibration": "training"})
    meta.update(job.meta)
    return meta


def assemble_output(job, plan, directory):
    """Write the output file atomically from the shards, one shard at a time (rank 0).

    Returns
    -------
    astropy.table.Table or None
        The table that was written when ``job.keep_table``, else None.
    """
    results = row_status(plan, directory, job.scorer.n_classes)
    thresholds = (job.adjustment.thresholds if job.adjustment is not None
                  else job.novelty.score_thresholds(job.percentiles))
    return write_output(job, plan, directory, output_metadata(job, thresholds, results),
                        len(results))


def run_flagging(job, dist):
    """Run a flagging job on this rank; rank 0 returns the written table
    (None unless ``job.keep_table``).

    Parameters
    ----------
    job : FlagJob
    dist : rnngmm.dist.Dist

    Returns
    -------
    astropy.table.Table or None
        The output table on rank 0 with ``job.keep_table``, else None.
    """
    plan = sh.plan_shards(job.source.n_rows, job.shard_objects)
    directory = sh.parts_dir(job.out)
    todo = _setup_parts(job, dist, plan, directory)
    mine = sh.shards_of_rank(todo, dist.rank, dist.size)
    root_progress = _RootProgress(job, plan, directory, todo) if dist.is_root else None
    if root_progress is not None:
        root_progress.tick(force=True)
    process_shards(job, mine, directory, dist, root_progress)
    wait_for_all(dist, on_idle=root_progress.tick if root_progress else None)
    # Every rank is done: this gather cannot wait on a busy peer.
    peaks = dist.gather(round(peak_rss_mb(), 1))
    if job.calibration is not None and job.calibration.needs_pass:
        job.adjustment = adjust_on_catalog(job, plan, directory, dist)
    table = None
    if dist.is_root:
        root_progress.tick(force=True)
        job.meta["peak_rss_mb_per_rank"] = peaks
        table = assemble_output(job, plan, directory)
        sh.remove_parts(directory)
    wait_for_all(dist)
    return table


def abort_on_failure(dist, exc):
    """Report ``exc`` from this rank and stop every rank of the job."""
    import traceback
    if not isinstance(exc, InputError):
        traceback.print_exc()
    print(f"rnngmm flag: rank {dist.rank} of {dist.size} failed: "
          f"{type(exc).__name__}: {exc}; aborting the job", file=sys.stderr, flush=True)
    dist.abort(2 if isinstance(exc, InputError) else 1)
