"""Training end to end (:func:`run_training`): data, run directory, model, loop, mixture.

The library entry point of ``rnngmm train`` and of leave-one-class-out; it
takes a :class:`rnngmm.training.config.TrainConfig`. The test switches it
honours are documented in :mod:`rnngmm.debug`.
"""

import dataclasses
import logging
import os

import numpy as np

from rnngmm import debug
from rnngmm._version import __version__
from rnngmm.models.configs import BASE
from rnngmm.dist import init_horovod
from rnngmm.errors import InputError
from rnngmm.io.atomic import save_keras_model
from rnngmm.io.dataset import Dataset
from rnngmm.lightcurves.objects import dataset_class_map, dataset_preprocessing
from rnngmm import rundir
from rnngmm.class_frequencies import balanced_class_weights, class_weight_power
from rnngmm.training.data import load_training_data
from rnngmm.training.distributed import Collectives
from rnngmm.training.options import chunking_from_args, model_config_from_args, train_options_from_args
from rnngmm.training.signals import EXIT_INTERRUPTED, StopRequest
from rnngmm.rundir import load_model
from rnngmm.models.registry import build_model
from rnngmm.training.gmm_fit import fit_training_gmm
from rnngmm.training.loop import prepare_model, resume_state, train
from rnngmm.training.augment import chain_extras
from rnngmm.lightcurves.objects import Chunking
from rnngmm.training.reobserve import Reobservation
from rnngmm.training.sampling_reference import fit_sampling_reference, period_search_of
from rnngmm.training.augment import SparseCopies

#: Keys of config.json that must match for ``--resume`` to continue a run.
_RESUME_KEYS = ("model", "class_names", "chunking")

log = logging.getLogger(__name__)


def catalog_cuts(dataset, args):
    """``(index, reason)`` of objects removed by ``--ss_resid`` / ``--class_prob``
    (one entry per object; both reasons joined when both cuts apply)."""
    excluded = []
    for flag, column, keep in (("ss_resid", "ss_resid", np.less_equal),
                               ("class_prob", "class_prob", np.greater_equal)):
        limit = getattr(args, flag)
        if limit is None:
            continue
        if column not in dataset.extra_names:
            raise InputError(f"--{flag} needs the catalog column {column!r}, which "
                             f"{dataset.path} does not have (columns: {dataset.extra_names})")
        values = np.asarray(dataset.extra(column), dtype=np.float64)
        with np.errstate(invalid="ignore"):
            bad = ~keep(values, limit)
        op = ">" if flag == "ss_resid" else "<"
        excluded += [(int(i), f"{column} {values[i]:.3g} {op} {limit:g} (--{flag})")
                     for i in np.flatnonzero(bad)]
    reasons = {}  # one entry per object, even when both cuts remove it
    for index, reason in excluded:
        reasons[index] = f"{reasons[index]}; {reason}" if index in reasons else reason
    return sorted(reasons.items())


def _configure_tensorflow(args, dist):
    import keras
    import tensorflow as tf
    if args.threads:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(args.threads)
            tf.config.threading.set_inter_op_parallelism_threads(min(args.threads, 2))
        except RuntimeError:
            # TensorFlow already ran in this process (e.g. training called from
            # Python after other TF work): its thread pools are fixed by now.
            log.warning("--threads ignored: TensorFlow's thread pools were already set up "
                        "in this process")
    keras.utils.set_random_seed(args.seed)
    if args.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")


def _check_run_directory(run_dir, args, config):
    config_path = os.path.join(run_dir, "config.json")
    if args.resume:
        previous = rundir.read_json(config_path)
        for key in _RESUME_KEYS:
            before, now = previous.get(key), rundir._jsonable(config[key])
            if key == "model":  # keys added to BASE after the run was written: defaults
                defaults = rundir._jsonable(BASE)
                before, now = {**defaults, **(before or {})}, {**defaults, **now}
            if before != now:
                raise InputError(f"--resume: the {key!r} settings differ from those in "
                                 f"{config_path}; use the run's original flags")
    elif os.path.exists(config_path):
        raise InputError(f"run directory {run_dir} already exists: continue it with "
                         "--resume or choose another --run_name")


def _write_metadata(run_dir, args, config, data, dataset):
    os.makedirs(run_dir, exist_ok=True)
    if not args.resume:
        rundir.write_json(os.path.join(run_dir, "config.json"), config)
    rundir.write_split(os.path.join(run_dir, "split.json"), data.split, dataset.ids, args.seed)
    rundir.write_rejects(os.path.join(run_dir, "rejects.ecsv"), data.rejects,
                         dataset.ids, dataset.labels)


def _report_data(data, dataset):
    log.info(f"dataset {dataset.path}: {len(dataset)} objects; classes {data.class_names}")
    for name in ("train", "validation", "novel", "unlabelled", "rejected"):
        log.info(f"  {name:11s} {len(data.split[name]):7d} objects")
    log.info(f"  chunks: {sum(data.train_counts)} train, {sum(data.validation_counts)} "
             f"validation (per rank: {data.train_counts} train)")
    if data.rejects:
        log.info(f"  {len(data.rejects)} objects gave no chunk (see rejects.ecsv):")
        for line in rundir.summarise_rejects(data.rejects)[:10]:
            log.info("  " + line)


def init_weights_from(model, source_run, collectives):
    """Copy ``source_run``'s weights into ``model`` (all ranks).

    Every weight is copied when the two models have the same settings. When
    only the estimation network differs (another ``--estnet_size`` or
    activation), the autoencoder and the support scaling are copied and the
    estimation network keeps its fresh initialisation, so new heads can be
    trained on a finished autoencoder (``--nb_epoch 0``). Rank 0 reads the
    source; the weights are then broadcast, so every rank starts identical.
    The optimizer starts fresh.

    Raises
    ------
    InputError
        When the autoencoders do not fit (other model settings).
    """
    problem = None
    if collectives.dist.is_root:
        source = load_model(os.path.join(source_run, "model.keras"))
        problem = _copy_matching_weights(source, model, source_run)
    problem = collectives.broadcast_json(problem)
    if problem:
        raise InputError(problem)
    collectives.broadcast_variables(model.variables)


def _estimation_weight(weight):
    return "/estimation_net/" in "/" + weight.path


def _copy_matching_weights(source, model, source_run):
    """Copy ``source``'s weights into ``model``; an error message, or None."""
    mine = [tuple(w.shape) for w in model.weights]
    theirs = [tuple(w.shape) for w in source.weights]
    if mine == theirs:
        model.set_weights(source.get_weights())
        log.info(f"initialised the weights from {source_run}")
        return None
    keep = [w for w in model.weights if not _estimation_weight(w)]
    given = [w for w in source.weights if not _estimation_weight(w)]
    if [tuple(w.shape) for w in keep] != [tuple(w.shape) for w in given]:
        return (f"--init_from {source_run}: its autoencoder has other settings "
                f"({len(theirs)} weight arrays vs {len(mine)}, or other shapes); "
                "use the same --config and model flags")
    for target, value in zip(keep, given):
        target.assign(value.numpy())
    log.info(f"initialised the autoencoder from {source_run}; the estimation network "
             "(other settings) starts fresh")
    return None


def run_training(config, on_epoch=None, adaptation=None):
    """Train as ``config`` says; return the exit code (0, or 75 when interrupted).

    Parameters
    ----------
    config : rnngmm.training.config.TrainConfig
        Validated settings (every rank passes the same ones).
    on_epoch : callable, optional
        Per-epoch callback of :func:`rnngmm.training.loop.train` (e.g. the
        pruning of ``rnngmm tune``); a run it ends finishes like a budgeted one.
    adaptation : optional
        ``rnngmm adapt``'s data source
        (:class:`rnngmm.training.adapt.CatalogAdaptation`): its
        ``attach(data, collectives, chunking)`` gives the autoencoder stage
        its chunks (``data.autoencoder``) and returns entries for config.json.
    """
    args = config
    dist = init_horovod()
    collectives = Collectives(dist)
    _configure_tensorflow(args, dist)
    import keras


    with Dataset(args.data) as dataset:
        data = load_training_data(
            dataset, collectives, n_min=args.n_min,
            n_max=model_config_from_args(args)["n_max"], period_fold=args.period_fold,
            fold_multiple=args.fold_multiple,
            novel_classes=args.novel_classes,
            validation_fraction=args.validation_fraction, seed=args.seed,
            num_classes=args.num_classes, excluded=catalog_cuts(dataset, args))
        model_config = model_config_from_args(args, num_classes=len(data.class_names))
        extras = []
        if args.reobserve_from:
            # Patterns as short as the run will score (--score_n_min) are the
            # point: a sparse survey's cadence is what the head must learn.
            extras.append(Reobservation(
                args.reobserve_from, dataset.periods,
                Chunking.for_scoring({"n_min": args.n_min, "n_max": model_config["n_max"],
                                      "period_fold": args.period_fold,
                                      "fold_multiple": args.fold_multiple,
                                      "score_n_min": args.score_n_min}),
                args.reobserve_fraction, args.seed))
        if args.augment_min_points is not None and not args.gmm_on:
            # the (cached) estimation stage would otherwise see whole chunks only
            extras.append(SparseCopies(args.augment_min_points, seed=args.seed))
        data.estimation_extra = chain_extras(extras)
        power = class_weight_power(args.class_weight)
        if power > 0:
            model_config["class_weights"] = balanced_class_weights(
                data.train_labels, len(data.class_names), power)
        run_dir = rundir.run_directory(args, model_config)
        chunking = chunking_from_args(args, model_config)
        adapted = adaptation.attach(data, collectives, chunking) if adaptation else {}
        config = {"train": args.to_dict(), "model": model_config,
                  "class_names": data.class_names,
                  "chunking": chunking,
                  # how new objects must be cleaned and given periods (flag, API)
                  "preprocessing": dataset_preprocessing(dataset.attrs).to_dict(),
                  "class_map": dataset_class_map(dataset.attrs),
                  "init_from": (os.path.abspath(args.init_from) if args.init_from
                                else None),
                  "dataset": {"path": os.path.abspath(dataset.path),
                              "attrs": {k: str(v) for k, v in dataset.attrs.items()}},
                  "versions": rundir.library_versions(), "world_size": dist.size,
                  "rnngmm_version": __version__, **adapted}
        if args.resume:
            # A job requeued before its first run wrote anything (preempted
            # during start-up) must still run: --resume then starts afresh.
            started = os.path.exists(os.path.join(run_dir, "config.json"))
            if not collectives.broadcast_json(started):
                if dist.is_root:
                    log.warning(f"--resume: nothing to resume in {run_dir}; "
                                "starting a new run")
                args = dataclasses.replace(args, resume=False)
        problem = None
        if dist.is_root:  # one rank decides, so no rank can race another's writes
            try:
                _check_run_directory(run_dir, args, config)
            except InputError as exc:
                problem = str(exc)
        problem = collectives.broadcast_json(problem)
        if problem:
            raise InputError(problem)
        if dist.is_root:
            _report_data(data, dataset)
            _write_metadata(run_dir, args, config, data, dataset)
    dist_note = f" on {dist.size} ranks ({dist.backend})" if dist.size > 1 else ""
    if dist.is_root:
        log.info(f"run directory: {run_dir}{dist_note}")

    options = train_options_from_args(args, dist.size)
    options.average_gradients = not debug.averaging_disabled()
    model = build_model("rnngmm", **model_config)
    # No XLA: horovod's ops cannot be compiled into an XLA cluster.
    # clipnorm: the energy term can spike when a batch's covariance nearly
    # collapses; clipping (after the allreduce, inside apply) keeps one such
    # batch from throwing the weights to NaN.
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=args.lr, clipnorm=5.0),
                  jit_compile=False)
    # every rank's training chunks (each rank holds only its own)
    model.set_support_scaling(collectives.allgather(data.train.chunks.supports))
    prepare_model(model, collectives, options)
    if args.init_from and not args.resume:  # a resumed run's checkpoint wins
        init_weights_from(model, args.init_from, collectives)
    state = None
    if args.resume:
        state = resume_state(model, collectives, os.path.join(run_dir, "checkpoints"), options)
    with StopRequest() as stop:
        result = train(model, data, collectives, run_dir, options, state=state, stop=stop,
                       on_epoch=on_epoch)
    if result.status == "interrupted":
        if dist.is_root:
            log.warning(f"interrupted: resume with the same flags plus --resume "
                        f"(exit code {EXIT_INTERRUPTED})")
        return EXIT_INTERRUPTED

    novelty = fit_training_gmm(model, data.train, collectives,
                               jitter=float(model_config["jitter"]),
                               novelty_score=args.novelty_score)
    if args.sampling_reference:
        with Dataset(args.data) as dataset:
            fit_sampling_reference(
                model, novelty, dataset, np.unique(data.train.object_index),
                Chunking.for_scoring(chunking_from_args(args, model_config)), collectives,
                seed=args.seed, search=period_search_of(dataset_preprocessing(dataset.attrs)))
    debug.dump_weights(model, dist.rank)
    if dist.is_root:
        novelty.save(os.path.join(run_dir, "gmm.h5"))
        save_keras_model(model, os.path.join(run_dir, "model.keras"))
        log.info(f"trained model, GMM and logs in {run_dir}")
    return 0
