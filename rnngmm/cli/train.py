"""``rnngmm train``: flags of the training stage (names follow the reference code).

Exit codes: 0 trained; 2 bad flag or input; 75 stopped by SIGTERM/SIGUSR1
after writing a checkpoint (continue with the same flags plus ``--resume``).
"""

import argparse
import sys

from rnngmm.errors import InputError
from rnngmm.cli.common import add_logging_flags


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "train", help="train an RNN-GMM model on a prepared dataset",
        description="Train the GRU autoencoder + Gaussian-mixture estimation network. "
                    "Run under mpirun/horovodrun/srun for several ranks. Exit code 75: "
                    "stopped by a signal with a checkpoint written (rerun with --resume).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--from_config", default=None, metavar="RUN/config.json",
                        help="replay the settings of an earlier run (its config.json or "
                             "run directory); flags given as well override them")
    data = parser.add_argument_group("data")
    data.add_argument("--data", "--survey_files", dest="data", nargs="+", default=None,
                      metavar="DATASET.h5",
                      help="prepared HDF5 dataset from 'rnngmm prepare' (--survey_files "
                           "is the reference's name; exactly one file; required unless "
                           "--from_config)")
    data.add_argument("--n_min", type=int, default=200,
                      help="objects with fewer points are reported and skipped")
    data.add_argument("--n_max", type=int, default=None,
                      help="points per chunk (default: the config's n_max, 200)")
    data.add_argument("--score_n_min", type=int, default=None,
                      help="objects with at least this many points are scored by score, "
                           "flag and the API (default: --n_min); e.g. 20 with "
                           "--augment_min_points 20 for sparse surveys")
    data.add_argument("--period_fold", action="store_true",
                      help="phase-fold on the period and sort by phase before chunking")
    data.add_argument("--fold_multiple", type=int, default=1,
                      help="fold at this multiple of each object's period (2: a period "
                           "search's half-period answer for an eclipsing binary is "
                           "folded at the orbit; experimental, it did worse than 1 on "
                           "CRTS, see BENCHMARKS.md; default 1)")
    data.add_argument("--sigma_clip", type=float, default=None, help=argparse.SUPPRESS)
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
                       help="named configuration of rnngmm.models.configs (fiducial, small, tiny)")
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
                       help="sizes of the estimation network's hidden dense layers")
    model.add_argument("--estnet_drop_frac", type=float, default=None,
                       help="dropout fraction in the estimation network")
    model.add_argument("--num_classes", type=int, default=None,
                       help="mixture components (default and check: the known classes)")
    model.add_argument("--estnet_activation", choices=("tanh", "relu"), default=None,
                       help="activation of the estimation network's hidden layers")
    model.add_argument("--label_smoothing", type=float, default=None,
                       help="cross-entropy label smoothing eps in [0, 1)")
    model.add_argument("--shape_harmonics", type=int, default=None, metavar="H",
                       help="H > 0: a Fourier series of H terms is fitted at the period to "
                            "every chunk, and its amplitude ratios, phase differences, "
                            "explained variance, skewness and kurtosis (3 H + 1 values) join "
                            "the code as inputs of the estimation network and the mixture "
                            "(default 0: off)")
    model.add_argument("--class_weight", default="sqrt",
                       help="cross-entropy weight per class: 'balanced' weights each class "
                            "by (training chunks) / (classes x its chunks), so rare classes "
                            "count as much as common ones; 'none' weights every chunk the "
                            "same; 'sqrt' or a number p in [0, 1] takes that balanced "
                            "weight to the power p (between the two; sqrt measured best "
                            "on CRTS, BENCHMARKS.md)")
    model.add_argument("--novelty_score", choices=("class_energy_msp", "class_energy", "energy"),
                       default="class_energy_msp",
                       help="score the run's anomaly flags are set on (recorded in the run; "
                            "score and flag use it), each HIGHER = more anomalous: "
                            "'class_energy_msp' averages the training ranks of the "
                            "class-fair energy and of the classifier's doubt (1 - max "
                            "p), ranked within the predicted class (best mean "
                            "leave-one-class-out AUROC on CRTS); 'class_energy' ranks the "
                            "sample energy alone within each object's predicted class; both "
                            "flag every known class at the nominal rate (1 - p/100 of its "
                            "training objects); 'energy' is the reference sample energy with "
                            "one pooled threshold (default: %(default)s)")
    model.add_argument("--sampling_reference", action="store_true",
                       help="condition the novelty score on how each object was observed: "
                            "rank it among copies of training objects thinned to fewer "
                            "points and cut to shorter windows, scored by the run, of the "
                            "same band of cleaned points and baseline (so sparse stars of "
                            "known classes are not flagged for being sparse)")
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
    fit.add_argument("--lr_schedule", choices=("constant", "cosine"), default="constant",
                     help="'cosine' anneals the learning rate of the autoencoder (or joint) "
                          "stage to 5 %% of --lr by the end of the stage: of its share of "
                          "--time_budget when one is given, else of its epochs")
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
    fit.add_argument("--time_budget", type=float, default=None, metavar="MINUTES",
                     help="wall-time budget of the training loop: no epoch is started "
                          "that would not end within it, then the run finishes cleanly "
                          "(mixture fitted, files written); with --resume the time "
                          "already spent counts. Set it a few minutes below a job's "
                          "--time")
    fit.add_argument("--ae_budget_fraction", type=float, default=0.75,
                     help="sequential training: the autoencoder stage's share of "
                          "--time_budget (what it leaves goes to the estimation stage)")
    fit.add_argument("--cache_estimation", action=argparse.BooleanOptionalAction,
                     default=True,
                     help="sequential training: compute the frozen autoencoder's outputs "
                          "once and train the estimation stage on them (hundreds of "
                          "epochs in seconds); --no-cache_estimation re-runs the "
                          "autoencoder at every step")
    fit.add_argument("--augment_min_points", type=int, default=None, metavar="N",
                     help="each epoch, cut training chunks to random subsets of at least "
                          "N of their points (varying lengths, so sparse survey light "
                          "curves are in distribution); in sequential training the "
                          "estimation stage also trains on one such cut copy of every "
                          "training chunk; default: no augmentation")
    fit.add_argument("--augment_probability", type=float, default=0.5,
                     help="chance that a chunk is cut by --augment_min_points")
    fit.add_argument("--reobserve_from", default=None, metavar="CATALOG.h5",
                     help="sequential training: in the estimation stage, also train on "
                          "synthetic copies of the training objects, decoded by the frozen "
                          "autoencoder at the sampling times of random objects of this "
                          "prepared dataset (a new survey's catalog), with noise from their "
                          "errors and the labels of their sources; validation, the mixture "
                          "and its thresholds stay on real objects (default: off)")
    fit.add_argument("--reobserve_fraction", type=float, default=1.0,
                     help="synthetic copies per training object with --reobserve_from "
                          "(1.5: one each, a second for half of them)")
    fit.add_argument("--init_from", default=None, metavar="RUN_DIR",
                     help="start from the weights of another run (same model "
                          "settings), e.g. a joint fine-tune of a sequential run")

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
    add_logging_flags(parser)
    parser.set_defaults(run=run, parser=parser)
    return parser


#: Parsed names that are not training settings.
_NOT_SETTINGS = ("run", "parser", "command", "from_config", "sigma_clip",
                 "quiet", "verbose", "log_all_ranks")


def config_from_args(args):
    """The validated :class:`~rnngmm.training.config.TrainConfig` the flags describe.

    With ``--from_config`` the stored settings are the base, and every flag
    whose value differs from its default overrides them.
    """
    from rnngmm.training.config import TrainConfig
    if args.sigma_clip is not None:
        print("rnngmm train: warning: --sigma_clip is deprecated and ignored: light "
              "curves are cleaned once, by 'rnngmm prepare --sigma_clip'",
              file=sys.stderr, flush=True)
    given = {k: v for k, v in vars(args).items() if k not in _NOT_SETTINGS}
    if isinstance(given.get("data"), list):
        if len(given["data"]) != 1:
            raise InputError(f"--data takes one prepared dataset, got {len(given['data'])}: "
                             "merge surveys with 'rnngmm prepare'")
        given["data"] = given["data"][0]
    if args.from_config:
        base = TrainConfig.from_run(args.from_config).to_dict()
        defaults = vars(args.parser.parse_args(["--data", "x"]))
        defaults["data"] = None
        base.update({k: v for k, v in given.items() if v != defaults.get(k)})
        given = base
    elif given.get("data") is None:
        raise InputError("--data is required (or replay a run with --from_config)")
    return TrainConfig.from_dict(given).validate()


def run(args):
    """Execute ``rnngmm train``; returns the exit code."""
    config = config_from_args(args)
    from rnngmm.training.driver import run_training
    return run_training(config)
