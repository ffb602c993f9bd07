"""Candidate novelty scores on finished leave-one-class-out folds (issue 13.6).

For each fold run (trained without one class, ``rnngmm loco``), the run's
training objects and its evaluation objects (known validation objects and the
held-out class) go through the scoring path once; every candidate score is
then computed per object and judged by AUROC (held-out class = positive,
known validation objects = negative). Thresholds are not needed for AUROC,
but the class-fair scores are fitted on the TRAINING objects only.

Candidates (HIGHER = more anomalous for all):

``energy``          the run's mixture sample energy (DAGMM)
``class_energy``    the energy ranked within the predicted class
``max_probability`` ``1 - max_k p_k`` (maximum softmax probability)
``reconstruction``  mean reconstruction error of the object's chunks
``knn_code``        mean distance to the k nearest training objects' mean
                    latent codes (standardised on the training objects)
``knn_mix``         the same on the mixture input (code, reconstruction
                    features, supports)
``class_<score>``   a score ranked within the predicted class
``rank_<a>+<b>``    mean of two scores' training-ECDF ranks
``rf_max_probability``, ``iforest``  the frozen feature forest's
                    ``1 - max p`` and an isolation forest on the same features
                    (the baselines of ``rnngmm score``)

Usage::

    python benchmarks/loco_scores.py --run_dirs /tmp/loco9/keras_logs/crts/loco_* \
        --output /tmp/loco9/candidates.json
"""

import argparse
import json
import os
import sys

import numpy as np

from rnngmm.novelty.class_fair import ClassPercentile
from rnngmm.dist import Dist
from rnngmm.inference import aggregate_objects, mean_by_object
from rnngmm.io.dataset import Dataset
from rnngmm.rundir import load_run
from rnngmm.scoring import features
from rnngmm.scoring.baselines import (impute_with_training_medians, isolation_forest_scores,
                                      random_forest_probabilities)
from rnngmm.scoring.score import (ROLE_NOVEL, ROLE_VALIDATION, evaluation_plan,
                                  infer_objects, run_dataset_path, split_indices)
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import NearestNeighbors


def object_means(inference, n_classes):
    """Per-object probabilities, energy, code, mixture input and reconstruction
    error (NaN where not scored)."""
    n = len(inference.indices)
    recon = np.full(n, np.nan)
    prob = np.full((n, n_classes), np.nan)
    energy = np.full(n, np.nan)
    code = np.full((n, inference.scores.code.shape[1]), np.nan)
    mix = np.full((n, inference.scores.z.shape[1]), np.nan)
    if len(inference.scores):
        means = aggregate_objects(inference.scores, inference.chunk_position)
        prob[means.objects], energy[means.objects] = means.prob, means.energy
        code[means.objects] = means.code
        objects, mix_mean, _ = mean_by_object(inference.scores.z, inference.chunk_position)
        mix[objects] = mix_mean
        objects, recon_mean, _ = mean_by_object(inference.scores.recon_error,
                                                inference.chunk_position)
        recon[objects] = recon_mean
    return prob, energy, code, mix, recon


def knn_distance(train, query, k=10, exclude_self=False):
    """Mean Euclidean distance to the ``k`` nearest training rows (standardised)."""
    mean, std = train.mean(axis=0), train.std(axis=0) + 1e-9
    index = NearestNeighbors(n_neighbors=k + int(exclude_self)).fit((train - mean) / std)
    distance, _ = index.kneighbors((query - mean) / std)
    return distance[:, int(exclude_self):].mean(axis=1)


def ecdf_rank(train_scores, scores):
    """Fraction of training scores below each score (0..1)."""
    ordered = np.sort(train_scores)
    return np.searchsorted(ordered, scores, side="right") / max(len(ordered), 1)


def candidate_scores(run, training, evaluated, k=10):
    """Every candidate score for the evaluated objects (dict name -> (n,)) and
    the predicted class index of each evaluated object."""
    n_classes = len(run.class_names)
    t_prob, t_energy, t_code, t_mix, t_recon = object_means(training, n_classes)
    e_prob, e_energy, e_code, e_mix, e_recon = object_means(evaluated, n_classes)
    t_ok = np.all(np.isfinite(t_code), axis=1)
    e_ok = np.all(np.isfinite(e_code), axis=1)
    t_pred = np.argmax(np.nan_to_num(t_prob[t_ok], nan=-1), axis=1)
    e_pred = np.argmax(np.nan_to_num(e_prob, nan=-1), axis=1)

    train, scores = {}, {}
    train["energy"], scores["energy"] = t_energy[t_ok], e_energy
    train["reconstruction"], scores["reconstruction"] = t_recon[t_ok], e_recon
    train["max_probability"] = 1 - t_prob[t_ok].max(axis=1)
    scores["max_probability"] = 1 - np.nanmax(np.where(np.isnan(e_prob), -1, e_prob), axis=1)
    for name, t_x, e_x in (("knn_code", t_code, e_code), ("knn_mix", t_mix, e_mix)):
        t_x = t_x[t_ok]
        train[name] = knn_distance(t_x, t_x, k, exclude_self=True)
        column = np.full(len(e_x), np.nan)
        column[e_ok] = knn_distance(t_x, e_x[e_ok], k)
        scores[name] = column
    for name in list(train):
        calibration = ClassPercentile().fit(train[name], t_pred)
        train[f"class_{name}"] = calibration.transform(train[name], t_pred)
        scores[f"class_{name}"] = calibration.transform(scores[name], e_pred)
    # The package's "class_energy_msp" (rnngmm.novelty.mixture): class-fair
    # energy and pooled-percentile doubt averaged, calibrated within the class.
    pooled = ClassPercentile().fit(train["max_probability"], np.zeros(len(t_pred)))
    t_mean = 0.5 * (train["class_energy"] + pooled.transform(train["max_probability"],
                                                              np.zeros(len(t_pred))))
    e_doubt = scores["max_probability"]
    e_mean = 0.5 * (scores["class_energy"] + pooled.transform(e_doubt, np.zeros(len(e_doubt))))
    scores["class_energy_msp"] = ClassPercentile().fit(t_mean, t_pred).transform(e_mean, e_pred)
    # Variant: class-fair doubt.
    name = "class_energy_classdoubt"
    t_mean = 0.5 * (train["class_energy"] + train["class_max_probability"])
    e_mean = 0.5 * (scores["class_energy"] + scores["class_max_probability"])
    scores[name] = ClassPercentile().fit(t_mean, t_pred).transform(e_mean, e_pred)
    # Class-fair version of the best pooled combination: calibrated energy and
    # pooled doubt as training ranks, averaged, calibrated within the class.
    t_rank = 0.5 * (ecdf_rank(train["class_energy"], train["class_energy"])
                    + ecdf_rank(train["max_probability"], train["max_probability"]))
    e_rank = 0.5 * (ecdf_rank(train["class_energy"], scores["class_energy"])
                    + ecdf_rank(train["max_probability"], scores["max_probability"]))
    scores["class_rank_energy_msp"] = ClassPercentile().fit(t_rank, t_pred).transform(
        e_rank, e_pred)
    for a, b in (("class_energy", "max_probability"), ("knn_code", "max_probability"),
                 ("class_knn_code", "max_probability"), ("knn_mix", "max_probability"),
                 ("class_energy", "knn_code")):
        scores[f"rank_{a}+{b}"] = 0.5 * (ecdf_rank(train[a], scores[a])
                                         + ecdf_rank(train[b], scores[b]))
    return scores, e_pred


def fold_result(run_dir, output, batch_size=512, k=10):
    """AUROC of each candidate for one fold run."""
    run = load_run(run_dir)
    config = json.load(open(os.path.join(run_dir, "config.json")))
    held_out = config["train"]["novel_classes"]
    dist = Dist()
    with Dataset(run_dataset_path(run)) as dataset:
        indices, roles = evaluation_plan(dataset, run, external=False, novel_classes=held_out)
        keep = np.isin(roles, [ROLE_VALIDATION, ROLE_NOVEL])
        indices, roles = indices[keep], roles[keep]
        evaluated = infer_objects(run, dataset, indices, dist, batch_size, label="evaluate")
        train_idx = split_indices(dataset, run.split)["train"]
        training = infer_objects(run, dataset, train_idx, dist, batch_size, label="training")
        table = features.dataset_features(dataset)
        class_index = {str(c): n for n, c in enumerate(run.class_names)}
        y_train = np.array([class_index[str(c)] for c in dataset.labels[train_idx]])
    scores, predicted = candidate_scores(run, training, evaluated, k=k)
    x_train, x_eval = impute_with_training_medians(table[train_idx], table[indices])
    prob = random_forest_probabilities(x_train, y_train, x_eval, len(run.class_names))
    scores["rf_max_probability"] = 1 - prob.max(axis=1)
    scores["iforest"] = isolation_forest_scores(x_train, x_eval)[1]
    truth = roles == ROLE_NOVEL
    out = {"run_dir": os.fspath(run_dir), "held_out": held_out,
           "n_novel": int(truth.sum()), "n_known": int((~truth).sum()), "roc_auc": {},
           # which known classes absorb the held-out objects
           "novel_predicted_as": {str(run.class_names[c]): int(n) for c, n in zip(
               *np.unique(predicted[truth & evaluated.ok], return_counts=True))}}
    np.savez(os.path.splitext(os.fspath(output))[0] + "_scores.npz", novel=truth,
             ok=evaluated.ok, predicted=predicted, **scores)
    for name, values in scores.items():
        ok = np.isfinite(values) & evaluated.ok  # the objects the network scored
        out["roc_auc"][name] = float(roc_auc_score(truth[ok], values[ok]))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run_dirs", nargs="+", required=True)
    parser.add_argument("--output", required=True, help="JSON file of per-fold AUROCs")
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args(argv)
    results = []
    for run_dir in args.run_dirs:
        result = fold_result(run_dir, args.output, k=args.k)
        results.append(result)
        print(json.dumps({"held_out": result["held_out"],
                          **{k: round(v, 3) for k, v in result["roc_auc"].items()}}))
        sys.stdout.flush()
    names = list(results[0]["roc_auc"]) if results else []
    mean = {name: float(np.mean([r["roc_auc"][name] for r in results])) for name in names}
    with open(args.output, "w") as handle:
        json.dump({"folds": results, "mean_roc_auc": mean, "k": args.k}, handle, indent=1)
    for name, value in sorted(mean.items(), key=lambda item: -item[1]):
        print(f"{value:.3f}  {name}")


if __name__ == "__main__":
    main()
