"""Flag thresholds taken from the catalog itself (``flag --calibrate catalog``).

The run's thresholds come from its training objects. On a survey with
another cadence, depth or noise every object's novelty score moves, and the
training thresholds flag most ordinary stars. Taking the thresholds from the
catalog's own scores restores the meaning "``anomaly_p`` flags ``1 - p/100``
of the ordinary objects", provided the anomalies do not set the threshold.

Rule (trimmed percentile): the user states the fraction ``F`` of the catalog
expected to be truly anomalous (``--contamination``). The top ``F`` of the
scores are set aside as the candidate anomalies, and the ``p``-th percentile
of the remaining ``1 - F`` is the threshold; that is the quantile
``p/100 (1 - F)`` of all scores. If the anomalies do score above the
ordinary objects, the threshold is the clean sample's ``p``-th percentile
whatever their scores are (a median/MAD rule would instead assume a shape
for the score, which the class-fair score, near-uniform up to 1 with a
tail, does not have). Getting ``F`` wrong by ``dF`` moves the ordinary
objects' flag rate by about ``dF p/100``.

Pure numpy.
"""

import numpy as np

#: Default ``--contamination``: a percent of the catalog truly anomalous.
DEFAULT_CONTAMINATION = 0.01
#: ``--contamination`` must be below this (beyond it "the anomalies" are no
#: longer a minority and no rule based on the catalog alone can tell them).
MAX_CONTAMINATION = 0.5
#: A threshold with fewer clean objects above it is reported as uncertain.
MIN_OBJECTS_ABOVE = 10


def check_contamination(contamination):
    """``contamination`` as a float in ``[0, MAX_CONTAMINATION)``.

    Raises
    ------
    ValueError
        Naming the value, otherwise.
    """
    value = float(contamination)
    if not 0.0 <= value < MAX_CONTAMINATION:
        raise ValueError(f"--contamination must lie in [0, {MAX_CONTAMINATION:g}) (the "
                         f"fraction of the catalog expected to be anomalous), got {value:g}")
    return value


def catalog_thresholds(scores, percentiles, contamination=DEFAULT_CONTAMINATION):
    """Thresholds on a novelty score from the catalog's own scores.

    Parameters
    ----------
    scores : array_like (n,)
        The run's novelty score of every scored catalog object (HIGHER = more
        anomalous); NaN values are ignored.
    percentiles : sequence of float
        In (0, 100).
    contamination : float
        Fraction of the catalog expected to be truly anomalous, in [0, 0.5).

    Returns
    -------
    dict of float to float
        ``{p: threshold}``: the quantile ``p/100 (1 - contamination)`` of the
        scores (linear interpolation, as the training thresholds), so that
        ``1 - p/100`` of the catalog's lowest ``1 - contamination`` lies above.

    Raises
    ------
    ValueError
        Without a finite score, or for a percentile or contamination out of range.
    """
    contamination = check_contamination(contamination)
    scores = np.asarray(scores, np.float64).ravel()
    scores = np.sort(scores[np.isfinite(scores)])
    if not len(scores):
        raise ValueError("no scored object to take thresholds from")
    out = {}
    for p in percentiles:
        p = float(p)
        if not 0 < p < 100:
            raise ValueError(f"percentile {p:g} is not strictly between 0 and 100")
        out[p] = float(np.quantile(scores, p / 100.0 * (1.0 - contamination)))
    return out


def thin_thresholds(n_scored, percentiles, contamination=DEFAULT_CONTAMINATION,
                    min_above=MIN_OBJECTS_ABOVE):
    """Percentiles whose catalog threshold rests on fewer than ``min_above``
    of the ``(1 - contamination) n_scored`` ordinary objects above it."""
    clean = (1.0 - float(contamination)) * int(n_scored)
    return [float(p) for p in percentiles if clean * (1.0 - float(p) / 100.0) < min_above]


def flag_counts_by_class(classes, scores, thresholds, n_classes):
    """Objects per class, and those flagged at each threshold.

    Parameters
    ----------
    classes : array_like of int (n,)
        Class of each object (in ``0 .. n_classes - 1``).
    scores : array_like of float (n,)
        Novelty scores; an object is flagged when its score is ABOVE the
        threshold (NaN never is).
    thresholds : dict of float to float
    n_classes : int

    Returns
    -------
    ndarray of int64 (1 + P, n_classes)
        Row 0: objects per class; row ``1 + j``: flagged at the ``j``-th
        threshold (in ``thresholds``' order). Integer counts add up exactly
        over blocks and ranks.
    """
    classes = np.asarray(classes, np.int64).ravel()
    scores = np.asarray(scores, np.float64).ravel()
    if len(classes) != len(scores):
        raise ValueError(f"{len(classes)} classes for {len(scores)} scores")
    rows = [np.bincount(classes, minlength=n_classes)]
    for threshold in thresholds.values():
        rows.append(np.bincount(classes[scores > threshold], minlength=n_classes))
    return np.stack(rows).astype(np.int64)


def rates_from_counts(counts):
    """Flag rates of each threshold per class, and over all classes, from
    :func:`flag_counts_by_class` counts: ``(per_class (P, K), overall (P,))``,
    NaN for a class without objects."""
    counts = np.asarray(counts, np.float64)
    n, flagged = counts[0], counts[1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.where(n > 0, flagged / np.where(n > 0, n, 1), np.nan)
        overall = flagged.sum(axis=1) / n.sum() if n.sum() else np.full(len(flagged), np.nan)
    return per_class, overall
