"""``rnngmm flag``: classify a new catalog and flag anomalies with a trained run.

Runs as one process or under ``mpirun``/``srun`` (mpi4py): ranks share the
catalog's shards; the output is the same file either way.
"""

from ..io.readers import READERS
from .common import add_deprecated, add_logging_flags, add_pass_through
from .prepare import add_reader_flags

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
    p.add_argument("--output", default=None,
                   help="output table: .ecsv, .fits, .csv, .h5 or .parquet (written "
                        "atomically; units and column descriptions in its metadata); "
                        "required")
    add_deprecated(p, "--out", "--output", "output")
    src = p.add_argument_group("input: a catalog + light curves, or a prepared dataset")
    src.add_argument("--catalog", default=None,
                     help="catalog file (CSV, ECSV, FITS, VOTable, Parquet)")
    src.add_argument("--catalog_format", default=None,
                     help="astropy format of the catalog (default: from its suffix)")
    src.add_argument("--lightcurves", default=None,
                     help="directory of per-object light-curve files, or one table "
                          "(--format table, ztf or gaia) holding every object; a Parquet "
                          "table is read per shard, only the rows of its objects")
    src.add_argument("--format", default="asassn", choices=sorted(READERS),
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
    add_pass_through(cols, "catalog columns copied to the output")
    cols.add_argument("--time_col", default=None,
                      help="time column (--format table: default time; ztf: mjd)")
    cols.add_argument("--mag_col", default=None,
                      help="magnitude column (--format table/ztf: default mag)")
    cols.add_argument("--err_col", default=None,
                      help="error column (--format table: default err; ztf: magerr)")
    cols.add_argument("--lc_id_col", default=None,
                      help="id column of a single light-curve table (default: --id_col)")
    cols.add_argument("--filter", default=None, help="keep one filter (--format asassn)")
    add_reader_flags(cols)
    per = p.add_argument_group("periods (default: the run's; objects are cleaned and "
                               "given periods exactly as its training data was)")
    per.add_argument("--min_period", type=float, default=None,
                     help="override the run's shortest Lomb-Scargle period (days)")
    per.add_argument("--max_period", type=float, default=None,
                     help="override the run's longest Lomb-Scargle period (days)")
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
    ex.add_argument("--with_code", action="store_true",
                    help="also write each object's latent code (columns code_0 ...: the "
                         "mean over its chunks), e.g. for neighbours or maps")
    ex.add_argument("--resume", action="store_true",
                     help="reuse the completed shards of an interrupted run with the "
                          "same inputs (in OUT.parts/)")
    ex.add_argument("--progress_interval", type=float, default=10.0,
                     help="seconds between progress lines (default: %(default)s)")
    add_logging_flags(p)
    p.set_defaults(run=run_command)
    return p


def config_from_args(args):
    """The :class:`~rnngmm.flagging.job.FlagConfig` the flags describe."""
    from dataclasses import fields

    from ..flagging.job import FlagConfig
    names = {f.name for f in fields(FlagConfig)}
    values = {k: v for k, v in vars(args).items() if k in names}
    values["percentiles"] = tuple(float(p) for p in args.percentiles)
    return FlagConfig(**values)


def run_command(args):
    """Entry point of ``rnngmm flag``: any failure on any rank ends the whole job."""
    from ..flagging.job import run_flag_job
    config = config_from_args(args)
    config.validate()
    return run_flag_job(config)
