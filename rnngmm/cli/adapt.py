"""``rnngmm adapt``: fine-tune a trained run's autoencoder on a new survey catalog.

Exit codes as ``rnngmm train``: 0 done; 2 bad flag or input; 75 stopped by
SIGTERM/SIGUSR1 after writing a checkpoint (rerun with ``--resume``).
"""

import argparse

from rnngmm.cli.common import add_logging_flags


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "adapt", help="fine-tune a trained run on a new catalog's own light curves",
        description="Self-supervised adaptation to a new survey: the autoencoder of "
                    "--init_from continues training on the --catalog's light curves "
                    "(no labels needed) with the reconstruction loss alone; then the "
                    "estimation network and the mixture are refit on the labelled "
                    "--data, re-encoded, with the run's object split. Writes a new run "
                    "directory (config.json records the parent and the catalog) that "
                    "score and flag use like any other. Run under mpirun/srun for "
                    "several ranks.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    io = parser.add_argument_group("inputs")
    io.add_argument("--init_from", required=True, metavar="RUN_DIR",
                    help="the trained run to adapt (its settings are kept)")
    io.add_argument("--data", required=True, metavar="DATASET.h5",
                    help="the labelled dataset RUN_DIR was trained on ('rnngmm prepare')")
    io.add_argument("--catalog", required=True, metavar="CATALOG.h5",
                    help="the new survey's light curves, prepared by 'rnngmm prepare' "
                         "with the run's cleaning and period settings; labels are "
                         "not needed (and not used)")
    io.add_argument("--mix", choices=("both", "catalog"), default="both",
                    help="autoencoder-stage light curves: the catalog's with the "
                         "training ones ('both': the code keeps describing the training "
                         "cadence the head and the mixture are fitted on), or the "
                         "catalog's alone")
    fit = parser.add_argument_group("training (default: the run's own setting)")
    fit.add_argument("--nb_epoch", type=int, default=20,
                     help="autoencoder epochs on the catalog (0: only refit the head)")
    fit.add_argument("--cls_epoch", type=int, default=None,
                     help="estimation-network epochs on the re-encoded training data")
    fit.add_argument("--lr", type=float, default=None, help="learning rate of one rank")
    fit.add_argument("--batch_size", type=int, default=None,
                     help="chunks per batch per rank")
    fit.add_argument("--patience", type=int, default=None,
                     help="early stopping per stage; 0 disables")
    fit.add_argument("--time_budget", type=float, default=None, metavar="MINUTES",
                     help="wall-time budget of the training loop (see 'rnngmm train')")
    fit.add_argument("--ae_budget_fraction", type=float, default=None,
                     help="the autoencoder stage's share of --time_budget")
    fit.add_argument("--threads", type=int, default=None,
                     help="TensorFlow intra-op threads per rank")
    runs = parser.add_argument_group("run directory")
    runs.add_argument("--log_dir", default=None,
                      help="default: the parent run's, so the adapted run sits beside it")
    runs.add_argument("--sim_type", default=None, help="default: the parent run's")
    runs.add_argument("--run_name", default=None,
                      help="default: <parent run name>_adapt-<catalog file name>")
    runs.add_argument("--resume", action="store_true",
                      help="continue the adaptation from its newest valid checkpoint")
    add_logging_flags(parser)
    parser.set_defaults(run=run)
    return parser


def config_from_args(args):
    """The validated :class:`~rnngmm.training.adapt.AdaptConfig` of the flags."""
    from rnngmm.training.adapt import AdaptConfig
    return AdaptConfig(
        init_from=args.init_from, data=args.data, catalog=args.catalog, mix=args.mix,
        nb_epoch=args.nb_epoch, cls_epoch=args.cls_epoch, lr=args.lr,
        batch_size=args.batch_size, patience=args.patience, time_budget=args.time_budget,
        ae_budget_fraction=args.ae_budget_fraction, threads=args.threads,
        log_dir=args.log_dir, sim_type=args.sim_type, run_name=args.run_name,
        resume=args.resume).validate()


def run(args):
    """Execute ``rnngmm adapt``; returns the exit code."""
    from rnngmm.training.adapt import run_adapt
    return run_adapt(config_from_args(args))
