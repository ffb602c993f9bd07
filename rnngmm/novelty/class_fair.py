"""The class-fair novelty score: a score ranked within the predicted class.

The sample energy of a mixture charges an object of a rare known class for
its component's small weight, so at one pooled threshold rare classes are
flagged far more often than common ones (measured in BENCHMARKS.md).
Ranking the score within the object's predicted class removes that: an object's class-fair
score is the fraction of the training objects PREDICTED AS ITS CLASS whose
score is not above its own, so at the threshold ``p / 100`` every class's
training objects are flagged at the rate ``1 - p / 100``.

Beyond the largest training score of its class the class-fair score keeps
growing, ``1 + (s - max) / spread`` (``spread``: the class's max minus its
median), so scores stay strictly monotone within a class and objects far
outside every training object still rank above those just outside.

Pure numpy, no TensorFlow.
"""

import numpy as np

#: Classes with fewer training objects use the pooled distribution.
MIN_CLASS_OBJECTS = 10


def rank_against(reference, scores):
    """Scores ranked against a sorted reference (HIGHER = more anomalous).

    Within the reference's range: the fraction of reference values at or
    below (0 to 1). Beyond its largest value: ``1 + (s - max) / spread``
    (``spread``: max minus median), so the result stays strictly monotone.
    """
    value = np.searchsorted(reference, scores, side="right") / len(reference)
    spread = max(reference[-1] - np.median(reference), 1e-12)
    beyond = scores > reference[-1]
    value[beyond] = 1.0 + (scores[beyond] - reference[-1]) / spread
    return value


class ClassPercentile:
    """Per-class empirical distribution of a training score.

    Sign: scores and class-fair scores are HIGHER = more anomalous.

    Parameters
    ----------
    min_objects : int
        A class with fewer training objects is ranked against all
        training objects together.

    Attributes
    ----------
    sorted_ : dict of int to ndarray
        Sorted training scores per class; key -1 holds the pooled scores.
    """

    def __init__(self, min_objects=MIN_CLASS_OBJECTS):
        self.min_objects = int(min_objects)

    def fit(self, scores, classes):
        """Learn the per-class distributions; returns self.

        Parameters
        ----------
        scores : array_like of float, shape (n,)
            Training objects' scores (finite).
        classes : array_like of int, shape (n,)
            Each training object's predicted class.
        """
        scores = np.asarray(scores, np.float64).ravel()
        classes = np.asarray(classes, np.int64).ravel()
        if len(scores) != len(classes) or not len(scores):
            raise ValueError(f"scores ({len(scores)}) and classes ({len(classes)}) must be "
                             "non-empty and of the same length")
        if not np.all(np.isfinite(scores)):
            raise ValueError("training scores must be finite")
        self.sorted_ = {-1: np.sort(scores)}
        for k in np.unique(classes):
            mine = scores[classes == k]
            if len(mine) >= self.min_objects:
                self.sorted_[int(k)] = np.sort(mine)
        return self

    def _reference(self, k):
        return self.sorted_.get(int(k), self.sorted_[-1])

    def transform(self, scores, classes):
        """Calibrated scores (HIGHER = more anomalous; NaN stays NaN).

        Within the training range of the class: the fraction of its training
        objects with a score at or below (0 to 1). Beyond it: ``1 + (s - max)
        / spread``.
        """
        scores = np.asarray(scores, np.float64).ravel()
        classes = np.asarray(classes, np.int64).ravel()
        out = np.full(len(scores), np.nan)
        finite = np.isfinite(scores)
        for k in np.unique(classes[finite]):
            rows = finite & (classes == k)
            out[rows] = rank_against(self._reference(k), scores[rows])
        return out

    @staticmethod
    def thresholds(percentiles):
        """``{p: p / 100}``: the class-fair threshold of each percentile."""
        return {float(p): float(p) / 100.0 for p in percentiles}

    @staticmethod
    def percentile(class_fair):
        """Percent of the class's training objects at or below (0-100; NaN stays)."""
        return 100.0 * np.minimum(np.asarray(class_fair, np.float64), 1.0)
