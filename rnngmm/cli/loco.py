"""``rnngmm loco``: leave-one-class-out novelty experiment.

``rnngmm loco run --held_out C ...``  one class (one SLURM array task);
``rnngmm loco all ...``               every class in a local loop, then gather;
``rnngmm loco gather --results_dir``  collect per-class JSONs into one table.
"""

import argparse
import logging
import os
import shlex

from rnngmm.dist import init_mpi
from rnngmm.errors import InputError
from rnngmm.cli.common import add_logging_flags

log = logging.getLogger(__name__)


def _add_common(p):
    p.add_argument("--data", required=True, help="prepared dataset (.h5) with labels")
    p.add_argument("--results_dir", required=True,
                   help="folder of the per-class result JSONs (<class>.json)")
    p.add_argument("--log_dir", default="keras_logs",
                   help="run directories go to <log_dir>/<sim_type>/loco_<class> "
                        "(default: %(default)s)")
    p.add_argument("--sim_type", default="loco", help="(default: %(default)s)")
    p.add_argument("--train_args", default="",
                   help="further 'rnngmm train' flags as one quoted string, e.g. "
                        "\"--config small --nb_epoch 20 --n_min 50\"")
    p.add_argument("--percentiles", nargs="+", type=float, default=[80.0, 95.0, 99.0],
                   metavar="P", help="novelty thresholds as percentiles of training "
                                     "scores (default: 80 95 99)")
    p.add_argument("--batch_size", type=int, default=256,
                   help="chunks per forward pass when scoring (default: %(default)s)")
    p.add_argument("--no_baselines", action="store_true",
                   help="skip the isolation-forest and random-forest baselines")
    p.add_argument("--overwrite", action="store_true",
                   help="redo classes whose result JSON already exists")
    add_logging_flags(p)


def add_parser(subparsers):
    """Register the ``loco`` subcommand and its three modes."""
    p = subparsers.add_parser(
        "loco", help="leave-one-class-out novelty experiment (local loop or SLURM array)",
        description="For each class c: train without c, score known classes vs c "
                    "(AUROC, P/R/F1 at percentile thresholds of the training energies), "
                    "and tabulate all classes with the mean.")
    modes = p.add_subparsers(dest="mode", metavar="MODE", required=True)
    one = modes.add_parser("run", help="one held-out class (e.g. one SLURM array task)")
    one.add_argument("--held_out", default=None,
                     help="class to hold out; or use --class_index")
    one.add_argument("--class_index", type=int, default=None,
                     help="index into the sorted class list (or --classes), e.g. "
                          "$SLURM_ARRAY_TASK_ID")
    one.add_argument("--classes", nargs="+", default=None, metavar="CLASS",
                     help="class list for --class_index (default: every dataset label)")
    _add_common(one)
    every = modes.add_parser("all", help="every class in a local loop, then gather")
    every.add_argument("--classes", nargs="+", default=None, metavar="CLASS",
                       help="classes to hold out in turn (default: every dataset label)")
    _add_common(every)
    gather = modes.add_parser("gather", help="collect <class>.json results into one table")
    gather.add_argument("--results_dir", required=True)
    gather.add_argument("--output", default=None,
                        help="output stem (default: <results_dir>/loco_table); writes "
                             ".ecsv, .md and .json")
    add_logging_flags(gather)
    p.set_defaults(run=run)
    return p


def check_args(args):
    """Validate flags before any work.

    Raises
    ------
    InputError
    """
    if args.mode == "gather":
        if not os.path.isdir(args.results_dir):
            raise InputError(f"--results_dir {args.results_dir!r} is not a directory")
        return
    if not os.path.isfile(args.data):
        raise InputError(f"--data {args.data!r} does not exist")
    if any(not 0 < p < 100 for p in args.percentiles):
        raise InputError(f"--percentiles must lie strictly between 0 and 100, "
                         f"got {args.percentiles}")
    if args.batch_size < 1:
        raise InputError(f"--batch_size must be >= 1, got {args.batch_size}")
    try:
        shlex.split(args.train_args)
    except ValueError as exc:
        raise InputError(f"--train_args cannot be parsed: {exc}") from None
    for flag in ("--novel_classes", "--run_name", "--log_dir", "--sim_type", "--data"):
        if flag in shlex.split(args.train_args):
            raise InputError(f"--train_args must not set {flag}: loco sets it")
    if args.mode == "run" and (args.held_out is None) == (args.class_index is None):
        raise InputError("loco run needs exactly one of --held_out and --class_index")


def resolve_classes(args):
    """The class list of ``all`` / ``--class_index`` (dataset labels by default)."""
    from rnngmm.tuning.loco_experiment import dataset_classes
    available = dataset_classes(args.data)
    classes = args.classes or available
    unknown = sorted(set(classes) - set(available))
    if unknown:
        raise InputError(f"classes {unknown} are not labels of {args.data!r}; "
                         f"labels: {available}")
    return list(classes)


def train_config_from(args):
    """The :class:`~rnngmm.training.config.TrainConfig` of ``--train_args``,
    parsed by the ``train`` command's own parser (same flags, same checks)."""
    from rnngmm.cli import train
    parser = argparse.ArgumentParser(prog="rnngmm loco --train_args")
    train.add_parser(parser.add_subparsers(dest="command"))
    argv = ["train", "--data", args.data, "--log_dir", args.log_dir,
            "--sim_type", args.sim_type, *shlex.split(args.train_args)]
    try:
        parsed = parser.parse_args(argv)
    except SystemExit:
        raise InputError(f"--train_args {args.train_args!r} are not valid "
                         "'rnngmm train' flags (see the message above)") from None
    return train.config_from_args(parsed)


def run(args):
    """Execute ``rnngmm loco``; returns the exit code."""
    check_args(args)
    from rnngmm.tuning import loco_experiment as loco
    if args.mode == "gather":
        table, paths = loco.gather_results(args.results_dir, args.output)
        log.info(loco.markdown_table(table))
        for path in paths:
            log.info(f"wrote {path}")
        return 0
    if args.mode == "run" and args.held_out is not None:
        classes = [args.held_out]
    else:
        classes = resolve_classes(args)
        if args.mode == "run":
            if not 0 <= args.class_index < len(classes):
                raise InputError(f"--class_index {args.class_index} is outside 0.."
                                 f"{len(classes) - 1} ({classes})")
            classes = [classes[args.class_index]]
    train_config = train_config_from(args)
    dist = init_mpi()
    options = dict(train_config=train_config, results_dir=args.results_dir,
                   percentiles=args.percentiles, batch_size=args.batch_size,
                   with_baselines=not args.no_baselines, overwrite=args.overwrite, dist=dist)
    for label in classes:
        code = loco.run_one_class(label, **options)
        if code != 0:
            return code
    if args.mode == "all" and dist.is_root:
        table, paths = loco.gather_results(args.results_dir)
        log.info(loco.markdown_table(table))
        for path in paths:
            log.info(f"wrote {path}")
    return 0
