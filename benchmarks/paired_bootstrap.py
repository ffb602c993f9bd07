"""Paired bootstrap of macro-F1 between two classifiers on the same objects.

Reads the ``scoring/objects.ecsv`` tables that ``rnngmm score`` writes for two
runs (or one run's network against its feature forest), keeps the objects both
scored in the role asked for, and resamples those objects with replacement:
the interval of the difference says whether a change is larger than the
object-to-object noise of a few dozen rare-class stars.

Usage::

    .venv/bin/python benchmarks/paired_bootstrap.py RUN_A RUN_B [--column_b rf_features_predicted]

Each ``RUN`` is a run directory (its ``scoring/objects.ecsv``) or an ECSV path.
"""

import argparse
import os

import numpy as np
from astropy.table import Table
from sklearn.metrics import f1_score


def read_predictions(path, column, role):
    """{id: (label, prediction)} of the objects of ``role`` with a label."""
    if os.path.isdir(path):
        path = os.path.join(path, "scoring", "objects.ecsv")
    table = Table.read(path)
    keep = (table["role"] == role) & (table["label"] != "")
    return {str(i): (str(label), str(predicted)) for i, label, predicted in
            zip(table["id"][keep], table["label"][keep], table[column][keep])}


def paired_bootstrap(labels, first, second, *, resamples=1000, seed=0):
    """F1 of both per class and macro, and 95 % intervals of first - second.

    Returns
    -------
    dict
        ``{name: (f1 first, f1 second, low, high)}`` for ``"macro"`` and each class.
    """
    classes = sorted(set(labels))
    labels, first, second = map(np.asarray, (labels, first, second))

    def scores(truth, predicted):
        per_class = f1_score(truth, predicted, labels=classes, average=None, zero_division=0)
        return np.append(per_class.mean(), per_class)

    rng = np.random.default_rng(seed)
    differences = []
    for _ in range(resamples):
        pick = rng.integers(0, len(labels), len(labels))
        differences.append(scores(labels[pick], first[pick]) - scores(labels[pick], second[pick]))
    low, high = np.percentile(differences, [2.5, 97.5], axis=0)
    a, b = scores(labels, first), scores(labels, second)
    return {name: (a[i], b[i], low[i], high[i]) for i, name in enumerate(["macro", *classes])}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_a")
    parser.add_argument("run_b")
    parser.add_argument("--column_a", default="predicted_class")
    parser.add_argument("--column_b", default="predicted_class")
    parser.add_argument("--role", default="validation")
    parser.add_argument("--resamples", type=int, default=1000)
    args = parser.parse_args(argv)
    a = read_predictions(args.run_a, args.column_a, args.role)
    b = read_predictions(args.run_b, args.column_b, args.role)
    ids = sorted(set(a) & set(b))
    labels = [a[i][0] for i in ids]
    results = paired_bootstrap(labels, [a[i][1] for i in ids], [b[i][1] for i in ids],
                               resamples=args.resamples)
    print(f"{len(ids)} objects ({args.role}), F1 of A and B, A - B with its 95 % interval "
          f"over {args.resamples} paired resamples:")
    for name, (f1_a, f1_b, low, high) in results.items():
        print(f"  {name:>8}  {f1_a:.3f}  {f1_b:.3f}  {f1_a - f1_b:+.3f} [{low:+.3f}, {high:+.3f}]")


if __name__ == "__main__":
    main()
