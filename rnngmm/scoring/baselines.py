"""Baselines scored beside the network, on the same training and test objects.

- ``rf_code``: random forest on the network's latent code + supports, one row
  per chunk (the comparison of Naul et al. 2018); object probabilities are the
  mean over the object's chunks, as for the network.
- ``rf_features``: random forest on hand-crafted ``light-curve`` features, one
  row per object.
- ``iforest_features``: isolation forest on the same features, for novelty
  (score = ``-score_samples``, higher = more anomalous, like the energy).

Every estimator is seeded; missing feature values are replaced by the
training objects' column medians (never by statistics of the test objects).
The random forests' configuration is frozen in :data:`RANDOM_FOREST_PARAMS`
and :data:`RANDOM_FOREST_SEED` (chosen on CRTS validation objects only,
BENCHMARKS.md "Feature-forest baseline (issue 13.1)").
"""

import warnings

import numpy as np
from sklearn.ensemble import IsolationForest, RandomForestClassifier

#: Frozen random-forest configuration (issue 13.1; do not tune on test
#: objects): 500 trees, class weights recomputed on every bootstrap sample so
#: rare classes (CEP, DSCT) are not drowned by the large ones,
#: sklearn's defaults otherwise (sqrt(n_features) per split, fully grown trees).
#: Compared with the old forest (300 trees, no weighting) on CRTS validation
#: objects in BENCHMARKS.md "Feature-forest baseline (issue 13.1)".
RANDOM_FOREST_PARAMS = {"n_estimators": 500, "class_weight": "balanced_subsample",
                        "max_features": "sqrt", "min_samples_leaf": 1, "bootstrap": True,
                        "criterion": "gini"}
#: Default seed of every estimator here (``rnngmm score`` passes its run's
#: split seed, 0 unless the run was trained with another ``--seed``).
RANDOM_FOREST_SEED = 0
#: Trees of the isolation forest (novelty baseline; unchanged by issue 13.1).
N_ESTIMATORS = 300


def impute_with_training_medians(train, *others):
    """Replace non-finite values by the training columns' medians.

    A column with no finite training value becomes 0 everywhere.

    Returns
    -------
    list of ndarray
        ``[train, *others]`` imputed (copies).
    """
    train = np.asarray(train, dtype=np.float64)
    finite = np.where(np.isfinite(train), train, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        medians = np.nanmedian(finite, axis=0) if len(train) else np.zeros(train.shape[1])
    medians = np.where(np.isfinite(medians), medians, 0.0)
    out = []
    for array in (train,) + others:
        array = np.array(array, dtype=np.float64, copy=True)
        bad = ~np.isfinite(array)
        array[bad] = np.broadcast_to(medians, array.shape)[bad]
        out.append(array)
    return out


def random_forest_probabilities(x_train, y_train, x_eval, n_classes, *,
                                seed=RANDOM_FOREST_SEED, n_jobs=1, with_oob=False):
    """Fit a random forest (:data:`RANDOM_FOREST_PARAMS`) and return class
    probabilities of ``x_eval``.

    Parameters
    ----------
    x_train, x_eval : ndarray, shape (n, f)
        May contain NaN (imputed with training medians).
    y_train : ndarray of int
        Class indices in ``0..n_classes-1``.
    n_classes : int
        Width of the returned probabilities; classes absent from training get
        probability 0.

    with_oob : bool
        Also return the training objects' out-of-bag probabilities (each from
        the trees that did not see it: honest training scores for thresholds).

    Returns
    -------
    ndarray of float64, shape (len(x_eval), n_classes)
        And, with ``with_oob``, the (len(x_train), n_classes) out-of-bag ones.
    """
    x_train, x_eval = impute_with_training_medians(x_train, x_eval)
    forest = RandomForestClassifier(**RANDOM_FOREST_PARAMS, random_state=seed, n_jobs=n_jobs,
                                    oob_score=with_oob)
    forest.fit(x_train, np.asarray(y_train, np.int64))
    probabilities = np.zeros((len(x_eval), n_classes))
    if len(x_eval):
        probabilities[:, forest.classes_] = forest.predict_proba(x_eval)
    if not with_oob:
        return probabilities
    oob = np.zeros((len(x_train), n_classes))
    # an object in every tree's bootstrap (tiny sets) has no OOB vote: NaN -> uniform
    oob[:, forest.classes_] = np.nan_to_num(forest.oob_decision_function_,
                                            nan=1.0 / len(forest.classes_))
    return probabilities, oob


def isolation_forest_scores(x_train, x_eval, *, seed=RANDOM_FOREST_SEED, n_jobs=1):
    """Novelty scores (higher = more anomalous) from an isolation forest.

    Returns
    -------
    train_scores : ndarray, shape (len(x_train),)
        Scores of the training objects (for percentile thresholds).
    eval_scores : ndarray, shape (len(x_eval),)
    """
    x_train, x_eval = impute_with_training_medians(x_train, x_eval)
    forest = IsolationForest(n_estimators=N_ESTIMATORS, random_state=seed, n_jobs=n_jobs)
    forest.fit(x_train)
    eval_scores = -forest.score_samples(x_eval) if len(x_eval) else np.zeros(0)
    return -forest.score_samples(x_train), eval_scores

