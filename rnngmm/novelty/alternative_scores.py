"""Novelty scores from one trained model, beside the reference sample energy.

Every score is per object and HIGHER = more anomalous, so they share the
thresholds, metrics and plots of the energy:

``energy``
    The reference (DAGMM): mean chunk sample energy ``-log sum_k phi_k N(z|mu_k, S_k)``.
``component_energy``
    ``-log max_k N(z | mu_k, S_k)``: the energy of the best-fitting mixture
    component WITHOUT the weight ``phi_k``, so a star of a rare known class is
    not charged for its class being rare (the class-fair variant).
``mahalanobis``
    Smallest class-conditional Mahalanobis distance (squared) of the object's
    mean code, with a covariance shared by the classes (fitted on the
    training objects' codes and labels).
``reconstruction``
    Mean reconstruction error of the object's chunks.
``max_probability``
    ``1 - max_k p_k`` of the mean class probabilities.

The functions are pure numpy (the mixture maths goes through
:mod:`rnngmm.models.gmm`).
"""

import numpy as np
from keras import ops

from rnngmm.models import gmm
from rnngmm.inference import mean_by_object
from rnngmm.object_table import percentile_label

#: Scores reported beside ``energy`` (names of :func:`object_scores` entries).
ALTERNATIVE_SCORES = ("component_energy", "mahalanobis", "reconstruction", "max_probability")
#: Scores also reported ranked within the predicted class (``class_<name>``,
#: :mod:`rnngmm.novelty.class_fair`); "energy" only for runs that flag on the raw energy.
CLASS_FAIR = ("energy", "component_energy", "mahalanobis", "reconstruction",
                    "max_probability")


def component_energy(z, mu, cov, jitter=1e-6):
    """``-log max_k N(z | mu_k, cov_k)`` per row (HIGHER = more anomalous).

    Parameters
    ----------
    z : ndarray (N, D)
    mu : ndarray (K, D)
    cov : ndarray (K, D, D)
    jitter : float

    Returns
    -------
    ndarray (N,) float64
    """
    z = np.asarray(z, np.float64)
    per_component = np.stack([
        np.asarray(ops.convert_to_numpy(gmm.sample_energy(
            z, np.ones(1), np.asarray(mu, np.float64)[k:k + 1],
            np.asarray(cov, np.float64)[k:k + 1], jitter=jitter)), np.float64)
        for k in range(len(mu))], axis=1) if len(z) else np.zeros((0, len(mu)))
    return per_component.min(axis=1) if len(z) else np.zeros(0)


class ClassMahalanobis:
    """Class means and one shared covariance of training codes; scores are the
    smallest squared Mahalanobis distance to a class mean (HIGHER = more anomalous).

    Parameters
    ----------
    ridge : float
        Added to the shared covariance's diagonal, relative to its mean variance.
    """

    def __init__(self, ridge=1e-3):
        self.ridge = ridge

    def fit(self, codes, labels):
        """Fit on training objects' codes (n, E) and integer labels (n,); returns self."""
        codes = np.asarray(codes, np.float64)
        labels = np.asarray(labels)
        self.classes_ = np.unique(labels)
        self.means_ = np.stack([codes[labels == c].mean(axis=0) for c in self.classes_])
        centred = codes - self.means_[np.searchsorted(self.classes_, labels)]
        cov = centred.T @ centred / max(len(codes) - len(self.classes_), 1)
        cov += self.ridge * max(np.trace(cov) / len(cov), 1e-12) * np.eye(len(cov))
        self.precision_ = np.linalg.inv(cov)
        return self

    def score(self, codes):
        """Smallest squared distance to a class mean, per row."""
        codes = np.asarray(codes, np.float64)
        diff = codes[:, None, :] - self.means_[None, :, :]
        return np.einsum("nkd,de,nke->nk", diff, self.precision_, diff).min(axis=1)


def object_scores(*, chunk_z, chunk_recon, chunk_position, n_objects, object_prob,
                  object_code, novelty, mahalanobis):
    """Alternative scores per object (NaN where an object has no chunk).

    Parameters
    ----------
    chunk_z : ndarray (N, D)
    chunk_recon : ndarray (N,)
    chunk_position : ndarray of int (N,)
        Object (0..n_objects-1) of each chunk.
    n_objects : int
    object_prob : ndarray (n_objects, K)
        Mean class probabilities (NaN rows where not scored).
    object_code : ndarray (n_objects, E)
        Mean codes (NaN rows where not scored).
    novelty : rnngmm.novelty.mixture.GMMNovelty
        The run's mixture.
    mahalanobis : ClassMahalanobis or None
        Fitted on the training objects; None leaves that score out.

    Returns
    -------
    dict of str to ndarray (n_objects,)
    """
    out = {}
    ok = np.zeros(n_objects, bool)
    ok[np.unique(chunk_position)] = True
    for name, values in (("component_energy",
                          component_energy(chunk_z, novelty.mu_, novelty.cov_, novelty.jitter)),
                         ("reconstruction", chunk_recon)):
        column = np.full(n_objects, np.nan)
        if len(values):
            objects, means, _ = mean_by_object(values, chunk_position)
            column[objects] = means
        out[name] = column
    if mahalanobis is not None:
        column = np.full(n_objects, np.nan)
        if ok.any():
            column[ok] = mahalanobis.score(object_code[ok])
        out["mahalanobis"] = column
    out["max_probability"] = np.where(ok, 1.0 - np.nanmax(
        np.where(np.isnan(object_prob), -np.inf, object_prob), axis=1), np.nan)
    return out


def flag_rates_by_class(scores, thresholds, labels, class_names):
    """Fraction of objects of each known class above each threshold.

    Parameters
    ----------
    scores : ndarray (n,)
        Scores of known-class objects (HIGHER = more anomalous).
    thresholds : dict of float to float
    labels : array_like of str (n,)
    class_names : sequence of str

    Returns
    -------
    dict
        ``{percentile label: {class: rate, ...}}`` (classes with no object left out).
    """
    labels = np.asarray(labels).astype(str)
    scores = np.asarray(scores, np.float64)
    return {percentile_label(p): {c: float(np.mean(scores[labels == c] > t))
                                  for c in class_names if np.any(labels == c)}
            for p, t in thresholds.items()}
