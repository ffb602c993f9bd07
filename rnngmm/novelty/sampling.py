"""Novelty scores conditioned on how an object was observed.

A sparse or short light curve reconstructs worse and lands in emptier parts of
the code space than a well-sampled one of the same star, so a score whose
reference is whole training light curves measures the sampling as much as the
star. Here the reference of "unusual" is known stars observed alike: training
objects thinned to fewer points (over their whole baseline) and cut to shorter
windows, scored by the run like any object. An object's conditioned score is
its run score ranked among the reference copies of its predicted class in its
*sampling cell* (a band of cleaned point counts times a band of baselines).
Where a cell holds too few copies (a survey denser than the training one
gives objects whose point count no training copy reaches within their
baseline), the reference widens in this order: the class's copies of the same
band of points at any baseline, all classes' copies of the cell, all classes'
copies of the band of points, every copy. The point count comes first because
it is what limits the reconstruction most.

Sign: HIGHER = more anomalous; inside the reference range the conditioned
score is the fraction of reference copies at or below (so ``p / 100`` flags a
fraction ``1 - p / 100`` of known objects in every cell), beyond it it keeps
growing (:func:`rnngmm.novelty.class_fair.rank_against`).

Pure numpy, no TensorFlow.
"""

import numpy as np

from rnngmm.novelty.class_fair import rank_against
from rnngmm.shifts import subsample, window

#: Upper edges of the bands of cleaned point counts (the last band is open).
N_POINT_EDGES = (30, 45, 70, 100, 150, 250)
#: Upper edges of the bands of baselines in days (the last band is open).
BASELINE_EDGES = (500.0, 1500.0)
#: A (class, cell) with fewer reference copies uses the cell's copies of all classes.
MIN_CELL_OBJECTS = 20
#: Key of the reference of every copy (below every band's key).
_EVERY_COPY = (-1, -1 - len(N_POINT_EDGES) - 1)
#: Point counts the thinned reference copies are drawn at.
THINNED_POINTS = (20, 25, 30, 40, 50, 60, 80, 100, 125, 150, 200)
#: Window lengths (days) of the windowed reference copies.
WINDOW_DAYS = (365.25, 2 * 365.25, 3 * 365.25)


def point_band(n_points):
    """Index of the band of cleaned point counts (:data:`N_POINT_EDGES`)."""
    return np.searchsorted(N_POINT_EDGES, np.asarray(n_points, np.float64), side="right")


def sampling_cell(n_points, baseline):
    """Index of the sampling cell of each object (band of points x band of baseline).

    Parameters
    ----------
    n_points : array_like of int
        Cleaned points.
    baseline : array_like of float
        Last minus first epoch (days).

    Returns
    -------
    ndarray of int64
    """
    n_band = point_band(n_points)
    b_band = np.searchsorted(BASELINE_EDGES, np.asarray(baseline, np.float64), side="right")
    return (n_band * (len(BASELINE_EDGES) + 1) + b_band).astype(np.int64)


def reference_copies(time, mag, err, rng, *, min_points=20, thinned=THINNED_POINTS,
                     windows=WINDOW_DAYS):
    """Copies of one light curve as sparser and shorter surveys would see it.

    One copy thinned at random (whole baseline) to each count of ``thinned``
    below the object's own, and one random window of each length in
    ``windows`` shorter than its baseline (kept when it holds at least
    ``min_points`` epochs).

    Returns
    -------
    list of (time, mag, err)
    """
    time = np.asarray(time, np.float64)
    mag = np.asarray(mag, np.float64)
    err = np.asarray(err, np.float64)
    copies = [subsample(time, mag, err, n, rng) for n in thinned if min_points <= n < len(time)]
    baseline = time[-1] - time[0] if len(time) else 0.0
    for span in windows:
        if span < baseline:
            cut = window(time, mag, err, span, rng)
            if len(cut[0]) >= min_points:
                copies.append(cut)
    return copies


class SamplingPercentile:
    """Reference scores per (predicted class, sampling cell).

    Parameters
    ----------
    min_objects : int
        A (class, cell) with fewer reference copies is ranked against the
        cell's copies of every class (and a cell with fewer against all).

    Attributes
    ----------
    sorted_ : dict of (int, int) to ndarray
        Sorted reference scores per (class, cell) and, under ``-1 - band``
        for a cell, per (class, band of points) at any baseline; class -1
        pools the classes; key (-1, -1 - len(bands)) holds every copy.
    """

    def __init__(self, min_objects=MIN_CELL_OBJECTS):
        self.min_objects = int(min_objects)

    def fit(self, scores, classes, n_points, baseline):
        """Learn the reference distributions; returns self.

        Parameters
        ----------
        scores : array_like of float (n,)
            The run's novelty score of each reference copy (finite).
        classes : array_like of int (n,)
            Each copy's predicted class.
        n_points, baseline : array_like (n,)
            Each copy's cleaned points and baseline (days).
        """
        scores = np.asarray(scores, np.float64).ravel()
        classes = np.asarray(classes, np.int64).ravel()
        cells = sampling_cell(n_points, baseline).ravel()
        if not (len(scores) == len(classes) == len(cells)) or not len(scores):
            raise ValueError("reference scores, classes, n_points and baseline must be "
                             "non-empty and of the same length")
        if not np.all(np.isfinite(scores)):
            raise ValueError("reference scores must be finite")
        groups = {}  # key -> member mask; a band of points at any baseline is -1 - band
        for group in (cells, -1 - point_band(n_points).ravel()):
            for value in np.unique(group):
                groups[(-1, int(value))] = group == value
                for k in np.unique(classes[group == value]):
                    groups[(int(k), int(value))] = (group == value) & (classes == k)
        self.sorted_ = {key: np.sort(scores[members]) for key, members in groups.items()
                        if np.count_nonzero(members) >= self.min_objects}
        self.sorted_[_EVERY_COPY] = np.sort(scores)
        return self

    def _reference(self, k, cell, band):
        for key in ((int(k), int(cell)), (int(k), -1 - int(band)), (-1, int(cell)),
                    (-1, -1 - int(band))):
            if key in self.sorted_:
                return self.sorted_[key]
        return self.sorted_[_EVERY_COPY]

    def transform(self, scores, classes, n_points, baseline):
        """Conditioned scores (HIGHER = more anomalous; NaN stays NaN)."""
        scores = np.asarray(scores, np.float64).ravel()
        classes = np.asarray(classes, np.int64).ravel()
        cells = sampling_cell(n_points, baseline).ravel()
        bands = point_band(n_points).ravel()
        out = np.full(len(scores), np.nan)
        finite = np.isfinite(scores)
        keys = np.stack([classes, cells, bands], axis=1)[finite]
        for k, cell, band in np.unique(keys, axis=0) if len(keys) else ():
            rows = finite & (classes == k) & (cells == cell)
            out[rows] = rank_against(self._reference(k, cell, band), scores[rows])
        return out

    def to_arrays(self):
        """``{name: array}`` to store: keys and the concatenated sorted scores."""
        keys = sorted(self.sorted_)
        return {"keys": np.asarray(keys, np.int64).reshape(-1, 2),
                "lengths": np.asarray([len(self.sorted_[k]) for k in keys], np.int64),
                "values": np.concatenate([self.sorted_[k] for k in keys]),
                "min_objects": np.asarray(self.min_objects, np.int64)}

    @classmethod
    def from_arrays(cls, arrays):
        """The inverse of :meth:`to_arrays`."""
        reference = cls(int(np.asarray(arrays["min_objects"])))
        bounds = np.concatenate([[0], np.cumsum(np.asarray(arrays["lengths"]))])
        values = np.asarray(arrays["values"], np.float64)
        reference.sorted_ = {(int(k[0]), int(k[1])): values[bounds[i]:bounds[i + 1]]
                             for i, k in enumerate(np.asarray(arrays["keys"]))}
        return reference
