"""``rnngmm tune``: hyper-parameter search on a shared Optuna study.

``rnngmm tune --space space.yaml --study tune/study.journal --trials 20``
runs trials until the study holds 20 finished ones (several processes or
SLURM array tasks may run it against the same study at once);
``rnngmm tune --study tune/study.journal --report`` writes the trials table,
parameter importances and the best trial's ``config.json``.

Exit codes: 0 study done (or report written); 1 ``--max_failed`` trials
failed; 2 bad flag or input; 75 a trial stopped on SIGTERM/SIGUSR1 (marked
failed, its parameters re-queued; rerun to continue).
"""

import logging

from rnngmm.cli.common import add_logging_flags

log = logging.getLogger(__name__)


def add_parser(subparsers):
    """Register the ``tune`` subcommand."""
    from rnngmm.tuning.config import MAX_LOCO_CLASSES, OBJECTIVES, TuneConfig
    d = TuneConfig(study="")
    p = subparsers.add_parser(
        "tune", help="hyper-parameter search (Optuna) over 'rnngmm train' settings",
        description="Each trial is one time-budgeted 'rnngmm train' run with settings "
                    "drawn from --space (kept as <log_dir>/<sim_type>/<study>-trial<N>), "
                    "judged on the run's validation objects. Poor trials are pruned from "
                    "per-epoch validation figures. Start it from several processes or "
                    "SLURM array tasks (slurm/tune_array.slurm) on one --study; under "
                    "srun/mpirun with several ranks each trial trains on all of them.")
    p.add_argument("--study", required=True,
                   help="Optuna journal file on a shared filesystem (created if missing), "
                        "or a database URL such as sqlite:///tune.db")
    p.add_argument("--space", default=None,
                   help="search-space file (YAML or JSON): 'fixed' train settings and "
                        "'search' distributions; see docs/CLUSTER.md 'Hyper-parameter search'")
    p.add_argument("--trials", type=int, default=d.trials,
                   help="finished (complete or pruned) trials the study should reach, "
                        "counted over every task (default: %(default)s)")
    p.add_argument("--study_name", default=None,
                   help="study name (default: the journal file's name)")
    p.add_argument("--objective", choices=OBJECTIVES, default=d.objective,
                   help="validation figure maximised, per object (default: %(default)s). "
                        "loco_auroc: one run per --loco_classes class held out, mean AUROC "
                        "of the run's own novelty score (held-out class vs known validation "
                        "objects); loco_auroc_macro_f1: mean of (that AUROC + the run's "
                        "validation macro-F1) / 2")
    p.add_argument("--loco_classes", nargs="+", default=None, metavar="CLASS",
                   help=f"with a loco_* objective: the class(es) to hold out, at most "
                        f"{MAX_LOCO_CLASSES} (each costs one training per trial; only the "
                        "first one's run reports per-epoch values for pruning)")
    p.add_argument("--pruner", choices=("median", "none"), default=d.pruner,
                   help="stop trials whose per-epoch validation figure is below the "
                        "median of earlier trials at the same epoch (default: %(default)s)")
    p.add_argument("--prune_warmup_epochs", type=int, default=d.prune_warmup_epochs,
                   help="epochs at the start of each stage (autoencoder, estimation) in "
                        "which a trial is not pruned (default: %(default)s)")
    p.add_argument("--prune_startup_trials", type=int, default=d.prune_startup_trials,
                   help="finished trials before pruning starts (default: %(default)s)")
    p.add_argument("--seed", type=int, default=None,
                   help="sampler seed (each SLURM array task adds its task id)")
    p.add_argument("--heartbeat_interval", type=float, default=d.heartbeat_interval,
                   metavar="SECONDS", help="a running trial records a heartbeat this often "
                                           "(default: %(default)s)")
    p.add_argument("--grace_period", type=float, default=d.grace_period, metavar="SECONDS",
                   help="a RUNNING trial without heartbeat for this long is failed as stale "
                        "(its process was killed) and re-queued (default: %(default)s)")
    p.add_argument("--max_retries", type=int, default=d.max_retries,
                   help="re-queues of an interrupted or stale trial (default: %(default)s)")
    p.add_argument("--max_failed", type=int, default=None,
                   help="stop once this many trials failed (default: --trials)")
    p.add_argument("--poll_interval", type=float, default=d.poll_interval, metavar="SECONDS",
                   help="wait between looks at the study while other tasks run the last "
                        "trials (default: %(default)s)")
    p.add_argument("--log_dir", default=d.log_dir, help="(default: %(default)s)")
    p.add_argument("--sim_type", default=d.sim_type,
                   help="sub-directory of --log_dir for the trials' runs (default: "
                        "%(default)s)")
    p.add_argument("--report", action="store_true",
                   help="write the trials table, parameter importances and the best "
                        "trial's config.json instead of running trials")
    p.add_argument("--output", default=None,
                   help="report stem: writes .ecsv, .md and .json (default: "
                        "<journal file without extension>_report)")
    add_logging_flags(p)
    p.set_defaults(run=run)
    return p


#: Parsed names that are not tuning settings.
_NOT_SETTINGS = ("run", "command", "quiet", "verbose", "log_all_ranks")


def config_from_args(args):
    """The validated :class:`~rnngmm.tuning.config.TuneConfig` the flags describe."""
    from rnngmm.tuning.config import TuneConfig
    return TuneConfig(**{k: v for k, v in vars(args).items()
                         if k not in _NOT_SETTINGS}).validate()


def run(args):
    """Execute ``rnngmm tune``; returns the exit code."""
    config = config_from_args(args)
    if config.report:
        from rnngmm.tuning.report import default_stem, write_report
        from rnngmm.tuning.study import open_study
        study = open_study(config, create=False)
        text, paths = write_report(study, config.output or default_stem(config),
                                   config.objective)
        print(text, flush=True)
        for path in paths:
            log.info(f"wrote {path}")
        return 0
    from rnngmm.tuning.runner import run_tuning
    return run_tuning(config)
