"""From training settings (:class:`~rnngmm.training.config.TrainConfig`) to the
model configuration and loop options."""

from rnngmm.models.configs import BASE, get_config
from rnngmm.errors import InputError


def model_config_from_args(args, num_classes=None):
    """Named configuration (``--config``) overridden by every model flag given.

    Parameters
    ----------
    args : argparse.Namespace
    num_classes : int, optional
        Known classes of the data; used when ``--num_classes`` is not given.

    Raises
    ------
    InputError
        For an unknown configuration name or an out-of-range value.
    """
    overrides = {key: getattr(args, key) for key in BASE
                 if getattr(args, key, None) is not None}
    if num_classes is not None and "num_classes" not in overrides:
        overrides["num_classes"] = int(num_classes)
    try:
        config = get_config(args.config, **overrides)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if int(config["shape_harmonics"]) > 0:
        # The shape statistics fold on the period unless the lags already are phases.
        config["period_folded"] = bool(getattr(args, "period_fold", False))
    return config


def chunking_from_args(args, model_config):
    """The :class:`rnngmm.lightcurves.objects.Chunking` recorded in config.json (as a dict)."""
    from rnngmm.lightcurves.objects import Chunking
    chunking = Chunking(int(args.n_min), int(model_config["n_max"]), bool(args.period_fold),
                        int(getattr(args, "fold_multiple", 1))).to_dict()
    if getattr(args, "score_n_min", None) is not None:
        chunking["score_n_min"] = int(args.score_n_min)
    return chunking


def train_options_from_args(args, world_size):
    """:class:`rnngmm.training.loop.TrainOptions` for the flags and world size."""
    from rnngmm.training.loop import TrainOptions, stage_plan
    scale = not args.no_lr_scaling and world_size > 1
    warmup = args.warmup_epochs if args.warmup_epochs is not None else (1.0 if scale else 0.0)
    budget = getattr(args, "time_budget", None)
    budget_s = None if budget is None else 60.0 * float(budget)
    stage_caps = {}
    if budget_s is not None and not args.gmm_on:
        # The autoencoder may use its share; what it leaves goes to estimation.
        stage_caps["autoencoder"] = budget_s * float(getattr(args, "ae_budget_fraction", 0.75))
    return TrainOptions(stages=stage_plan(args.gmm_on, args.nb_epoch, args.cls_epoch),
                        batch_size=args.batch_size, lr=args.lr, scale_lr=scale,
                        warmup_epochs=warmup, patience=args.patience,
                        checkpoint_every=args.checkpoint_every,
                        keep_checkpoints=args.keep_checkpoints, seed=args.seed,
                        time_budget_s=budget_s, stage_budget_s=stage_caps,
                        cache_estimation=bool(getattr(args, "cache_estimation", True)),
                        augment_min_points=getattr(args, "augment_min_points", None),
                        augment_probability=float(getattr(args, "augment_probability", 0.5)),
                        lr_schedule=getattr(args, "lr_schedule", "constant"))
