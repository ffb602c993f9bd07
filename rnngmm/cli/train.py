"""``rnngmm train``: flags of the training stage (names follow the reference code).

Exit codes: 0 trained; 2 bad flag or input; 75 stopped by SIGTERM/SIGUSR1
after writing a checkpoint (continue with the same flags plus ``--resume``).
"""

import argparse
import os

from ..errors import InputError


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "train", help="train an RNN-GMM model on a prepared dataset",
        description="Train the GRU autoencoder + Gaussian-mixture estimation network. "
                    "Run under mpirun/horovodrun/srun for several ranks. Exit code 75: "
                    "stopped by a signal with a checkpoint written (rerun with --resume).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    data = parser.add_argument_group("data")
    data.add_argument("--data", "--survey_files", dest="data", nargs="+", required=True,
                      metavar="DATASET.h5",
                      help="prepared HDF5 dataset from 'rnngmm prepare' (--survey_files "
                           "is the reference's name; exactly one file)")
    data.add_argument("--n_min", type=int, default=200,
                      help="objects with fewer points are reported and skipped")
    data.add_argument("--n_max", type=int, default=None,
                      help="points per chunk (default: the config's n_max, 200)")
    data.add_argument("--period_fold", action="store_true",
                      help="phase-fold on the period and sort by phase before chunking")
    data.add_argument("--sigma_clip", type=float, default=None,
                      help="drop points further than this many robust sigmas")
    data.add_argument("--novel_classes", nargs="*", default=[], metavar="CLASS",
                      help="classes kept out of training and validation entirely")
    data.add_argument("--validation_fraction", type=float, default=0.2,
                      help="fraction of objects (stratified by class) for validation")
    data.add_argument("--ss_resid", type=float, default=None,
                      help="keep objects whose catalog column 'ss_resid' is at most this")
    data.add_argument("--class_prob", type=float, default=None,
                      help="keep objects whose catalog column 'class_prob' is at least this")

    model = parser.add_argument_group("model (default: the --config value)")
    model.add_argument("--config", default="fiducial",
                       help="named configuration of rnngmm.configs (fiducial, small, tiny)")
    model.add_argument("--model_type", choices=("gru", "lstm", "vanilla"), default=None,
                       help="encoder recurrent cell (vanilla = SimpleRNN)")
    model.add_argument("--size", type=int, default=None, help="recurrent units per layer")
    model.add_argument("--num_layers", type=int, default=None, help="encoder recurrent layers")
    model.add_argument("--embedding", type=int, default=None, help="code size")
    model.add_argument("--drop_frac", type=float, default=None,
                       help="dropout fraction between recurrent layers")
    model.add_argument("--bidirectional", action=argparse.BooleanOptionalAction, default=None,
                       help="bidirectional recurrent layers")
    model.add_argument("--decode_type", choices=("gru", "lstm", "vanilla"), default=None,
                       help="decoder recurrent cell (default: --model_type)")
    model.add_argument("--decode_layers", type=int, default=None,
                       help="decoder recurrent layers (default: --num_layers)")
    model.add_argument("--estnet_size", type=int, nargs="+", default=None,
                       help="sizes of the estimation network's tanh dense layers")
    model.add_argument("--estnet_drop_frac", type=float, default=None,
                       help="dropout fraction in the estimation network")
    model.add_argument("--num_classes", type=int, default=None,
                       help="mixture components (default and check: the known classes)")
    model.add_argument("--class_weight", choices=("none", "balanced"), default="none",
                       help="cross-entropy weight per class: 'balanced' weights each class "
                            "by (training chunks) / (classes x its chunks), so rare classes "
                            "count as much as common ones")
    model.add_argument("--lambda1", type=float, default=None, help="weight of the energy")
    model.add_argument("--lambda2", type=float, default=None,
                       help="weight of the covariance-diagonal penalty")
    model.add_argument("--jitter", type=float, default=None,
                       help="added to covariance diagonals before Cholesky")

    fit = parser.add_argument_group("training")
    fit.add_argument("--gmm_on", action="store_true",
                     help="joint training; without it: autoencoder, then estimation net")
    fit.add_argument("--batch_size", type=int, default=500, help="chunks per batch per rank")
    fit.add_argument("--nb_epoch", type=int, default=100,
                     help="epochs (joint) or autoencoder epochs (sequential)")
    fit.add_argument("--cls_epoch", type=int, default=50,
                     help="estimation-network epochs of sequential training")
    fit.add_argument("--lr", type=float, default=1e-3, help="learning rate of one rank")
    fit.add_argument("--no_lr_scaling", action="store_true",
                     help="do not multiply --lr by the number of ranks")
    fit.add_argument("--warmup_epochs", type=float, default=None,
                     help="linear learning-rate warm-up (default: 1 when the rate is "
                          "scaled over several ranks, else 0)")
    fit.add_argument("--patience", type=int, default=20,
                     help="early stopping per stage; 0 disables")
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument("--mixed_precision", action="store_true",
                     help="float16 compute with float32 variables (GPUs)")
    fit.add_argument("--threads", type=int, default=None,
                     help="TensorFlow intra-op threads per rank (default: all cores)")

    runs = parser.add_argument_group("run directory")
    runs.add_argument("--sim_type", default="crts",
                      help="sub-directory of --log_dir grouping runs (e.g. the survey)")
    runs.add_argument("--log_dir", default="keras_logs")
    runs.add_argument("--run_name", default=None,
                      help="run directory name (default: built from the hyper-parameters)")
    runs.add_argument("--resume", action="store_true",
                      help="continue the run from its newest valid checkpoint")
    runs.add_argument("--checkpoint_every", type=int, default=1, help="epochs")
    runs.add_argument("--keep_checkpoints", type=int, default=3,
                      help="newest checkpoints kept (the best one is kept too)")
    parser.set_defaults(run=run)
    return parser


def validate_args(args):
    """Check flag values before any work; raise InputError with one clear message."""
    if len(args.data) != 1:
        raise InputError(f"--data takes one prepared dataset, got {len(args.data)}: "
                         "merge surveys with 'rnngmm prepare'")
    if not os.path.isfile(args.data[0]):
        raise InputError(f"--data {args.data[0]!r} does not exist")
    n_max = args.n_max if args.n_max is not None else 1
    checks = [
        (args.n_min >= 1, f"--n_min must be >= 1 (got {args.n_min})"),
        (args.n_max is None or args.n_max >= args.n_min,
         f"--n_max ({args.n_max}) must be >= --n_min ({args.n_min})"),
        (n_max >= 1, f"--n_max must be >= 1 (got {args.n_max})"),
        (args.batch_size >= 1, f"--batch_size must be >= 1 (got {args.batch_size})"),
        (args.nb_epoch >= 0, f"--nb_epoch must be >= 0 (got {args.nb_epoch})"),
        (args.cls_epoch >= 0, f"--cls_epoch must be >= 0 (got {args.cls_epoch})"),
        (args.nb_epoch + (0 if args.gmm_on else args.cls_epoch) >= 1,
         "nothing to train: --nb_epoch (and --cls_epoch) are 0"),
        (args.lr > 0, f"--lr must be > 0 (got {args.lr})"),
        (args.warmup_epochs is None or args.warmup_epochs >= 0,
         f"--warmup_epochs must be >= 0 (got {args.warmup_epochs})"),
        (args.patience >= 0, f"--patience must be >= 0 (got {args.patience})"),
        (0 <= args.validation_fraction < 1,
         f"--validation_fraction must be in [0, 1) (got {args.validation_fraction})"),
        (args.checkpoint_every >= 1, f"--checkpoint_every must be >= 1 (got {args.checkpoint_every})"),
        (args.keep_checkpoints >= 1, f"--keep_checkpoints must be >= 1 (got {args.keep_checkpoints})"),
        (args.sigma_clip is None or args.sigma_clip > 0,
         f"--sigma_clip must be > 0 (got {args.sigma_clip})"),
        (args.threads is None or args.threads >= 1, f"--threads must be >= 1 (got {args.threads})"),
        (args.run_name is None or (args.run_name and "/" not in args.run_name
                                   and args.run_name not in (".", "..")),
         f"--run_name must be a plain directory name (got {args.run_name!r})"),
    ]
    for ok, message in checks:
        if not ok:
            raise InputError(message)
    existing = os.path.abspath(args.log_dir)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing) or not os.access(existing, os.W_OK):
        raise InputError(f"--log_dir {args.log_dir!r} cannot be written: {existing!r} is "
                         "not a writable directory")
    from ..training.options import model_config_from_args
    config = model_config_from_args(args)
    if config["n_max"] < args.n_min:
        raise InputError(f"n_max of --config {args.config} ({config['n_max']}) must be "
                         f">= --n_min ({args.n_min}); pass --n_max")


def run(args):
    validate_args(args)
    from ..training.driver import run_training
    return run_training(args)
