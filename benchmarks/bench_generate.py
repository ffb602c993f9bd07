"""Train on synthetic, test on real: are re-observed training objects like the new survey's?

The labelled objects of a new survey's catalog (a prepared dataset whose labels
are the run's classes; others are left out) are split, stratified and seeded,
into a PATTERN half, whose sampling patterns ``rnngmm generate`` uses, and a
TEST half, the real objects every classifier below is tested on. Patterns
give only epochs and errors, never magnitudes or labels.

Classifiers (macro-F1 over the run's classes present in the test half):

- forests on light-curve features (:mod:`rnngmm.scoring.features`, the frozen
  forest of :mod:`rnngmm.scoring.baselines`) trained on
  ``synthetic`` (the generated objects), ``train_real`` (the run's real
  training objects, at the training survey's cadence), ``train_real+synthetic``,
  and ``catalog_real`` (the labelled pattern half itself: the ceiling a
  labelled new survey would give);
- unless ``--no_heads``: the run's network as it is (``network_as_is``), and
  new estimation heads on the run's frozen autoencoder (``rnngmm train
  --init_from RUN --nb_epoch 0 --cls_epoch E``, the run's other settings):
  ``head_synthetic`` on the synthetic dataset alone, ``head_real`` on the run's
  training data (the control: same retraining, no re-observation) and
  ``head_reobserved`` on the run's training data with ``--reobserve_from``
  the pattern half, each scored with ``rnngmm score --data`` on the test half.

    .venv/bin/python benchmarks/bench_generate.py --run_dir RUN --catalog NEW.h5 \\
        --out /tmp/bench_generate [--n 4000] [--test_fraction 0.5] [--head_epochs 50] \\
        [--min_points 20] [--seed 0] [--threads 2] [--no_heads]

Writes ``<out>/patterns.h5``, ``test.h5``, ``synthetic.h5``, the head runs
under ``<out>/heads/``, and ``<out>/bench_generate.json``; prints one JSON line
per classifier and a markdown table.
"""

import argparse
import dataclasses
import json
import os
import sys
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from bench_shift import write_shifted  # noqa: E402
from common import machine_line, set_threads  # noqa: E402


def split_catalog(catalog, class_names, test_fraction, seed):
    """``(pattern indices, test indices)`` of the catalog's objects of the run's classes."""
    from rnngmm.io.dataset import Dataset
    from rnngmm.split import object_split
    with Dataset(catalog) as dataset:
        labels = np.asarray(dataset.labels).astype(str)
    known = np.flatnonzero(np.isin(labels, class_names))
    if len(known) < 2:
        raise SystemExit(f"{catalog}: fewer than 2 objects of the run's classes {class_names}")
    parts = object_split(labels[known], validation_fraction=test_fraction, seed=seed)
    return known[parts["train"]], known[parts["validation"]]


def features_and_labels(path, class_names, indices=None):
    """Feature rows and class indices of a dataset's objects (cached features)."""
    from rnngmm.io.dataset import Dataset
    from rnngmm.scoring.features import dataset_features
    with Dataset(path) as dataset:
        features = dataset_features(dataset)
        labels = np.asarray(dataset.labels).astype(str)
    indices = np.arange(len(labels)) if indices is None else np.asarray(indices, np.int64)
    indices = indices[np.isin(labels[indices], class_names)]
    lookup = {c: k for k, c in enumerate(class_names)}
    return features[indices], np.array([lookup[c] for c in labels[indices]], np.int64)


def run_training_indices(run_dir):
    """Dataset path and indices of a run's real training objects."""
    from rnngmm.io.dataset import Dataset
    with open(os.path.join(run_dir, "config.json")) as f:
        path = json.load(f)["dataset"]["path"]
    with open(os.path.join(run_dir, "split.json")) as f:
        train_ids = set(json.load(f)["train"])
    with Dataset(path) as dataset:
        return path, np.flatnonzero(np.isin(np.asarray(dataset.ids).astype(str),
                                            list(train_ids)))


def forest_macro_f1(train, test, class_names, seed):
    from rnngmm.scoring.baselines import random_forest_probabilities
    from rnngmm.scoring.metrics import classification_metrics
    probabilities = random_forest_probabilities(train[0], train[1], test[0], len(class_names),
                                                seed=seed)
    found = classification_metrics(test[1], np.argmax(probabilities, axis=1), class_names)
    return {"n_train": int(len(train[1])), "n_test": found["n"],
            "accuracy": found["accuracy"], "macro_f1": found["macro_f1"]}


def network_macro_f1(run_dir, test_path, output):
    from rnngmm.scoring.score import ScoreConfig, score_run
    result = score_run(ScoreConfig(run_dir, data=test_path, with_baselines=False,
                                   output=output))
    found = result["classification"].get("network", {}).get("object", {})
    # a run whose n_min exceeds the test objects' points scores none of them
    return {"n_test": found.get("n", 0), "accuracy": found.get("accuracy", float("nan")),
            "macro_f1": found.get("macro_f1", float("nan"))}


def train_head(run_dir, out, name, epochs, seed, **changes):
    """A new estimation head on the run's frozen autoencoder; its run directory."""
    from rnngmm.training.config import TrainConfig
    from rnngmm.training.driver import run_training
    settings = {"init_from": os.path.abspath(run_dir), "nb_epoch": 0, "cls_epoch": int(epochs),
                "gmm_on": False, "seed": seed, "log_dir": os.path.join(out, "heads"),
                "sim_type": "bench", "run_name": name, "resume": False, "time_budget": None,
                "reobserve_from": None, **changes}
    config = dataclasses.replace(TrainConfig.from_run(run_dir), **settings)
    code = run_training(config.validate())
    if code:
        raise SystemExit(f"training head {name} failed with exit code {code}")
    return os.path.join(out, "heads", "bench", name)


def markdown(rows):
    lines = ["| classifier | trained on | objects trained on | test objects | accuracy | "
             "macro-F1 |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['classifier']} | {r['trained_on']} | {r.get('n_train', '')} | "
                     f"{r['n_test']} | {r['accuracy']:.3f} | {r['macro_f1']:.3f} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run_dir", required=True)
    parser.add_argument("--catalog", required=True,
                        help="prepared, labelled dataset of the new survey")
    parser.add_argument("--out", required=True, help="work folder (outside the repo)")
    parser.add_argument("--n", type=int, default=4000, help="synthetic objects")
    parser.add_argument("--test_fraction", type=float, default=0.5)
    parser.add_argument("--min_points", type=int, default=None,
                        help="fewest points of a pattern (generate --min_points; default: "
                             "the run's scoring n_min); the heads are trained and scored "
                             "with n_min no larger than it")
    parser.add_argument("--head_epochs", type=int, default=50)
    parser.add_argument("--no_heads", action="store_true",
                        help="forests only (no network training or scoring)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    if os.path.abspath(args.out).startswith(REPO + os.sep):
        raise SystemExit("--out must be outside the repository")
    set_threads(args.threads, min(args.threads or 2, 2))
    os.makedirs(args.out, exist_ok=True)
    print(machine_line(), flush=True)
    with open(os.path.join(args.run_dir, "config.json")) as f:
        class_names = [str(c) for c in json.load(f)["class_names"]]

    started = time.time()
    patterns_idx, test_idx = split_catalog(args.catalog, class_names, args.test_fraction,
                                           args.seed)
    patterns, test = (os.path.join(args.out, f"{n}.h5") for n in ("patterns", "test"))
    write_shifted(args.catalog, patterns_idx, "unshifted", args.seed, patterns)
    write_shifted(args.catalog, test_idx, "unshifted", args.seed, test)
    synthetic = os.path.join(args.out, "synthetic.h5")
    from rnngmm.decoder.generate import GenerateConfig, run_generate
    run_generate(GenerateConfig(run_dir=args.run_dir, times_from=patterns, output=synthetic,
                                n=args.n, seed=args.seed,
                                min_points=args.min_points).validate())
    print(json.dumps({"step": "split and generate", "patterns": len(patterns_idx),
                      "test": len(test_idx), "synthetic": args.n,
                      "seconds": round(time.time() - started, 1)}), flush=True)

    rows = []

    def report(row):
        rows.append(row)
        print(json.dumps(row), flush=True)

    test_set = features_and_labels(test, class_names)
    train_path, train_idx = run_training_indices(args.run_dir)
    sets = {"synthetic": features_and_labels(synthetic, class_names),
            "train_real": features_and_labels(train_path, class_names, train_idx),
            "catalog_real": features_and_labels(patterns, class_names)}
    sets["train_real+synthetic"] = tuple(np.concatenate([sets["train_real"][k],
                                                         sets["synthetic"][k]])
                                         for k in range(2))
    for name in ("synthetic", "train_real", "train_real+synthetic", "catalog_real"):
        report({"classifier": "feature forest", "trained_on": name,
                **forest_macro_f1(sets[name], test_set, class_names, args.seed)})
    if not args.no_heads:
        from rnngmm.training.config import TrainConfig
        report({"classifier": "network", "trained_on": "as is (run)",
                **network_macro_f1(args.run_dir, test, "bench_generate_test")})
        run_config = TrainConfig.from_run(args.run_dir)
        # heads keep (and score) objects as short as the patterns generate used
        n_min = min(run_config.n_min, run_config.score_n_min or run_config.n_min,
                    args.min_points or run_config.n_min)
        heads = {"head_synthetic": {"data": synthetic, "novel_classes": [], "n_min": n_min},
                 "head_real": {"n_min": n_min},
                 "head_reobserved": {"reobserve_from": patterns, "n_min": n_min}}
        for name, changes in heads.items():
            head_dir = train_head(args.run_dir, args.out, name, args.head_epochs, args.seed,
                                  **changes)
            report({"classifier": "network head", "trained_on": name,
                    **network_macro_f1(head_dir, test, "bench_generate_test")})
    with open(os.path.join(args.out, "bench_generate.json"), "w") as f:
        json.dump({"run_dir": os.path.abspath(args.run_dir), "catalog":
                   os.path.abspath(args.catalog), "n": args.n, "seed": args.seed,
                   "rows": rows}, f, indent=1)
    print(markdown(rows))


if __name__ == "__main__":
    main()
