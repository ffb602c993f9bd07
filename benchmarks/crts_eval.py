"""Real-data evaluation on the Catalina (CRTS) light curves, in one command.

Steps (each skipped when its output already exists, so a rerun continues):

1. extract ``lightcurves.tar.xz`` when the light-curve folder is missing;
2. map the 11 CRTS classes to super-classes (:data:`SUPERCLASSES`: ECL = EW + EA,
   RRAB = RRab + Blazhko, RRCD = RRc + RRd, ROT, LPV, CEP = ACEP + Cep-II,
   DSCT = HADS/DSCT; 7 classes, or 8 with ``--keep_ew_ea``);
3. a fixed, seeded, object-level split stratified by super-class: for every
   class the objects are permuted with ``numpy.random.default_rng([seed,
   class index])`` and the first ``round(test_fraction * n)`` go to the test
   set (``--objects N`` first draws a stratified subsample of N objects the
   same way). The ids are written to ``<out>/split.json``. ``rnngmm train``
   further splits the training objects (``--validation_fraction``, same
   seed) for early stopping; the test objects are never seen in training;
4. ``rnngmm prepare`` (catalog periods) of the training and the test catalog;
5. ``rnngmm train`` of a joint (``--gmm_on``) and a sequential network, each
   within ``--budget_minutes`` of wall time: the run is started with an
   effectively unlimited number of epochs and stopped with SIGTERM at the
   budget (the package writes a checkpoint and exits 75); it is then resumed
   with ``--nb_epoch`` set to the epochs completed, which only fits the GMM
   and writes the model. Sequential runs spend ``--ae_fraction`` of the budget
   on the autoencoder and the rest on the estimation network;
6. ``rnngmm score --data test.h5`` for each run (network, random forest on
   the code, random forest on light-curve features, isolation forest);
7. optionally ``rnngmm loco all`` over ``--loco_classes`` (number of epochs per
   class from the joint run's measured epoch time and ``--loco_minutes``);
8. ``<out>/results.json`` and ``<out>/results.md``.

With ``--baseline_only`` steps 5-8 are replaced by the feature random forest
alone (no TensorFlow): the features of ``rnngmm.scoring.features`` (cached
next to the prepared datasets), the training objects split into train and
validation exactly as ``rnngmm train`` splits them (``rnngmm.split.object_split``
with ``--validation_fraction`` and ``--seed``), a forest of
``rnngmm.scoring.baselines`` fitted on train and evaluated on the validation
objects; ``--evaluate_test`` also evaluates that forest on the test objects
(do it once, with a frozen configuration). Results: ``<out>/baseline_results.json``
(or ``--baseline_json``).

Usage::

    .venv/bin/python benchmarks/crts_eval.py --out /tmp/crts_eval --budget_minutes 55
    # end-to-end check on a tiny budget:
    .venv/bin/python benchmarks/crts_eval.py --out /tmp/crts_eval_tiny --objects 500 \\
        --config tiny --n_min 20 --budget_minutes 1 --loco --loco_classes CEP DSCT
    # the feature random forest only, on the validation objects:
    .venv/bin/python benchmarks/crts_eval.py --out /tmp/crts_rf --keep_ew_ea --baseline_only
"""

import argparse
import csv
import json
import os
import shlex
import signal
import subprocess
import sys
import tarfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import common  # noqa: E402

#: CRTS class -> super-class (EW and EA merged into ECL).
SUPERCLASSES = {"EW": "ECL", "EA": "ECL", "RRab": "RRAB", "Blazhko": "RRAB",
                "RRc": "RRCD", "RRd": "RRCD", "Rot": "ROT", "LPV": "LPV",
                "ACEP": "CEP", "Cep-II": "CEP", "HADS/DSCT": "DSCT"}

#: Exit code of ``rnngmm train`` stopped by a signal with a checkpoint written.
EXIT_INTERRUPTED = 75


def log(message):
    print(f"[crts_eval {time.strftime('%H:%M:%S')}] {message}", flush=True)


def rnngmm_command():
    exe = os.path.join(os.path.dirname(sys.executable), "rnngmm")
    return [exe] if os.path.exists(exe) else [sys.executable, "-m", "rnngmm.cli"]


def run_logged(command, log_path, deadline=None, ready=None):
    """Run ``command`` with output to ``log_path``; SIGTERM it at ``deadline``.

    With ``ready`` (a callable), the signal waits until ``ready()`` is true
    (e.g. one epoch of the stage finished), so a run is never stopped during
    start-up, before its signal handler exists, and each stage trains at least
    one epoch even when that overruns the budget.

    Returns ``(exit code, wall seconds, whether it was stopped)``.
    """
    log("$ " + " ".join(shlex.quote(c) for c in command))
    t0 = time.time()
    stopped = False
    with open(log_path, "a") as handle:
        proc = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT)
        while proc.poll() is None:
            if (deadline is not None and not stopped and time.time() >= deadline
                    and (ready is None or ready())):
                log(f"budget reached: SIGTERM to pid {proc.pid}")
                proc.send_signal(signal.SIGTERM)
                stopped = True
            time.sleep(1.0)
    return proc.returncode, time.time() - t0, stopped


def check(rc, what, log_path):
    if rc != 0:
        with open(log_path) as handle:
            tail = handle.read().splitlines()[-15:]
        raise SystemExit(f"{what} failed (exit {rc}); end of {log_path}:\n" + "\n".join(tail))


# ------------------------------------------------------------------ data
def ensure_lightcurves(crts_dir, lightcurves):
    if os.path.isdir(lightcurves) and os.listdir(lightcurves):
        return
    parent = os.path.dirname(os.path.abspath(lightcurves))
    if os.path.basename(os.path.abspath(lightcurves)) != "lightcurves":
        raise SystemExit(f"--lightcurves {lightcurves} is missing; the archive unpacks to "
                         "<dir>/lightcurves, so give a path ending in 'lightcurves'")
    os.makedirs(parent, exist_ok=True)
    log(f"extracting {crts_dir}/lightcurves.tar.xz into {parent}")
    with tarfile.open(os.path.join(crts_dir, "lightcurves.tar.xz")) as archive:
        archive.extractall(parent, filter="data")


def read_catalog(path, mapping):
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    fields = list(rows[0].keys())
    for row in rows:
        row["superclass"] = mapping[row["class"]]
    return fields, rows


def stratified_take(rows, classes, fraction_or_count, seed, salt):
    """Split ``rows`` per super-class; returns (taken, rest) index lists."""
    by_class = {c: [i for i, r in enumerate(rows) if r["superclass"] == c] for c in classes}
    total = len(rows)
    taken, rest = [], []
    for k, c in enumerate(classes):
        members = np.array(by_class[c])
        order = members[np.random.default_rng([seed, salt, k]).permutation(len(members))]
        if isinstance(fraction_or_count, float):
            n = int(round(fraction_or_count * len(members)))
        else:  # a stratified subsample of about fraction_or_count objects
            n = max(2, int(round(fraction_or_count * len(members) / total)))
        taken.extend(order[:n].tolist())
        rest.extend(order[n:].tolist())
    return sorted(taken), sorted(rest)


def write_catalog(path, fields, rows, indices):
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        for i in indices:
            writer.writerow(rows[i])


def make_split(args, out):
    mapping = dict(SUPERCLASSES)
    if args.keep_ew_ea:
        mapping.update(EW="EW", EA="EA")
    fields, rows = read_catalog(os.path.join(args.crts_dir, "catalog.csv"), mapping)
    classes = sorted(set(mapping.values()))
    pool = list(range(len(rows)))
    if args.objects:
        pool, _ = stratified_take(rows, classes, int(args.objects), args.seed, 1)
    sub = [rows[i] for i in pool]
    test_local, train_local = stratified_take(sub, classes, float(args.test_fraction),
                                              args.seed, 2)
    train_idx = [pool[i] for i in train_local]
    test_idx = [pool[i] for i in test_local]
    write_catalog(os.path.join(out, "train_catalog.csv"), fields, rows, train_idx)
    write_catalog(os.path.join(out, "test_catalog.csv"), fields, rows, test_idx)
    with open(os.path.join(out, "class_map.json"), "w") as handle:
        json.dump(mapping, handle, indent=1)
    split = {"seed": args.seed, "test_fraction": args.test_fraction,
             "objects": args.objects or len(rows), "class_map": mapping,
             "method": "per super-class permutation by numpy.random.default_rng([seed, 2, "
                       "class index]) over the sorted class list; first round(fraction*n) "
                       "are test (subsample, if any: default_rng([seed, 1, class index]))",
             "counts": {c: {"train": sum(rows[i]["superclass"] == c for i in train_idx),
                            "test": sum(rows[i]["superclass"] == c for i in test_idx)}
                        for c in classes},
             "train": [rows[i]["id"] for i in train_idx],
             "test": [rows[i]["id"] for i in test_idx]}
    with open(os.path.join(out, "split.json"), "w") as handle:
        json.dump(split, handle, indent=1)
    log(f"split: {len(train_idx)} train, {len(test_idx)} test objects; "
        + ", ".join(f"{c} {v['train']}/{v['test']}" for c, v in split["counts"].items()))
    return split


def prepare(args, out, name):
    output = os.path.join(out, f"{name}.h5")
    if os.path.exists(output):
        log(f"{output} exists: skipping prepare")
        return output, 0.0
    command = rnngmm_command() + [
        "prepare", "--catalog", os.path.join(out, f"{name}_catalog.csv"),
        "--lightcurves", args.lightcurves, "--format", "crts", "--output", output,
        "--id_col", "id", "--label_col", "class", "--period_col", "period",
        "--class_map", os.path.join(out, "class_map.json"), "--period_source", "catalog"]
    if args.prepare_ranks > 1:
        command = ["mpirun", "--allow-run-as-root", "--oversubscribe", "-np",
                   str(args.prepare_ranks)] + command
    path = os.path.join(out, f"prepare_{name}.log")
    rc, wall, _ = run_logged(command, path)
    check(rc, f"prepare {name}", path)
    return output, wall


# ------------------------------------------------------------------ training
def completed_epochs(run_dir):
    path = os.path.join(run_dir, "training.csv")
    if not os.path.exists(path):
        return []
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def train_with_budget(args, out, train_h5, name, joint, budget_s):
    log_dir = os.path.join(out, "keras_logs")
    run_dir = os.path.join(log_dir, "crts", name)
    if os.path.exists(os.path.join(run_dir, "model.keras")):
        log(f"{run_dir} already trained: skipping")
        return run_dir, None
    base = rnngmm_command() + [
        "train", "--data", train_h5, "--config", args.config, "--n_min", str(args.n_min),
        "--batch_size", str(args.batch_size), "--patience", str(args.patience),
        "--seed", str(args.seed), "--log_dir", log_dir, "--sim_type", "crts",
        "--run_name", name, "--validation_fraction", str(args.validation_fraction)]
    if args.threads:
        base += ["--threads", str(args.threads)]
    base += shlex.split(args.train_args)
    path = os.path.join(out, f"train_{name}.log")
    t0 = time.time()
    big = 100000

    def epochs_after(n):
        return lambda: len(completed_epochs(run_dir)) > n
    timing = {"budget_s": budget_s}
    if joint:
        rc, wall, stopped = run_logged(base + ["--gmm_on", "--nb_epoch", str(big)], path,
                                       deadline=t0 + budget_s, ready=epochs_after(0))
        timing["train_s"] = wall
        epochs = len(completed_epochs(run_dir))
        timing["epochs"] = epochs
        if rc == EXIT_INTERRUPTED:
            if epochs == 0:
                raise SystemExit(f"{name}: not one epoch finished within the budget")
            rc, wall, _ = run_logged(base + ["--gmm_on", "--nb_epoch", str(epochs),
                                             "--resume"], path)
            timing["finalise_s"] = wall
    else:
        ae_budget = args.ae_fraction * budget_s
        rc, wall, _ = run_logged(base + ["--nb_epoch", str(big), "--cls_epoch", str(big)],
                                 path, deadline=t0 + ae_budget, ready=epochs_after(0))
        ae_epochs = len(completed_epochs(run_dir))
        timing.update(autoencoder_s=wall, autoencoder_epochs=ae_epochs)
        if rc == EXIT_INTERRUPTED:
            if ae_epochs == 0:
                raise SystemExit(f"{name}: not one autoencoder epoch within the budget")
            rc, wall, _ = run_logged(base + ["--nb_epoch", str(ae_epochs), "--cls_epoch",
                                             str(big), "--resume"], path,
                                     deadline=t0 + budget_s, ready=epochs_after(ae_epochs))
            est_epochs = len(completed_epochs(run_dir)) - ae_epochs
            timing.update(estimation_s=wall, estimation_epochs=est_epochs)
            if rc == EXIT_INTERRUPTED:
                rc, wall, _ = run_logged(base + ["--nb_epoch", str(ae_epochs), "--cls_epoch",
                                                 str(max(est_epochs, 1)), "--resume"], path)
                timing["finalise_s"] = wall
        timing["train_s"] = time.time() - t0 - timing.get("finalise_s", 0.0)
    check(rc, f"train {name}", path)
    timing["total_s"] = time.time() - t0
    history = completed_epochs(run_dir)
    timing["epochs_total"] = len(history)
    log(f"{name}: {len(history)} epochs in {timing['train_s'] / 60:.1f} min "
        f"(+ {timing.get('finalise_s', 0):.0f} s GMM fit and save)")
    with open(os.path.join(run_dir, "crts_eval_timing.json"), "w") as handle:
        json.dump(timing, handle, indent=1)
    return run_dir, timing


def score(args, out, run_dir, test_h5):
    summary = os.path.join(run_dir, "scoring", "classification_accuracy.json")
    if not os.path.exists(summary):
        path = os.path.join(out, f"score_{os.path.basename(run_dir)}.log")
        command = rnngmm_command() + ["score", "--run_dir", run_dir, "--data", test_h5]
        t0 = time.time()
        rc, _, _ = run_logged(command, path)
        check(rc, f"score {run_dir}", path)
        log(f"scored {run_dir} in {time.time() - t0:.0f} s")
    with open(summary) as handle:
        return json.load(handle)


def loco(args, out, train_h5, seconds_per_epoch):
    """Leave-one-class-out runs in ``--loco_minutes`` each.

    ``seconds_per_epoch`` is the joint epoch time, or for the sequential
    schedule a pair (autoencoder, estimation) of epoch times: the budget is
    split by time (``--ae_fraction``), not by epochs, because an estimation
    epoch (frozen autoencoder) costs about a third of an autoencoder epoch.
    """
    results_dir = os.path.join(out, "loco")
    budget = args.loco_minutes * 60
    if args.loco_model == "joint":
        epochs = max(1, int(budget / max(seconds_per_epoch, 1e-9)))
        schedule = f"--gmm_on --nb_epoch {epochs}"
    else:  # autoencoder epochs, then estimation epochs (frozen autoencoder)
        ae_seconds, est_seconds = seconds_per_epoch
        ae_epochs = max(1, int(args.ae_fraction * budget / max(ae_seconds, 1e-9)))
        est_epochs = max(1, int((1 - args.ae_fraction) * budget / max(est_seconds, 1e-9)))
        epochs = ae_epochs + est_epochs
        schedule = f"--nb_epoch {ae_epochs} --cls_epoch {est_epochs}"
    train_args = (f"--config {args.config} --n_min {args.n_min} --batch_size "
                  f"{args.batch_size} {schedule} --patience "
                  f"{args.patience} --seed {args.seed}"
                  + (f" --threads {args.threads}" if args.threads else "")
                  + (" " + args.train_args if args.train_args else ""))
    command = rnngmm_command() + [
        "loco", "all", "--data", train_h5, "--results_dir", results_dir,
        "--log_dir", os.path.join(out, "keras_logs"), "--sim_type", "loco",
        "--train_args", train_args]
    if args.loco_classes:
        command += ["--classes", *args.loco_classes]
    path = os.path.join(out, "loco.log")
    t0 = time.time()
    rc, _, _ = run_logged(command, path)
    check(rc, "loco", path)
    with open(os.path.join(results_dir, "loco_table.json")) as handle:
        table = json.load(handle)
    with open(os.path.join(results_dir, "loco_table.md")) as handle:
        markdown = handle.read()
    return {"epochs_per_class": epochs, "train_args": train_args,
            "wall_s": time.time() - t0, "table": table, "markdown": markdown}


# ------------------------------------------------------------------ baseline only
def feature_forest(args, out, train_h5, test_h5):
    """Feature random forest on the validation (and optionally test) objects.

    Runs in this process (one core: the forest with ``n_jobs=1``, features
    one object at a time). Returns the results dictionary it writes.
    """
    from rnngmm.io.dataset import Dataset
    from rnngmm.scoring import baselines, features, metrics
    from rnngmm.split import object_split

    def timed_features(path):
        with Dataset(path) as dataset:
            cached = features.read_cache(features.cache_path(path), features.cache_key(dataset))
            t0 = time.time()
            x = features.dataset_features(dataset)
            seconds = time.time() - t0
            labels = np.asarray(dataset.labels).astype(str)
        timing = {"objects": int(len(x)), "cached": cached is not None, "seconds": seconds}
        if cached is None:
            timing["objects_per_s"] = len(x) / max(seconds, 1e-9)
            log(f"features of {len(x)} objects of {path}: {seconds:.0f} s "
                f"({timing['objects_per_s']:.1f} objects/s)")
        return x, labels, timing

    x_all, labels, train_timing = timed_features(train_h5)
    labelled = np.flatnonzero(labels != "")
    parts = object_split(labels[labelled], validation_fraction=args.validation_fraction,
                         seed=args.seed)
    train_idx, val_idx = labelled[parts["train"]], labelled[parts["validation"]]
    class_names = sorted(set(labels[labelled]))
    code = {c: k for k, c in enumerate(class_names)}
    y = np.array([code.get(c, -1) for c in labels])
    evaluations = {"validation": (x_all[val_idx], y[val_idx])}
    timings = {"train_dataset": train_timing}
    if args.evaluate_test:
        x_test, test_labels, timings["test_dataset"] = timed_features(test_h5)
        y_test = np.array([code.get(c, -1) for c in test_labels])
        keep = y_test >= 0
        evaluations["test"] = (x_test[keep], y_test[keep])
    results = {"command": " ".join(shlex.quote(a) for a in sys.argv),
               "machine": common.machine_line(), "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
               "feature_set_version": getattr(features, "FEATURE_SET_VERSION", None),
               "feature_names": features.feature_names(),
               "forest": getattr(baselines, "RANDOM_FOREST_PARAMS",
                                 {"n_estimators": getattr(baselines, "N_ESTIMATORS", None)}),
               "seed": args.seed, "class_names": class_names,
               "n_train": int(len(train_idx)), "feature_timing": timings, "evaluations": {}}
    for name, (x_eval, y_eval) in evaluations.items():
        t0 = time.time()
        probabilities = baselines.random_forest_probabilities(
            x_all[train_idx], y[train_idx], x_eval, len(class_names), seed=args.seed)
        m = metrics.classification_metrics(y_eval, probabilities.argmax(axis=1), class_names)
        m["fit_predict_s"] = time.time() - t0
        results["evaluations"][name] = m
        log(f"feature forest on {name} ({m['n']} objects, trained on {len(train_idx)}): "
            f"macro-F1 {m['macro_f1']:.3f}, balanced accuracy {m['balanced_accuracy']:.3f}, "
            "F1 " + ", ".join(f"{c} {v['f1']:.2f}" for c, v in m["per_class"].items()))
    path = args.baseline_json or os.path.join(out, "baseline_results.json")
    with open(path, "w") as handle:
        json.dump(results, handle, indent=1, default=str)
    log(f"wrote {path}")
    return results


# ------------------------------------------------------------------ report
def _fmt(value):
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def classification_rows(name, report):
    """Markdown rows (object level) of every method of one scoring report."""
    rows = []
    for method, levels in report["methods"].items():
        m = levels.get("object") or next(iter(levels.values()))
        per_class = m.get("per_class") or {}
        recall = ", ".join(f"{k} {_fmt(v.get('recall'))}" for k, v in per_class.items())
        rows.append(f"| {name} | {method} | {_fmt(m.get('accuracy'))} | "
                    f"{_fmt(m.get('balanced_accuracy'))} | {_fmt(m.get('macro_f1'))} | "
                    f"{recall} |")
    return rows


def write_results(out, args, split, prep, runs, loco_result):
    results = {"command": " ".join(shlex.quote(a) for a in sys.argv),
               "machine": common.machine_line(), "args": vars(args),
               "split": {k: split[k] for k in ("seed", "test_fraction", "objects",
                                               "counts", "method")},
               "prepare_s": prep, "runs": runs, "loco": loco_result}
    with open(os.path.join(out, "results.json"), "w") as handle:
        json.dump(results, handle, indent=1, default=str)
    lines = ["# CRTS real-data evaluation", "", f"Command: `{results['command']}`", "",
             results["machine"], "",
             f"Split: seed {split['seed']}, test fraction {split['test_fraction']}, "
             f"{split['objects']} objects; per class train/test: "
             + ", ".join(f"{c} {v['train']}/{v['test']}" for c, v in split["counts"].items()),
             "", "## Classification of the test objects (object level)", "",
             "| run | method | accuracy | balanced acc. | macro-F1 | recall per class |",
             "|---|---|---|---|---|---|"]
    for name, run in runs.items():
        lines.extend(classification_rows(name, run["classification"]))
    lines += ["", "## Training time", "", "| run | epochs | training wall s | budget s |",
              "|---|---|---|---|"]
    for name, run in runs.items():
        t = run.get("timing") or {}
        lines.append(f"| {name} | {t.get('epochs_total', '?')} | "
                     f"{_fmt(t.get('train_s', float('nan')))} | {t.get('budget_s', '?')} |")
    if loco_result:
        lines += ["", f"## Leave-one-class-out novelty ({loco_result['epochs_per_class']} "
                  f"epochs per class, `{loco_result['train_args']}`)", "",
                  loco_result["markdown"]]
    lines += ["", "Figures: confusion matrices and energy histograms under each run's "
              "`scoring/` folder."]
    with open(os.path.join(out, "results.md"), "w") as handle:
        handle.write("\n".join(lines) + "\n")
    log(f"wrote {out}/results.json and {out}/results.md")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="work and results folder (not the repo)")
    parser.add_argument("--crts_dir", default=os.path.join(REPO, "..", "shared", "data", "crts"))
    parser.add_argument("--lightcurves", default="/tmp/crts/lightcurves",
                        help="extracted light curves (extracted here when missing)")
    parser.add_argument("--objects", type=int, default=0,
                        help="stratified subsample of this many objects (0: all)")
    parser.add_argument("--keep_ew_ea", action="store_true",
                        help="8 classes: keep EW and EA apart instead of ECL")
    parser.add_argument("--test_fraction", type=float, default=0.2)
    parser.add_argument("--validation_fraction", type=float, default=0.2,
                        help="of the training objects, for early stopping")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--prepare_ranks", type=int, default=1)
    parser.add_argument("--config", default="small", help="rnngmm.models.configs name")
    parser.add_argument("--n_min", type=int, default=100)
    parser.add_argument("--batch_size", type=int, default=256)
    parser.add_argument("--patience", type=int, default=20)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--train_args", default="",
                        help="further 'rnngmm train' flags, e.g. '--size 64 --lr 2e-3'")
    parser.add_argument("--budget_minutes", type=float, default=55.0,
                        help="training wall time per network")
    parser.add_argument("--ae_fraction", type=float, default=0.75,
                        help="share of a sequential run's budget for the autoencoder")
    parser.add_argument("--models", nargs="+", default=["joint", "sequential"],
                        choices=("joint", "sequential"))
    parser.add_argument("--baseline_only", action="store_true",
                        help="prepare and split, then fit and evaluate only the feature "
                             "random forest (train -> validation objects); no network")
    parser.add_argument("--evaluate_test", action="store_true",
                        help="with --baseline_only: also evaluate on the test objects")
    parser.add_argument("--baseline_json", default=None,
                        help="with --baseline_only: results file "
                             "(default <out>/baseline_results.json)")
    parser.add_argument("--loco", action="store_true", help="run leave-one-class-out too")
    parser.add_argument("--loco_classes", nargs="*", default=None,
                        help="held-out classes (default: every super-class)")
    parser.add_argument("--loco_model", choices=("joint", "sequential"), default="joint",
                        help="training schedule of the leave-one-class-out runs; its "
                             "epoch time is taken from the run of that name")
    parser.add_argument("--loco_minutes", type=float, default=None,
                        help="training minutes per held-out class (default: the budget)")
    args = parser.parse_args(argv)
    if args.loco_minutes is None:
        args.loco_minutes = args.budget_minutes
    out = os.path.abspath(args.out)
    if os.path.commonpath([out, os.path.abspath(REPO)]) == os.path.abspath(REPO):
        raise SystemExit("--out must be outside the repository")
    os.makedirs(out, exist_ok=True)
    log(common.machine_line())
    ensure_lightcurves(args.crts_dir, args.lightcurves)
    split = make_split(args, out)
    prep = {}
    train_h5, prep["train"] = prepare(args, out, "train")
    test_h5, prep["test"] = prepare(args, out, "test")
    if args.baseline_only:
        feature_forest(args, out, train_h5, test_h5)
        return 0
    runs = {}
    for name in args.models:
        run_dir, timing = train_with_budget(args, out, train_h5, name, name == "joint",
                                            args.budget_minutes * 60)
        if timing is None:
            saved = os.path.join(run_dir, "crts_eval_timing.json")
            timing = json.load(open(saved)) if os.path.exists(saved) else {}
        runs[name] = {"run_dir": run_dir, "timing": timing,
                      "classification": score(args, out, run_dir, test_h5)}
    loco_result = None
    if args.loco:
        timing = runs.get(args.loco_model, {}).get("timing") or {}
        if timing.get("epochs"):
            per_epoch = timing.get("train_s", 60.0) / timing["epochs"]
        elif timing.get("autoencoder_epochs") and timing.get("estimation_epochs"):
            per_epoch = (timing["autoencoder_s"] / timing["autoencoder_epochs"],
                         timing["estimation_s"] / timing["estimation_epochs"])
        else:
            per_epoch = (60.0, 20.0) if args.loco_model == "sequential" else 60.0
        loco_result = loco(args, out, train_h5, per_epoch)
    write_results(out, args, split, prep, runs, loco_result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
