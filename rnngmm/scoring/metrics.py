"""Classification and novelty metrics as plain functions of numpy arrays.

Everything here is deterministic and returns JSON-ready python types (floats,
ints, lists, dicts), so the report writers can dump the results unchanged.

Conventions
-----------
- Classes are integers ``0..K-1`` indexing ``class_names``.
- Novelty: the POSITIVE class is "novel"; a higher score (energy) means more
  anomalous; an object is flagged when its score is strictly above the
  threshold.
"""

import numpy as np
from sklearn.metrics import (average_precision_score, confusion_matrix,
                             precision_recall_curve, roc_auc_score, roc_curve)

from rnngmm.object_table import percentile_label


def classification_metrics(y_true, y_pred, class_names):
    """Accuracy, balanced accuracy, macro-F1, per-class P/R/F1 and confusion.

    Parameters
    ----------
    y_true, y_pred : array_like of int
        True and predicted class indices into ``class_names``.
    class_names : sequence of str

    Returns
    -------
    dict
        ``n``, ``accuracy``, ``balanced_accuracy`` (mean recall over classes
        present in ``y_true``), ``macro_f1`` (mean F1 over the same classes),
        ``per_class`` ``{name: {precision, recall, f1, support}}`` and
        ``confusion`` (rows = true class, columns = predicted, raw counts).
        Precision of a class never predicted is 0; metrics of an empty input
        are NaN.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} differ")
    k = len(class_names)
    cm = confusion_matrix(y_true, y_pred, labels=np.arange(k)) if len(y_true) else \
        np.zeros((k, k), np.int64)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    hits = np.diag(cm)
    precision = np.divide(hits, predicted, out=np.zeros(k), where=predicted > 0)
    recall = np.divide(hits, support, out=np.zeros(k), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros(k), where=denom > 0)
    present = support > 0
    n = int(len(y_true))
    return {
        "n": n,
        "accuracy": float(hits.sum() / n) if n else float("nan"),
        "balanced_accuracy": float(recall[present].mean()) if present.any() else float("nan"),
        "macro_f1": float(f1[present].mean()) if present.any() else float("nan"),
        "per_class": {
            str(name): {"precision": float(precision[i]), "recall": float(recall[i]),
                        "f1": float(f1[i]), "support": int(support[i])}
            for i, name in enumerate(class_names)},
        "confusion": cm.astype(int).tolist(),
    }


def percentile_thresholds(train_scores, percentiles):
    """Thresholds at ``percentiles`` of a training-score distribution.

    Uses numpy's default (linear) interpolation, the same rule as
    ``GMMNovelty``.

    Returns
    -------
    dict
        ``{percentile (float): threshold (float)}``.
    """
    train_scores = np.asarray(train_scores, dtype=np.float64)
    train_scores = train_scores[np.isfinite(train_scores)]
    if len(train_scores) == 0:
        raise ValueError("no finite training scores to take percentiles of")
    return {float(p): float(np.percentile(train_scores, p)) for p in percentiles}


def percentile_of_scores(train_scores, scores):
    """Percentile (0-100) of each score within the training distribution.

    The fraction of training scores less than or equal to the score, times
    100; NaN scores give NaN.
    """
    reference = np.sort(np.asarray(train_scores, dtype=np.float64))
    reference = reference[np.isfinite(reference)]
    scores = np.asarray(scores, dtype=np.float64)
    out = np.full(scores.shape, np.nan)
    finite = np.isfinite(scores)
    if len(reference):
        out[finite] = 100.0 * np.searchsorted(reference, scores[finite],
                                              side="right") / len(reference)
    return out


def detection_at_threshold(known_scores, novel_scores, threshold):
    """Precision, recall, F1 of "novel" and false-positive rate on known.

    An object is flagged novel when its score is strictly above
    ``threshold``. NaN scores (objects that could not be scored) count as not
    flagged.

    Returns
    -------
    dict
        ``threshold, precision, recall, f1, fpr_known, n_flagged_known,
        n_flagged_novel``. Precision with nothing flagged is 0.
    """
    known = np.asarray(known_scores, dtype=np.float64)
    novel = np.asarray(novel_scores, dtype=np.float64)
    true_pos = int(np.count_nonzero(novel > threshold))
    false_pos = int(np.count_nonzero(known > threshold))
    flagged = true_pos + false_pos
    precision = true_pos / flagged if flagged else 0.0
    recall = true_pos / len(novel) if len(novel) else float("nan")
    if flagged and len(novel) and precision + recall > 0:
        f1 = 2 * precision * recall / (precision + recall)
    else:
        f1 = 0.0
    return {"threshold": float(threshold), "precision": float(precision),
            "recall": float(recall), "f1": float(f1),
            "fpr_known": false_pos / len(known) if len(known) else float("nan"),
            "n_flagged_known": false_pos, "n_flagged_novel": true_pos}


def ranking_metrics(known_scores, novel_scores):
    """ROC-AUC and average precision of "novel" vs known (NaN scores dropped).

    Returns NaN for both when either set is empty after dropping NaN.
    """
    known, novel = _finite(known_scores), _finite(novel_scores)
    if len(known) == 0 or len(novel) == 0:
        return {"roc_auc": float("nan"), "average_precision": float("nan")}
    y, s = _stack(known, novel)
    return {"roc_auc": float(roc_auc_score(y, s)),
            "average_precision": float(average_precision_score(y, s))}


def novelty_metrics(known_scores, novel_scores, thresholds):
    """Everything the novelty report needs for one scoring method.

    Parameters
    ----------
    known_scores, novel_scores : array_like
        Object-level scores (higher = more anomalous) of known-class and
        novel objects.
    thresholds : dict
        ``{percentile: threshold}``, e.g. from :func:`percentile_thresholds`.

    Returns
    -------
    dict
        ``n_known, n_novel, roc_auc, average_precision`` and ``at_percentile``
        ``{"80": {...}, ...}`` from :func:`detection_at_threshold`.
    """
    known = np.asarray(known_scores, dtype=np.float64)
    novel = np.asarray(novel_scores, dtype=np.float64)
    out = {"n_known": int(np.isfinite(known).sum()), "n_novel": int(np.isfinite(novel).sum())}
    out.update(ranking_metrics(known, novel))
    out["at_percentile"] = {
        percentile_label(p): detection_at_threshold(known, novel, t)
        for p, t in sorted(thresholds.items())}
    return out


def curves(known_scores, novel_scores):
    """ROC and precision-recall curve points (NaN scores dropped).

    Returns
    -------
    dict or None
        ``fpr, tpr, precision, recall`` arrays; None when a set is empty.
    """
    known, novel = _finite(known_scores), _finite(novel_scores)
    if len(known) == 0 or len(novel) == 0:
        return None
    y, s = _stack(known, novel)
    fpr, tpr, _ = roc_curve(y, s)
    precision, recall, _ = precision_recall_curve(y, s)
    return {"fpr": fpr, "tpr": tpr, "precision": precision, "recall": recall}


def _finite(values):
    values = np.asarray(values, dtype=np.float64)
    return values[np.isfinite(values)]


def _stack(known, novel):
    y = np.concatenate([np.zeros(len(known), np.int64), np.ones(len(novel), np.int64)])
    return y, np.concatenate([known, novel])
