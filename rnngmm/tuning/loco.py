"""Leave-one-class-out objective of ``rnngmm tune`` (``--objective loco_auroc``).

A trial trains one run per held-out class of ``--loco_classes`` (at most
two): the fold of class C is ``rnngmm train ... --novel_classes C``, trained
and scored by the code of ``rnngmm loco run``
(:func:`rnngmm.tuning.loco_experiment.train_held_out`,
:func:`rnngmm.tuning.loco_experiment.score_held_out`), and kept as
``<log_dir>/<sim_type>/<study>-trial<N>-loco_<C>``. A fold's figure is the
AUROC of the run's own novelty score (``novelty_score`` of its
``config.json``/``gmm.h5``, ``class_energy`` by default) separating the
held-out class's objects from the run's known VALIDATION objects, never test
objects. ``loco_auroc`` is the mean AUROC over the folds;
``loco_auroc_macro_f1`` the mean of (AUROC + the fold's validation macro-F1) / 2,
so a head that detects the held-out class but no longer classifies the
others does not win.

Pruning: only the FIRST fold reports per-epoch values (steps are its global
epochs, with the per-stage warm-up of
:class:`~rnngmm.tuning.objective.EpochReporter`). Every trial's first fold
holds out the same class, so the pruner compares like with like. A trial
pruned in its first fold stops there (that run is still scored and its AUROC
recorded; the later folds are not trained); the later folds report nothing,
as their steps would repeat the first fold's.
"""

import logging
import os

import numpy as np

from rnngmm.errors import InputError
from rnngmm.tuning.loco_experiment import run_name_for
from rnngmm.tuning.loco_experiment import check_classes_in_dataset
from rnngmm.tuning.loco_experiment import score_held_out, train_held_out

log = logging.getLogger(__name__)

#: Per-fold figures kept on the trial (user attribute ``rnngmm_loco_folds``).
FOLD_FIGURES = ("auroc", "macro_f1", "balanced_accuracy", "accuracy")


def fold_run_name(trial_name, label):
    """Run directory name of the fold holding out ``label``: ``<trial>-loco_<label>``."""
    return f"{trial_name}-{run_name_for(label)}"


def check_loco_space(space, classes):
    """InputError when a LOCO objective cannot run on ``space``: the held-out
    classes must be labels of the fixed ``data``, and the space must not set
    ``novel_classes`` (each fold sets it)."""
    where = f"--space {space.path}" if space.path else "search space"
    if "novel_classes" in space.fixed or "novel_classes" in space.names:
        raise InputError(f"{where}: novel_classes is set by the LOCO objective (one fold "
                         "per --loco_classes class); remove it")
    data = space.fixed.get("data")
    if data is None:
        raise InputError(f"{where}: a LOCO objective needs the dataset fixed "
                         "(fixed: data: path/to/dataset.h5) to check --loco_classes")
    if not os.path.isfile(data):
        raise InputError(f"{where}: data {data!r} does not exist")
    check_classes_in_dataset(classes, data)


def fold_figures(record):
    """The figures of one fold from its :func:`rnngmm.tuning.loco_experiment.class_result` record."""
    network = record["novelty"]["network"]
    classified = record["classification_network_object"]
    figures = {"auroc": network["roc_auc"], "n_known": network["n_known"],
               "n_novel": network["n_novel"], "novelty_score": record.get("novelty_score"),
               "run_dir": os.path.abspath(record["run_dir"])}
    figures.update({k: classified[k] for k in ("macro_f1", "balanced_accuracy", "accuracy")})
    return {k: (None if isinstance(v, float) and not np.isfinite(v) else v)
            for k, v in figures.items()}


def loco_metrics(folds):
    """The trial's figures from its folds: the mean of each fold figure (NaN when
    a fold lacks it), ``loco_auroc`` and ``loco_auroc_macro_f1``."""
    def mean(values):
        values = [np.nan if v is None else float(v) for v in values]
        return float(np.mean(values)) if values else float("nan")
    figures = {name: mean([f.get(name) for f in folds.values()]) for name in FOLD_FIGURES}
    metrics = {name: figures[name] for name in ("macro_f1", "balanced_accuracy", "accuracy")}
    metrics["loco_auroc"] = figures["auroc"]
    metrics["loco_auroc_macro_f1"] = mean([
        None if f.get("auroc") is None or f.get("macro_f1") is None
        else (f["auroc"] + f["macro_f1"]) / 2 for f in folds.values()])
    return metrics


def run_folds(train_config, classes, trial_name, reporter, dist):
    """Train and score the folds of one trial (every rank).

    Parameters
    ----------
    train_config : rnngmm.training.config.TrainConfig
        The trial's settings (each fold sets ``novel_classes`` and ``run_name``).
    classes : sequence of str
        Held-out classes, in order; the first fold alone reports per epoch.
    trial_name : str
        ``<study>-trial<N>``.
    reporter : rnngmm.tuning.objective.EpochReporter
        The trial's per-epoch reporter (without a trial on ranks other than 0).
    dist : rnngmm.dist.Dist

    Returns
    -------
    code : int
        0, or the exit code of the fold's training that did not finish.
    folds : dict
        ``{class: fold_figures}`` of the folds scored (on rank 0; empty elsewhere).
    """
    folds = {}
    for n, label in enumerate(classes):
        run_dir, code = train_held_out(label, train_config,
                                       run_name=fold_run_name(trial_name, label),
                                       on_epoch=reporter if n == 0 else None)
        if code != 0:
            return code, folds
        record = score_held_out(label, run_dir, with_baselines=False, dist=dist)
        if dist.is_root:
            folds[str(label)] = fold_figures(record)
            log.info(f"{trial_name}: fold {label}: AUROC {folds[str(label)]['auroc']}")
        if dist.bcast(reporter.pruned_at is not None if dist.is_root else None):
            break  # pruned in the first fold: the other folds are not trained
    return 0, folds
