"""What a trial is judged on: validation figures, per epoch and at the end.

At the end of a trial the objective is computed on the run's VALIDATION
objects (``split.json``), never on test data, through the scoring path of
``rnngmm score`` (:func:`rnngmm.scoring.score.infer_objects`: the run's own
chunking, :func:`rnngmm.inference.score_chunks`, class probabilities averaged
over an object's chunks) and :func:`rnngmm.scoring.metrics.classification_metrics`.

Per epoch, :class:`EpochReporter` (the ``on_epoch`` callback of
:func:`rnngmm.training.driver.run_training`) reports an intermediate value to
Optuna, step = global epoch, higher = better like the objective: minus the
validation reconstruction loss in the autoencoder stage; the per-object
validation macro-F1 in the estimation and joint stages (class probabilities of
the epoch's validation chunks averaged per object, as scoring does). Rank 0
decides alone, so under several ranks this per-epoch figure is that of rank
0's share of the validation objects (each rank holds whole objects); the
final objective always covers every validation object.

Pruning warm-up is per stage: no trial is pruned in the first
``warmup_epochs`` epochs of the autoencoder stage nor in the first
``warmup_epochs`` of the estimation (or joint) stage, counted from the epoch
where the trial's stage starts. The steps reported stay global epochs, so a
trial's estimation epoch ``nb_epoch + k`` is compared with the other trials'
epoch ``nb_epoch + k`` (a stage cut short by patience or the time budget
still hands over at ``nb_epoch``). Values are reported during the warm-up too,
so later trials have something to be compared with there.
"""

import logging

import numpy as np
from rnngmm.inference import mean_by_object
from rnngmm.scoring.metrics import classification_metrics
from rnngmm.inference import predict_chunks
from rnngmm.io.dataset import Dataset
from rnngmm.rundir import load_run
from rnngmm.scoring.score import infer_objects, run_dataset_path, split_indices

log = logging.getLogger(__name__)


def class_indices(labels, class_names):
    """Index of each label in ``class_names`` (-1 for labels not among them)."""
    lookup = {str(c): n for n, c in enumerate(class_names)}
    return np.array([lookup.get(str(label), -1) for label in labels], dtype=np.int64)


def object_macro_f1(gamma, object_index, labels, n_classes):
    """Macro-F1 over objects of chunk probabilities averaged per object.

    Parameters
    ----------
    gamma : ndarray (N, K)
        Class probabilities per chunk.
    object_index : ndarray (N,)
        Object of each chunk.
    labels : ndarray (N,)
        Integer class of each chunk (its object's).
    n_classes : int
    """
    if len(labels) == 0:
        return float("nan")
    objects, prob, _ = mean_by_object(np.asarray(gamma, np.float64), object_index)
    first = {int(o): int(lab) for o, lab in zip(object_index[::-1], labels[::-1])}
    truth = np.array([first[int(o)] for o in objects], dtype=np.int64)
    names = [str(i) for i in range(n_classes)]
    return classification_metrics(truth, np.argmax(prob, axis=1), names)["macro_f1"]


def chunk_probabilities(model, part, batch_size=1024):
    """Class probabilities of validation chunks: a ``LabelledChunks`` (the
    scoring path) or the cached estimation stage's ``CachedChunks``."""
    if hasattr(part, "chunks"):
        return predict_chunks(model, part.chunks, batch_size=batch_size)["gamma"]
    inputs = part.inputs()
    pieces = []
    for start in range(0, len(part), batch_size):
        block = {k: v[start:start + batch_size] for k, v in inputs.items()}
        pieces.append(np.asarray(model(block, training=False)["gamma"], np.float64))
    return np.concatenate(pieces) if pieces else np.zeros((0, 1))


def epoch_value(row, model=None, validation=None):
    """The intermediate value of an epoch (higher = better), or None when the
    epoch has no validation figures."""
    if row.get("stage") == "autoencoder":
        value = row.get("val_recon")
        return None if value is None else -float(value)
    if model is not None and validation is not None and len(validation):
        gamma = chunk_probabilities(model, validation)
        return object_macro_f1(gamma, validation.object_index, validation.labels,
                               gamma.shape[1])
    value = row.get("val_loss")
    return None if value is None else -float(value)


class EpochReporter:
    """``on_epoch`` callback: reports each epoch to ``trial`` and asks its pruner.

    Parameters
    ----------
    trial : optuna.trial.Trial or None
        None on ranks other than 0 (they never decide; the loop broadcasts
        rank 0's answer).
    warmup_epochs : int
        Epochs at the start of each stage in which the pruner is not asked
        (the values are still reported); see the module doc.
    """

    def __init__(self, trial, warmup_epochs=0):
        self.trial = trial
        self.warmup_epochs = int(warmup_epochs)
        self.stage_start = {}
        self.pruned_at = None
        self.last_value = None

    def in_warmup(self, row):
        """True while ``row``'s epoch is among the first ``warmup_epochs`` of its stage."""
        step = int(row["epoch"])
        start = self.stage_start.setdefault(row.get("stage"), step)
        return step - start < self.warmup_epochs

    def __call__(self, row, model=None, validation=None):
        if self.trial is None:
            return False
        warming_up = self.in_warmup(row)
        value = epoch_value(row, model, validation)
        if value is None or not np.isfinite(value):
            return False
        step = int(row["epoch"])
        self.last_value = value
        self.trial.report(float(value), step)
        if not warming_up and self.trial.should_prune():
            self.pruned_at = step
            log.info(f"trial {self.trial.number} pruned after epoch {step + 1} "
                     f"({row.get('stage')} stage, intermediate value {value:.4g})")
            return True
        return False


def validation_metrics(run_dir, dist, batch_size=512):
    """Per-object accuracy, balanced accuracy and macro-F1 of a finished run's
    validation objects (on rank 0; None on the other ranks).

    Every rank takes part (the objects are sharded as in ``rnngmm score``).
    """
    run = load_run(run_dir)
    class_names = [str(c) for c in run.class_names]
    with Dataset(run_dataset_path(run)) as dataset:
        indices = split_indices(dataset, run.split)["validation"]
        evaluated = infer_objects(run, dataset, indices, dist, batch_size,
                                  label="validation")
        labels = dataset.labels[indices]
    if not dist.is_root:
        return None
    truth = class_indices(labels, class_names)
    prob, _ = evaluated.object_scores()
    known = evaluated.ok & (truth >= 0)
    predicted = np.argmax(prob[known], axis=1) if known.any() else np.zeros(0, np.int64)
    found = classification_metrics(truth[known], predicted, class_names)
    return {"n": found["n"], "accuracy": found["accuracy"],
            "balanced_accuracy": found["balanced_accuracy"], "macro_f1": found["macro_f1"]}
