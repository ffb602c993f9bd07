"""``rnngmm prepare``: catalog + light curves -> HDF5 dataset + rejects table."""

from rnngmm.errors import InputError
from rnngmm.cli.common import (add_logging_flags, add_pass_through, add_reader_flags,
                               reader_flag_values)
from rnngmm.io.readers import DEFAULT_TEMPLATES, ONE_BAND_NOTE, READERS, check_reader_options
from rnngmm.lightcurves.periods import MAX_PERIOD, MIN_PERIOD
from rnngmm.lightcurves.objects import MIN_CATALOG_PERIOD, PERIOD_SOURCES
from rnngmm.prepare import BLOCK_OBJECTS, PrepareConfig, parse_class_map, prepare


def add_parser(subparsers):
    """Register the ``prepare`` subcommand."""
    p = subparsers.add_parser(
        "prepare",
        help="ingest a catalog and its light curves into one HDF5 dataset",
        description="Read a catalog (CSV/ECSV/FITS/VOTable/Parquet) and per-object light-curve "
                    "files (or one long table), clean them, find missing periods with "
                    "Lomb-Scargle, and write an HDF5 dataset plus a rejects table "
                    "(<output stem>.rejects.ecsv) accounting for every catalog row. "
                    "Runs in parallel under mpirun/srun. One band per object: "
                    + ONE_BAND_NOTE + ".")
    io = p.add_argument_group("inputs and output")
    io.add_argument("--catalog", required=True,
                    help="catalog table with one row per object")
    io.add_argument("--catalog_format", default=None,
                    help="astropy format of the catalog (e.g. ascii.csv, fits, votable); "
                         "default: from the file suffix")
    io.add_argument("--lightcurves", required=True,
                    help="directory of per-object light-curve files, or one long table "
                         "holding all objects (with --format table and --lc_id_col)")
    io.add_argument("--format", default="asassn", choices=sorted(READERS),
                    help="light-curve file format (default: %(default)s)")
    io.add_argument("--template", default=None,
                    help="per-object file name with '{id}' (and optionally '{band}', filled "
                         "with --band, e.g. '{id}_{band}.tbl'), default by format: "
                         + ", ".join(f"{k} {v}" for k, v in DEFAULT_TEMPLATES.items()))
    io.add_argument("--output", required=True, help="dataset file to write (.h5)")
    cols = p.add_argument_group("column names")
    cols.add_argument("--id_col", default="id", help="catalog id column (default: %(default)s)")
    cols.add_argument("--label_col", default=None, help="catalog class-label column")
    cols.add_argument("--period_col", default=None, help="catalog period column (days)")
    add_pass_through(cols, "catalog columns copied into the dataset (and from there "
                           "to score's and flag's outputs)")
    cols.add_argument("--time_col", default=None,
                      help="time column of --format table/ztf files (default: time; ztf: mjd)")
    cols.add_argument("--mag_col", default=None,
                      help="magnitude column of --format table/ztf files (default: mag)")
    cols.add_argument("--err_col", default=None,
                      help="error column of --format table/ztf files (default: err; "
                           "ztf: magerr)")
    cols.add_argument("--lc_id_col", default="id",
                      help="object-id column of a long light-curve table (default: "
                           "%(default)s); a Parquet table is read per rank, only the rows "
                           "of its objects, any other table whole by every rank")
    cols.add_argument("--filter", nargs="+", default=None, metavar="FILTER",
                      help="keep only this filter of asassn files (e.g. V or g); an alias "
                           "of --band")
    add_reader_flags(cols, several_bands=False)
    cuts = p.add_argument_group("filters")
    cuts.add_argument("--min_points", type=int, default=20,
                      help="reject objects with fewer cleaned points (default: %(default)s)")
    cuts.add_argument("--sigma_clip", type=float, default=None,
                      help="drop points further than this many robust sigmas from the "
                           "median (default: no clipping)")
    cuts.add_argument("--ss_resid", type=float, default=None,
                      help="reject objects whose --ss_resid_col exceeds this value")
    cuts.add_argument("--ss_resid_col", default="ss_resid",
                      help="catalog column for --ss_resid (default: %(default)s)")
    cuts.add_argument("--class_prob", type=float, default=None,
                      help="reject objects whose --class_prob_col is below this value")
    cuts.add_argument("--class_prob_col", default="class_prob",
                      help="catalog column for --class_prob (default: %(default)s)")
    cuts.add_argument("--class_map", default=None,
                      help="merge labels into super-classes: a JSON file {\"sub\": \"super\"} "
                           "or inline 'EW:ECL,EA:ECL'; labels not in the map are rejected")
    per = p.add_argument_group("periods")
    per.add_argument("--period_source", default="auto", choices=PERIOD_SOURCES,
                     help="auto: the catalog period when usable (finite, at least "
                          "--min_catalog_period, at most the baseline), else Lomb-Scargle "
                          "(default: %(default)s); flag reuses this rule")
    per.add_argument("--min_period", type=float, default=MIN_PERIOD,
                     help="shortest Lomb-Scargle period in days (default: %(default)s)")
    per.add_argument("--max_period", type=float, default=MAX_PERIOD,
                     help="longest Lomb-Scargle period in days, also capped at the "
                          "baseline (default: %(default)s)")
    per.add_argument("--min_catalog_period", type=float, default=MIN_CATALOG_PERIOD,
                     help="catalog periods shorter than this (days) are implausible and "
                          "searched instead (default: %(default)s)")
    p.add_argument("--block_objects", type=int, default=BLOCK_OBJECTS,
                   help="catalog objects per block of work; blocks go round robin to the "
                        "MPI ranks so slow (Lomb-Scargle) objects spread over all of them "
                        "(default: %(default)s)")
    add_logging_flags(p)
    p.set_defaults(run=run)
    return p


def reader_options_from_args(args):
    """Reader options of the parsed flags (validated by ``check_reader_options``).

    Raises
    ------
    InputError
        For several ``--band``/``--filter`` values: a model learns one band.
    """
    values = reader_flag_values(args)
    for flag in ("band", "filter"):
        if isinstance(values[flag], tuple):
            raise InputError(f"--{flag} {' '.join(values[flag])}: {ONE_BAND_NOTE}; "
                             f"give one --{flag} value")
    options = {}
    if values["filter"]:
        options["filter"] = values["filter"]
    if args.format in ("table", "ztf"):
        options.update(time_col=args.time_col, mag_col=args.mag_col, err_col=args.err_col)
    options.update(band_col=args.band_col, band=values["band"], flux_col=args.flux_col,
                   flux_err_col=args.flux_err_col, zero_point=values["zero_point"])
    return check_reader_options(args.format, options)


def config_from_args(args):
    """Build and validate a ``PrepareConfig`` from parsed flags."""
    if args.filter and args.format != "asassn":
        raise InputError("--filter only applies to --format asassn")
    reader_options = reader_options_from_args(args)
    config = PrepareConfig(
        catalog=args.catalog, lightcurves=args.lightcurves, output=args.output,
        format=args.format, id_col=args.id_col, label_col=args.label_col,
        period_col=args.period_col,
        extra_cols=tuple(args.pass_through),
        catalog_format=args.catalog_format, template=args.template,
        reader_options=reader_options, lc_id_col=args.lc_id_col,
        min_points=args.min_points, sigma_clip=args.sigma_clip,
        ss_resid_col=args.ss_resid_col, max_ss_resid=args.ss_resid,
        class_prob_col=args.class_prob_col, min_class_prob=args.class_prob,
        class_map=parse_class_map(args.class_map), period_source=args.period_source,
        min_period=args.min_period, max_period=args.max_period,
        min_catalog_period=args.min_catalog_period, block_objects=args.block_objects)
    config.validate()
    return config


def run(args):
    """Run ``rnngmm prepare``; returns the exit code."""
    from rnngmm.dist import init_mpi
    config = config_from_args(args)
    prepare(config, init_mpi())
    return 0
