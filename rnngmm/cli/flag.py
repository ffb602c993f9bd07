"""``rnngmm flag``: classify a new catalog and flag anomalies with a trained run.

Runs as one process or under ``mpirun``/``srun`` (mpi4py): ranks share the
catalog's shards; the output is the same file either way.
"""

from rnngmm.cli.common import (add_deprecated, add_lightcurve_source_flags, add_logging_flags,
                               add_pass_through, reader_flag_values)

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
    cols = add_lightcurve_source_flags(
        p, "input: a catalog + light curves, or a prepared dataset")
    cols.add_argument("--label_col", default=None,
                      help="catalog column of known classes: passed through, and the "
                           "summary counts flagged objects whose class the run never saw")
    add_pass_through(cols, "catalog columns copied to the output")
    per = p.add_argument_group("periods (default: the run's; objects are cleaned and "
                               "given periods exactly as its training data was)")
    per.add_argument("--min_period", type=float, default=None,
                     help="override the run's shortest Lomb-Scargle period (days)")
    per.add_argument("--max_period", type=float, default=None,
                     help="override the run's longest Lomb-Scargle period (days)")
    cal = p.add_argument_group(
        "a survey the run was not trained on (see docs/NEW_SURVEY.md, 'Flags calibrated on the "
        "catalog itself')")
    cal.add_argument("--calibrate", choices=("training", "catalog"), default="training",
                     help="where the flag thresholds come from: the run's training objects "
                          "(default), or this catalog's own novelty scores, so that about "
                          "1 - p/100 of its ordinary objects are flagged at p; the output "
                          "metadata and the log then give the flag rate of every predicted "
                          "class with both thresholds")
    cal.add_argument("--contamination", type=float, default=None,
                     help="with --calibrate catalog: fraction of the catalog you expect to "
                          "be truly anomalous, set aside before the thresholds are taken "
                          "(0 <= F < 0.5; default 0.01)")
    cal.add_argument("--estimate_priors", action="store_true",
                     help="estimate the catalog's class mix by EM (label shift) and "
                          "re-weight the class probabilities to it: predicted_class and "
                          "prob_<class> then hold the re-weighted values, network_class "
                          "the network's own class; the mix is in the output metadata")
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

    from rnngmm.flagging.job import FlagConfig
    names = {f.name for f in fields(FlagConfig)}
    values = {k: v for k, v in vars(args).items() if k in names}
    values.update(reader_flag_values(args))  # one band: a str; several: a tuple
    values["percentiles"] = tuple(float(p) for p in args.percentiles)
    return FlagConfig(**values)


def run_command(args):
    """Entry point of ``rnngmm flag``: any failure on any rank ends the whole job."""
    from rnngmm.flagging.job import run_flag_job
    config = config_from_args(args)
    config.validate()
    return run_flag_job(config)
