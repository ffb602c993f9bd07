"""``rnngmm similar``: the catalog objects nearest to given ones in latent space."""

import logging
import os

from rnngmm.cli.common import add_logging_flags

log = logging.getLogger(__name__)


def add_parser(subparsers):
    """Register ``similar`` and its flags."""
    p = subparsers.add_parser(
        "similar", help="nearest catalog objects in latent space of given ids or light curves",
        description="Find the k catalog objects whose latent codes are nearest to each "
                    "query: catalog ids (--ids) or light curves not in the catalog "
                    "(--lightcurve, embedded with the run). Distance: Euclidean between "
                    "mean latent codes, each component standardised (mean 0, std 1) over "
                    "the table's scored objects (scikit-learn NearestNeighbors, exact). "
                    "A catalog id finds itself first, at distance 0. One output row per "
                    "(query, neighbour). A table flagged with several bands holds each "
                    "star's code (mean over all its bands' chunks); --lightcurve with "
                    "--band V g embeds the query star likewise.")
    p.add_argument("--table", required=True,
                   help="flag table with codes, from 'rnngmm embed' or "
                        "'rnngmm flag --with_code' (.ecsv, .fits, .csv, .h5, .parquet)")
    q = p.add_argument_group("queries (at least one of --ids, --lightcurve)")
    q.add_argument("--ids", nargs="+", default=[], metavar="ID",
                   help="catalog ids to find neighbours of")
    q.add_argument("--lightcurve", nargs="+", default=[], metavar="FILE",
                   help="light-curve file(s) to embed with --run_dir and find neighbours "
                        "of; the query id is the file name without its suffix")
    q.add_argument("--format", default="asassn", choices=("asassn", "crts"),
                   help="format of the --lightcurve files (default: %(default)s)")
    q.add_argument("--band", nargs="+", default=None, metavar="BAND",
                   help="band(s) of --format asassn files (use those the catalog was "
                        "flagged with, e.g. V, or V g: the star's bands are then embedded "
                        "together as one code)")
    q.add_argument("--filter", nargs="+", default=None, metavar="FILTER",
                   help="an alias of --band")
    q.add_argument("--period", nargs="+", type=float, default=None, metavar="DAYS",
                   help="period of each --lightcurve in days (default: searched with "
                        "Lomb-Scargle, as for catalog objects without one)")
    q.add_argument("--run_dir", default=None,
                   help="run that embeds the --lightcurve files (default: the run_dir "
                        "recorded in the table); must be the run that wrote the table")
    p.add_argument("--k", type=int, default=10,
                   help="neighbours per query, the query itself included when it is a "
                        "catalog object (default: %(default)s)")
    p.add_argument("--id_col", default=None,
                   help="id column of the table (default: its first column)")
    p.add_argument("--output", default=None,
                   help="write the neighbours here (.ecsv, .fits, .csv, .h5, .parquet) "
                        "instead of printing them")
    add_logging_flags(p)
    p.set_defaults(run=run_command)
    return p


def _check(args):
    from rnngmm.errors import InputError
    from rnngmm.flagging.output import output_format
    if not args.ids and not args.lightcurve:
        raise InputError("give --ids and/or --lightcurve (what to find neighbours of)")
    if args.k < 1:
        raise InputError(f"--k must be at least 1, got {args.k}")
    if args.period is not None and len(args.period) != len(args.lightcurve):
        raise InputError(f"--period needs one value per --lightcurve file: "
                         f"{len(args.period)} for {len(args.lightcurve)}")
    if args.filter and args.format != "asassn":
        raise InputError("--filter only applies to --format asassn")
    reader_options(args)
    for path in args.lightcurve:
        if not os.path.isfile(path):
            raise InputError(f"light curve {path!r} does not exist")
    if args.output is not None:
        output_format(args.output)


def reader_options(args):
    """Checked reader options of ``--band``/``--filter`` (several bands: ``bands``)."""
    from rnngmm.cli.common import band_value
    from rnngmm.io.readers import check_reader_options
    return check_reader_options(args.format, {"band": band_value(getattr(args, "band", None)),
                                              "filter": band_value(args.filter)})


def read_query(path, format, options, period):
    """One ``--lightcurve`` file as a record of :meth:`rnngmm.api.Run.embed`:
    ``(time, mag, err, period)``, or with several bands a
    :class:`~rnngmm.flagging.sources.BandedRecord`."""
    from rnngmm.errors import BadLightCurve, InputError
    from rnngmm.flagging.sources import BandedRecord
    from rnngmm.io.band_readers import read_lightcurve_bands
    from rnngmm.io.readers import read_lightcurve
    try:
        if "bands" in options:
            rest = {k: v for k, v in options.items() if k != "bands"}
            bands = read_lightcurve_bands(path, format, options["bands"], **rest)
            return BandedRecord(dict(bands), dict(bands.missing), float(period), "catalog")
        time, mag, err = read_lightcurve(path, format, **options)
    except BadLightCurve as exc:
        raise InputError(f"light curve {path!r}: {exc.reason}") from None
    return time, mag, err, float(period)


def embed_lightcurves(args, table, catalog):
    """Query ids and raw codes of the ``--lightcurve`` files."""
    import numpy as np

    from rnngmm.api import load_run
    from rnngmm.errors import InputError
    from rnngmm.flagging.table import table_meta
    run_dir = args.run_dir or table_meta(table, "run_dir")
    if not run_dir:
        raise InputError("--run_dir is required with --lightcurve (the table records none)")
    options = reader_options(args)
    records, names = [], []
    periods = args.period or [np.nan] * len(args.lightcurve)
    for path, period in zip(args.lightcurve, periods):
        records.append(read_query(path, args.format, options, period))
        names.append(os.path.splitext(os.path.basename(path))[0])
    run = load_run(run_dir)
    recorded_id = table_meta(table, "run_id")
    if recorded_id not in (None, run.run_id):
        log.warning(f"similar: the table was written by run {recorded_id!r}, the "
                    f"light curves are embedded with {run.run_id!r}; codes of different "
                    "runs are not comparable")
    codes = run.embed(records, ids=names)
    if codes.shape[1] != len(catalog.code_names):
        raise InputError(f"run {run_dir!r} makes codes of {codes.shape[1]} components, the "
                         f"table has {len(catalog.code_names)}: use the run that wrote it")
    bad = ~np.isfinite(codes).all(axis=1)
    if bad.any():
        status = run.predict([records[i] for i in np.flatnonzero(bad)])["status"]
        reasons = [f"{args.lightcurve[i]!r}: {s}" for i, s in zip(np.flatnonzero(bad), status)]
        raise InputError("light curve(s) could not be embedded: " + "; ".join(reasons))
    return names, codes


def run_command(args):
    """Entry point of ``rnngmm similar`` (rank 0 does the work under mpirun)."""
    import numpy as np

    from rnngmm import latent
    from rnngmm.dist import init_mpi
    from rnngmm.errors import InputError
    from rnngmm.flagging.output import write_table
    from rnngmm.flagging.table import read_table
    _check(args)
    if not init_mpi().is_root:
        return 0
    table = read_table(args.table)
    catalog = latent.catalog_codes(table, args.id_col)
    if args.k > len(catalog):
        raise InputError(f"--k {args.k} is larger than the {len(catalog)} objects with "
                         f"codes in {args.table!r}")
    ids = [str(i) for i in args.ids]
    rows = latent.explain_missing_ids(table, catalog, ids)
    query_ids, query_codes, self_rows = list(ids), [catalog.codes[rows]], list(rows)
    if args.lightcurve:
        names, codes = embed_lightcurves(args, table, catalog)
        query_ids += names
        query_codes.append(codes)
        self_rows += [-1] * len(names)
    result = latent.neighbour_table(table, catalog, query_ids, np.concatenate(query_codes),
                                    args.k, self_rows)
    result.meta["table"] = os.path.abspath(args.table)
    if args.output is None:
        print("\n".join(result.pformat(max_lines=-1, max_width=-1)))
    else:
        write_table(result, args.output)
        log.info(f"rnngmm similar: {len(query_ids)} queries x {args.k} neighbours; "
                 f"wrote {args.output}")
    return 0
