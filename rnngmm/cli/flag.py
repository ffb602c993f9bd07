"""``rnngmm flag``: classify a new catalog and flag anomalies with a trained run.

Runs as one process or under ``mpirun``/``srun`` (mpi4py): ranks share the
catalog's shards; the output is the same file either way.
"""

import os
from collections import Counter

import numpy as np

from ..errors import InputError
from ..periods import MAX_PERIOD, MIN_PERIOD

DEFAULT_PERCENTILES = (80.0, 95.0, 99.0)


def add_parser(subparsers):
    """Register ``flag`` and its flags."""
    p = subparsers.add_parser(
        "flag", help="classify a catalog and flag anomalous objects with a trained run",
        description="Classify every object of a catalog with a trained run and flag "
                    "anomalies at the run's energy thresholds. One output row per "
                    "catalog row, in catalog order. Use under mpirun/srun to share "
                    "the work between ranks.")
    p.add_argument("--run_dir", required=True, help="run directory written by 'rnngmm train'")
    p.add_argument("--out", required=True,
                   help="output table: .ecsv, .fits, .csv or .h5 (written atomically)")
    src = p.add_argument_group("input: a catalog + light curves, or a prepared dataset")
    src.add_argument("--catalog", default=None, help="catalog file (CSV, ECSV, FITS, VOTable)")
    src.add_argument("--catalog_format", default=None,
                     help="astropy format of the catalog (default: from its suffix)")
    src.add_argument("--lightcurves", default=None,
                     help="directory of per-object light-curve files, or one table "
                          "(--format table) holding every object")
    src.add_argument("--format", default="asassn", choices=("asassn", "crts", "table"),
                     help="light-curve format (default: %(default)s)")
    src.add_argument("--template", default=None,
                     help="light-curve file name with {id}, e.g. '{id}.dat' "
                          "(default: per format)")
    src.add_argument("--data", default=None,
                     help="prepared HDF5 dataset ('rnngmm prepare') instead of "
                          "--catalog/--lightcurves")
    cols = p.add_argument_group("columns")
    cols.add_argument("--id_col", default="id", help="catalog id column (default: %(default)s)")
    cols.add_argument("--period_col", default=None,
                      help="catalog period column in days (default: 'period' when the "
                           "catalog has one); missing or unusable periods are searched "
                           "with Lomb-Scargle")
    cols.add_argument("--label_col", default=None,
                      help="catalog column of known classes: passed through, and the "
                           "summary counts flagged objects whose class the run never saw")
    cols.add_argument("--pass_through", nargs="+", default=[], metavar="COL",
                      help="catalog columns copied to the output")
    cols.add_argument("--time_col", default="time", help="time column (--format table)")
    cols.add_argument("--mag_col", default="mag", help="magnitude column (--format table)")
    cols.add_argument("--err_col", default="err", help="error column (--format table)")
    cols.add_argument("--lc_id_col", default=None,
                      help="id column of a single light-curve table (default: --id_col)")
    cols.add_argument("--filter", default=None, help="keep one filter (--format asassn)")
    per = p.add_argument_group("periods")
    per.add_argument("--min_period", type=float, default=MIN_PERIOD,
                     help="shortest Lomb-Scargle period in days (default: %(default)s)")
    per.add_argument("--max_period", type=float, default=MAX_PERIOD,
                     help="longest Lomb-Scargle period in days (default: %(default)s)")
    ex = p.add_argument_group("flags and execution")
    ex.add_argument("--percentiles", nargs="+", type=float, default=list(DEFAULT_PERCENTILES),
                     help="training-energy percentiles to flag at (default: 80 95 99)")
    ex.add_argument("--batch_objects", type=int, default=512,
                     help="objects in flight per rank: read, chunked and scored together "
                          "(bounds memory; default: %(default)s)")
    ex.add_argument("--shard_objects", type=int, default=2048,
                     help="catalog rows per shard, the unit of work sharing and of "
                          "--resume (default: %(default)s)")
    ex.add_argument("--batch_size", type=int, default=512,
                     help="chunks per forward pass (default: %(default)s)")
    ex.add_argument("--resume", action="store_true",
                     help="reuse the completed shards of an interrupted run with the "
                          "same inputs (in OUT.parts/)")
    ex.add_argument("--progress_interval", type=float, default=10.0,
                     help="seconds between progress lines (default: %(default)s)")
    p.set_defaults(run=run_command)
    return p


def validate(args):
    """Check every flag before any work starts.

    Raises
    ------
    InputError
        With one clear message for the first problem found.
    """
    from ..flagging.output import output_format, reserved_columns
    if args.data is not None:
        if args.catalog is not None or args.lightcurves is not None:
            raise InputError("give either --data or --catalog/--lightcurves, not both")
        if not os.path.isfile(args.data):
            raise InputError(f"dataset {args.data!r} does not exist")
    else:
        if args.catalog is None or args.lightcurves is None:
            raise InputError("give --catalog and --lightcurves (or --data)")
        if not os.path.isfile(args.catalog):
            raise InputError(f"catalog {args.catalog!r} does not exist")
        if not os.path.exists(args.lightcurves):
            raise InputError(f"light curves {args.lightcurves!r} do not exist")
    if args.filter and args.format != "asassn":
        raise InputError("--filter only applies to --format asassn")
    if not os.path.isdir(args.run_dir):
        raise InputError(f"run directory {args.run_dir!r} does not exist")
    output_format(args.out)
    out_dir = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(out_dir):
        raise InputError(f"output directory {out_dir!r} does not exist")
    if not os.access(out_dir, os.W_OK):
        raise InputError(f"output directory {out_dir!r} is not writable")
    if not all(0 < p < 100 for p in args.percentiles):
        raise InputError(f"--percentiles must lie strictly between 0 and 100, "
                         f"got {args.percentiles}")
    if len(set(args.percentiles)) != len(args.percentiles):
        raise InputError(f"--percentiles has duplicates: {args.percentiles}")
    for name in ("batch_objects", "shard_objects", "batch_size"):
        if getattr(args, name) < 1:
            raise InputError(f"--{name} must be at least 1, got {getattr(args, name)}")
    if not 0 < args.min_period < args.max_period:
        raise InputError("need 0 < --min_period < --max_period")
    clashes = set(args.pass_through) & (reserved_columns([], args.percentiles)
                                        | {args.id_col})
    if clashes or any(c.startswith("prob_") for c in args.pass_through):
        raise InputError(f"--pass_through column(s) {sorted(clashes) or args.pass_through} "
                         "clash with output columns; rename them in the catalog")


def _reader_options(args):
    if args.format == "asassn" and args.filter:
        return {"filter": args.filter}
    if args.format == "table":
        return {"time_col": args.time_col, "mag_col": args.mag_col, "err_col": args.err_col}
    return {}


def build_source(args):
    """The flagging source the flags describe."""
    from ..flagging.sources import CatalogSource, DatasetSource
    pass_through = list(args.pass_through)
    if args.label_col and args.label_col not in pass_through:
        pass_through.append(args.label_col)
    if args.data is not None:
        source = DatasetSource(args.data, pass_through=[c for c in pass_through
                                                        if c != args.label_col])
        if args.label_col:
            source.columns[args.label_col] = source.labels if source.labels is not None \
                else np.full(source.n_rows, "", dtype=object)
        return source

    def make(period_col):
        return CatalogSource(args.catalog, args.lightcurves, args.format, id_col=args.id_col,
                             period_col=period_col, pass_through=pass_through,
                             label_col=args.label_col, template=args.template,
                             reader_options=_reader_options(args),
                             lc_id_col=args.lc_id_col, catalog_format=args.catalog_format)
    if args.period_col is not None:
        return make(args.period_col)
    try:
        return make("period")
    except InputError as exc:
        if "no column(s) period" not in str(exc):
            raise
        return make(None)


def _period_search(args):
    from ..periods import lomb_scargle_period

    def find_period(time, mag, err):
        return lomb_scargle_period(time, mag, err, min_period=args.min_period,
                                   max_period=args.max_period)[0]
    return find_period


def summary_lines(table, percentiles, class_names, label_col=None):
    """Human-readable summary of a flag table (rows, statuses, flags, novel)."""
    status = np.asarray(table["status"]).astype(str)
    ok = status == "ok"
    lines = [f"rnngmm flag: {len(table)} rows, {int(ok.sum())} scored"]
    reasons = Counter(s.split(" (")[0] for s in status[~ok])
    for reason, count in reasons.most_common():
        lines.append(f"  not scored: {count:6d}  {reason}")
    novel = None
    if label_col and label_col in table.colnames:
        labels = np.asarray(table[label_col]).astype(str)
        novel = ok & (labels != "") & ~np.isin(labels, list(class_names))
        lines.append(f"  scored objects whose class ({label_col}) the run never saw: "
                     f"{int(novel.sum())}")
    from ..flagging.output import anomaly_column
    for p in percentiles:
        flagged = np.asarray(table[anomaly_column(p)], bool)
        text = f"  anomaly_{p:g}: {int(flagged.sum())} flagged"
        if novel is not None:
            text += (f", of which {int((flagged & novel).sum())} truly novel "
                     f"({int((flagged & novel).sum())}/{int(novel.sum())} novel found)")
        lines.append(text)
    return lines


def _limit_threads(dist):
    """Share the node's cores between the ranks on it (before TF starts)."""
    if dist.local_size <= 1:
        return
    import tensorflow as tf
    threads = max(1, (os.cpu_count() or 1) // dist.local_size)
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


def execute(args, dist):
    """Validate, load the run, flag, write; returns the exit code."""
    from ..flagging.driver import FlagJob, run_flagging
    from ..flagging.scorer import EnergyCalibration, ModelScorer
    validate(args)
    source = build_source(args)
    _limit_threads(dist)
    from ..runs import load_run
    run = load_run(args.run_dir)
    class_names = [str(c) for c in run.class_names]
    from ..flagging.output import reserved_columns
    clashes = set(source.columns) & reserved_columns(class_names, args.percentiles)
    if clashes:
        raise InputError(f"--pass_through column(s) {sorted(clashes)} clash with output "
                         "columns; rename them in the catalog")
    job = FlagJob(source=source, scorer=ModelScorer(run.model, run.novelty, args.batch_size),
                  calibration=EnergyCalibration(run.novelty), class_names=class_names,
                  chunking=dict(run.chunking), find_period=_period_search(args),
                  out=args.out, run_id=str(run.run_id),
                  percentiles=tuple(float(p) for p in args.percentiles),
                  batch_objects=args.batch_objects, shard_objects=args.shard_objects,
                  resume=args.resume, progress_interval=args.progress_interval,
                  meta={"run_dir": os.path.abspath(args.run_dir), "n_ranks": dist.size,
                        "period_search": f"Lomb-Scargle {args.min_period}-"
                                         f"{args.max_period} d"})
    table = run_flagging(job, dist)
    if dist.is_root:
        for line in summary_lines(table, job.percentiles, class_names, args.label_col):
            print(line, flush=True)
        peaks = ", ".join(f"{p:.0f}" for p in table.meta["peak_rss_mb_per_rank"])
        print(f"rnngmm flag: peak memory per rank while scoring (MiB): {peaks}", flush=True)
        print(f"rnngmm flag: wrote {args.out}", flush=True)
    return 0


def run_command(args):
    """Entry point of ``rnngmm flag``: any failure on any rank ends the whole job."""
    from ..dist import init_mpi
    from ..flagging.driver import abort_on_failure
    dist = init_mpi()
    if dist.size == 1:
        return execute(args, dist)
    try:
        return execute(args, dist)
    except BaseException as exc:  # noqa: BLE001 - every failure must end every rank
        if isinstance(exc, SystemExit) and not exc.code:
            raise
        abort_on_failure(dist, exc)
    return 1

