"""``rnngmm score``: a trained run directory -> metrics, figures and tables."""

import logging
import sys

from rnngmm.dist import init_mpi
from rnngmm.cli.common import add_deprecated, add_logging_flags

log = logging.getLogger(__name__)


def add_parser(subparsers):
    """Register the ``score`` subcommand."""
    p = subparsers.add_parser(
        "score",
        help="score a trained run: confusion matrices, energies, novelty, baselines",
        description="Load a run directory written by 'rnngmm train', run the network "
                    "over the validation and novel objects of its split (or over every "
                    "object of --data), and write classification and novelty reports, "
                    "figures, a per-object table and a summary under "
                    "<run_dir>/<output>/. Baselines (random forests on the network "
                    "code and on light-curve features, isolation forest on features) "
                    "are fit on the same training objects. Runs in parallel under "
                    "mpirun/srun; rank 0 writes.")
    p.add_argument("--run_dir", required=True,
                   help="run directory, e.g. keras_logs/<sim_type>/<run id>")
    p.add_argument("--data", default=None,
                   help="score every object of this prepared dataset instead of the "
                        "run's validation/novel split; labels in the run's classes are "
                        "known, other labels novel, empty labels unlabelled")
    p.add_argument("--novel_classes", nargs="+", default=None, metavar="CLASS",
                   help="classes treated as novel (default: the run's novel split, or "
                        "every unknown label of --data); must not be training classes")
    p.add_argument("--percentiles", nargs="+", type=float, default=[80.0, 95.0, 99.0],
                   metavar="P", help="percentiles of the training energies used as "
                                     "novelty thresholds (default: 80 95 99)")
    p.add_argument("--output", default="scoring",
                   help="output folder under the run directory (default: %(default)s)")
    add_deprecated(p, "--out_name", "--output", "output")
    p.add_argument("--batch_size", type=int, default=512,
                   help="chunks per forward pass (default: %(default)s)")
    p.add_argument("--no_baselines", action="store_true",
                   help="skip the random-forest and isolation-forest baselines")
    add_logging_flags(p)
    p.set_defaults(run=run)
    return p


def config_from_args(args):
    """The validated :class:`~rnngmm.scoring.score.ScoreConfig` of the flags."""
    from rnngmm.scoring.score import ScoreConfig
    return ScoreConfig(run_dir=args.run_dir, data=args.data, novel_classes=args.novel_classes,
                       percentiles=tuple(args.percentiles), output=args.output,
                       batch_size=args.batch_size,
                       with_baselines=not args.no_baselines).validate()


def run(args):
    """Execute ``rnngmm score``; returns the exit code."""
    config = config_from_args(args)
    dist = init_mpi()
    from rnngmm.scoring.score import score_run
    try:
        result = score_run(config, dist)
    except Exception:  # one failing rank must not leave the others waiting
        if dist.size > 1:
            raise_everywhere(dist)
        raise
    if dist.is_root:
        print_outputs(result)
    return 0


def raise_everywhere(dist):
    """Print the error and abort every rank, so no rank waits forever."""
    import traceback
    traceback.print_exc()
    sys.stderr.flush()
    dist.abort(1)


def print_outputs(result):
    """Print the key numbers and the paths a user opens first."""
    files = result["files"]
    net = result["classification"]["network"]["object"]
    log.info(f"network, object level: accuracy {net['accuracy']:.4f}, "
          f"macro-F1 {net['macro_f1']:.4f} ({net['n']} objects)")
    methods = result["novelty"]["methods"]
    if "note" not in result["novelty"]:
        for method, m in methods.items():
            log.info(f"novelty, {method}: ROC-AUC {m['roc_auc']:.4f}, "
                  f"average precision {m['average_precision']:.4f}")
    log.info(f"confusion matrix:   {files['confusion_network_object_normalised']}")
    log.info(f"energy histogram:   {files['energy_histogram']}")
    log.info(f"novelty scores:     {files['novelty_txt']}")
    log.info(f"per-object table:   {files['objects_ecsv']}")
    log.info(f"summary:            {files['summary']}")
