"""Reference copies of training objects for the sampling-conditioned novelty score.

After the mixture is fitted, training objects are re-observed the way sparser
and shorter surveys would see them (:func:`rnngmm.novelty.sampling.reference_copies`:
thinned over the whole baseline, cut to 1-3-year windows), each copy is
prepared, chunked and scored on the one path of every object, and the run's
score of every copy, with its predicted class, cleaned points and baseline, is
what :meth:`rnngmm.novelty.mixture.GMMNovelty.set_sampling_reference` ranks new
objects against. The whole training objects are part of the reference, so
well-sampled objects are ranked as before.

A copy's period is its source's (the catalog's or the dataset's), or, with
``search`` (the run's :class:`~rnngmm.lightcurves.objects.Preprocessing` of a run
that searches its own periods), the package's own search on the copy's points,
as ``rnngmm flag`` would give it.
"""

import numpy as np

from rnngmm.errors import BadLightCurve
from rnngmm.inference import mean_by_object, predict_chunks
from rnngmm.lightcurves.objects import chunk_objects, choose_period, observed_sampling
from rnngmm.novelty.sampling import reference_copies

#: Training objects copied (a stratified-enough random subset of larger sets).
MAX_OBJECTS = 4000


def period_search_of(preprocessing):
    """The settings to search copies' periods with, or None when the run reads
    catalog periods (a run that searches its own periods searches copies too)."""
    return preprocessing if preprocessing.period_source == "lomb-scargle" else None


def copy_records(dataset, indices, *, seed=0, min_points=20, search=None):
    """``(records, n_points, baseline)`` of every copy of ``indices`` (source first).

    Returns
    -------
    records : list of (int, time, mag, err, period)
        Numbered from 0 in order, ready for :func:`chunk_objects`.
    n_points, baseline : ndarray
        Of each record.
    """
    records, n_points, baseline = [], [], []
    for i, time, mag, err in dataset.iter_lightcurves(indices):
        rng = np.random.default_rng([seed, int(i)])
        time, mag, err = (np.asarray(a, np.float64) for a in (time, mag, err))
        copies = [(time, mag, err)] + reference_copies(time, mag, err, rng,
                                                       min_points=min_points)
        for k, (t, m, e) in enumerate(copies):
            period = dataset.periods[i]
            if search is not None and k > 0:
                try:
                    period = choose_period(t, m, e, np.nan, search)[0]
                except BadLightCurve:
                    continue  # flag would report "no usable period": no score to rank
            records.append((len(records), t, m, e, period))
            n, span = observed_sampling(t)
            n_points.append(n)
            baseline.append(span)
    return records, np.asarray(n_points, np.int64), np.asarray(baseline, np.float64)


def reference_scores(model, mixture, dataset, indices, chunking, *, seed=0,
                     max_objects=MAX_OBJECTS, search=None, batch_size=512):
    """The run's score of reference copies of training objects.

    Parameters
    ----------
    model : keras.Model
    mixture : rnngmm.novelty.mixture.GMMNovelty
        Fitted, with its training energies (the unconditioned score).
    dataset : rnngmm.io.dataset.Dataset
    indices : array_like of int
        Training objects (dataset indices); at most ``max_objects`` of them,
        drawn at random with ``seed``, are copied.
    chunking : rnngmm.lightcurves.objects.Chunking
        The run's scoring chunking (``score_n_min`` as ``n_min``).
    search : rnngmm.lightcurves.objects.Preprocessing, optional
        Search each copy's period anew (runs that search their own periods).

    Returns
    -------
    scores, classes, n_points, baseline : ndarray
        For :meth:`GMMNovelty.set_sampling_reference`.
    """
    indices = np.sort(np.asarray(indices, np.int64))
    if len(indices) > max_objects:
        chosen = np.random.default_rng(seed).choice(indices, max_objects, replace=False)
        indices = np.sort(chosen)
    records, n_points, baseline = copy_records(dataset, indices, seed=seed,
                                               min_points=chunking.n_min, search=search)
    chunk_set = chunk_objects(records, chunking)
    outputs = predict_chunks(model, chunk_set.chunks, batch_size=batch_size)
    energy = mixture.energy(outputs["z"].astype(np.float64))
    owners, object_energy, _ = mean_by_object(energy, chunk_set.object_index)
    _, object_gamma, _ = mean_by_object(outputs["gamma"], chunk_set.object_index)
    classes = np.argmax(object_gamma, axis=1)
    scores = mixture.novelty_scores(object_energy, classes, np.max(object_gamma, axis=1),
                                    conditioned=False)
    return scores, classes, n_points[owners], baseline[owners]


def fit_sampling_reference(model, mixture, dataset, train_objects, chunking, collectives, *,
                           seed=0, search=None, max_objects=MAX_OBJECTS, batch_size=512):
    """Condition ``mixture``'s score on the sampling (in place, identical on every rank).

    Each rank copies and scores its share of its own training objects
    (``train_objects``: dataset indices); the reference is gathered from all.

    Returns
    -------
    rnngmm.novelty.mixture.GMMNovelty
        ``mixture``.
    """
    share = max(1, max_objects // max(collectives.dist.size, 1))
    scores, classes, n_points, baseline = reference_scores(
        model, mixture, dataset, train_objects, chunking, seed=seed + collectives.dist.rank,
        max_objects=share, search=search, batch_size=batch_size)
    gathered = [collectives.allgather(np.asarray(a, np.float64))
                for a in (scores, classes, n_points, baseline)]
    mixture.set_sampling_reference(gathered[0], gathered[1].astype(np.int64),
                                   gathered[2].astype(np.int64), gathered[3])
    return mixture
