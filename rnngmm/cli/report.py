"""``rnngmm report``: a PDF/PNG sheet of a flag table's most anomalous objects."""

from dataclasses import fields

from rnngmm.cli.common import (add_lightcurve_source_flags, add_logging_flags,
                               reader_flag_values)
from rnngmm.dist import init_mpi
from rnngmm.report.job import DEFAULT_K, DEFAULT_N, ReportConfig, run_report


def add_parser(subparsers):
    """Register ``report`` and its flags."""
    p = subparsers.add_parser(
        "report", help="PDF/PNG pages of the most anomalous objects of a flag table",
        description="One page per object of a flag table: the N scored objects of "
                    "highest energy (or --ids). Each page shows the raw and the "
                    "phase-folded light curve (two cycles) with the decoder's "
                    "reconstruction over the points it was computed for, the class "
                    "probabilities, the energy, its percentile and the anomaly flags, "
                    "and, when the table has codes ('rnngmm flag --with_code'), the "
                    "nearest catalog objects in latent space. Light curves are read "
                    "again with the same input flags as 'rnngmm flag' and prepared as "
                    "flag prepared them; without those flags, from the inputs the "
                    "table records. An object whose light curve cannot be read gets "
                    "a page saying why.")
    p.add_argument("--table", required=True,
                   help="flag table from 'rnngmm flag' or 'rnngmm embed' (.ecsv, .fits, "
                        ".csv, .h5, .parquet)")
    p.add_argument("--run_dir", default=None,
                   help="run that flagged the table (default: the run_dir it records)")
    p.add_argument("--output", default="report.pdf",
                   help=".pdf: one page per object, plus <stem>_001.png ... next to it; "
                        ".png: one sheet with every object (default: %(default)s)")
    sel = p.add_argument_group("objects")
    sel.add_argument("--n", type=int, default=DEFAULT_N,
                     help="report the N most anomalous scored objects, ranked by the "
                          "score the anomaly flags use (the table's novelty_score column; "
                          "older tables: energy_percentile, then energy) "
                          "(default: %(default)s)")
    sel.add_argument("--ids", nargs="+", default=[], metavar="ID",
                     help="report these objects instead, in this order")
    sel.add_argument("--k", type=int, default=DEFAULT_K,
                     help="latent-space neighbours listed per object, when the table has "
                          "codes; 0 for none (default: %(default)s)")
    sel.add_argument("--table_id_col", default=None,
                     help="id column of the table (default: its first column)")
    add_lightcurve_source_flags(p, "light curves (as for 'rnngmm flag'; default: the "
                                   "inputs the table records)")
    add_logging_flags(p)
    p.set_defaults(run=run_command)
    return p


def config_from_args(args):
    """The :class:`~rnngmm.report.job.ReportConfig` the flags describe."""
    names = {f.name for f in fields(ReportConfig)}
    values = {k: v for k, v in vars(args).items() if k in names}
    values.update({k: v for k, v in reader_flag_values(args).items() if k in names})
    values["ids"] = tuple(str(i) for i in args.ids)
    return ReportConfig(**values)


def run_command(args):
    """Entry point of ``rnngmm report`` (rank 0 does the work under mpirun)."""
    config = config_from_args(args)
    config.validate()
    if not init_mpi().is_root:
        return 0
    run_report(config)
    return 0
