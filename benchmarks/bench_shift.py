"""Shift benchmark: one trained run scored on shifted copies of the same objects.

For each shift of :data:`rnngmm.shifts.SHIFTS` (plus a class-mix re-weighting)
the chosen objects' prepared light curves are shifted, written as a new
dataset, and scored with ``rnngmm score --data`` (network, feature forest on
the same objects). Reported per shift: object-level accuracy and macro-F1 of
the network and of the feature forest, objects scored, and the known-class
flag rates at each percentile overall and per class.

With ``--search_periods`` every shifted copy gets the period of the package's
own Lomb-Scargle search on its shifted points (the run's search settings), as
``rnngmm flag`` would give a catalog without periods; otherwise copies keep
their source periods. Per-class recall of the network is reported too.

Choices are made on validation objects (``--objects validation``: the run's
own validation split); the test split is for the final report only.

    .venv/bin/python benchmarks/bench_shift.py --run_dir RUN --out /tmp/shift \\
        [--objects validation | --data TEST.h5] [--reweight EW:0.74] [--seed 0] \\
        [--search_periods]
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from rnngmm.errors import BadLightCurve  # noqa: E402
from rnngmm.io.dataset import Dataset, write_dataset  # noqa: E402
from rnngmm.lightcurves.objects import Preprocessing, choose_period  # noqa: E402
from rnngmm.shifts import SHIFTS, reweight_to_mix  # noqa: E402


def chosen_objects(args, run_config, split):
    """(dataset path, indices) of the objects to shift."""
    if args.data:
        with Dataset(args.data) as dataset:
            return args.data, np.arange(len(dataset))
    path = run_config["dataset"]["path"]
    with Dataset(path) as dataset:
        position = {str(i): n for n, i in enumerate(dataset.ids)}
        return path, np.array(sorted(position[i] for i in split["validation"]), np.int64)


def searched_period(time, mag, err, search):
    """``(period, source, power)`` of the package's own search on shifted points."""
    try:
        return choose_period(time, mag, err, np.nan, search)
    except BadLightCurve:  # scored as "no usable period" like flag would
        return np.nan, "", np.nan


def write_shifted(source, indices, shift, seed, out_path, search=None):
    """Shifted copy of ``indices`` of dataset ``source`` (seeded per object);
    with ``search`` (a Preprocessing) the copies' periods are searched anew."""
    function = SHIFTS[shift]
    with Dataset(source) as dataset:
        objects = {"id": [], "label": [], "period": [], "period_source": [],
                   "period_power": []}
        curves = []
        for k, (i, t, m, e) in enumerate(dataset.iter_lightcurves(indices)):
            rng = np.random.default_rng([seed, int(i), k])
            t2, m2, e2 = function(np.asarray(t), np.asarray(m, np.float64),
                                  np.asarray(e, np.float64), rng)
            curves.append((t2, m2, e2))
            objects["id"].append(f"{dataset.ids[i]}#{k}")  # unique when re-weighting repeats
            objects["label"].append(dataset.labels[i])
            if search is None:
                period, period_source, power = dataset.periods[i], dataset.period_sources[i], np.nan
            else:
                period, period_source, power = searched_period(t2, m2, e2, search)
            objects["period"].append(period)
            objects["period_source"].append(period_source)
            objects["period_power"].append(power)
        inputs = {"shift": shift, "seed": seed, "source": os.path.abspath(source),
                  "periods": "searched" if search is not None else "source",
                  **json.loads(str(dataset.attrs.get("inputs", "{}")))}
    write_dataset(out_path, objects, curves, inputs=inputs)


def score(run_dir, data, output, log_path):
    command = [os.path.join(REPO, ".venv", "bin", "rnngmm"), "score", "--run_dir", run_dir,
               "--data", data, "--output", output]
    with open(log_path, "w") as log:
        done = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT)
    if done.returncode:
        raise SystemExit(f"score failed for {data}: see {log_path}")
    folder = os.path.join(run_dir, output)
    with open(os.path.join(folder, "classification_accuracy.json")) as f:
        classification = json.load(f)
    with open(os.path.join(folder, "novel_detection_scores.json")) as f:
        novelty = json.load(f)
    return classification, novelty


def summarise(name, classification, novelty):
    methods = classification["methods"]
    row = {"shift": name}
    for method in ("network", "rf_features"):
        if method in methods:
            m = methods[method]["object"]
            row[f"{method}_n"] = m["n"]
            row[f"{method}_accuracy"] = m["accuracy"]
            row[f"{method}_macro_f1"] = m["macro_f1"]
            if "per_class" in m:
                row[f"{method}_recall_by_class"] = {c: v.get("recall")
                                                    for c, v in m["per_class"].items()}
    rates = novelty.get("known_flag_rate_by_class", {}).get("network", {})
    row["known_flag_rate_by_class"] = rates
    return row


def _num(value):
    return float("nan") if value is None else float(value)


def markdown(rows, percentile="95"):
    lines = ["| shift | objects | network acc | network macro-F1 | forest macro-F1 | "
             f"flagged @{percentile} (all known) | worst class @{percentile} |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        rates = r["known_flag_rate_by_class"].get(percentile, {})
        worst = max(rates.items(), key=lambda kv: kv[1]) if rates else ("", float("nan"))
        overall = r.get("known_flag_rate", {}).get(percentile, float("nan"))
        lines.append(f"| {r['shift']} | {r.get('network_n', 0)} | "
                     f"{_num(r.get('network_accuracy')):.3f} | "
                     f"{_num(r.get('network_macro_f1')):.3f} | "
                     f"{_num(r.get('rf_features_macro_f1')):.3f} | "
                     f"{_num(overall):.3f} | {worst[0]} {_num(worst[1]):.3f} |")
    return "\n".join(lines)


def overall_rates(run_dir, output):
    """Known-object flag rates at each percentile from the objects table."""
    from rnngmm.flagging.table import read_table
    table = read_table(os.path.join(run_dir, output, "objects.ecsv"))
    known = (np.asarray(table["role"]) != "novel") & (np.asarray(table["status"]) == "ok")
    return {c[len("anomaly_"):]: float(np.mean(np.asarray(table[c])[known]))
            for c in table.colnames if c.startswith("anomaly_")}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run_dir", required=True)
    parser.add_argument("--out", required=True, help="work folder (outside the repo)")
    parser.add_argument("--data", default=None,
                        help="prepared dataset to shift (default: the run's validation objects)")
    parser.add_argument("--shifts", nargs="+", default=list(SHIFTS), choices=list(SHIFTS))
    parser.add_argument("--reweight", nargs="*", default=["EW:0.74"], metavar="CLASS:FRACTION",
                        help="also score a class mix re-weighted to these fractions")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--search_periods", action="store_true",
                        help="give every shifted copy the period of the package's own "
                             "Lomb-Scargle search (the run's settings) instead of the "
                             "source period")
    args = parser.parse_args(argv)
    if os.path.abspath(args.out).startswith(REPO + os.sep):
        raise SystemExit("--out must be outside the repository")
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.run_dir, "config.json")) as f:
        run_config = json.load(f)
    with open(os.path.join(args.run_dir, "split.json")) as f:
        split = json.load(f)
    source, indices = chosen_objects(args, run_config, split)
    search = None
    if args.search_periods:
        search = Preprocessing.from_dict({**run_config.get("preprocessing", {}),
                                          "period_source": "lomb-scargle"})
    rows = []
    for shift in args.shifts:
        started = time.time()
        path = os.path.join(args.out, f"{shift}.h5")
        write_shifted(source, indices, shift, args.seed, path, search)
        output = f"shift_{shift}"
        classification, novelty = score(args.run_dir, path, output,
                                        os.path.join(args.out, f"{shift}.log"))
        row = summarise(shift, classification, novelty)
        row["known_flag_rate"] = overall_rates(args.run_dir, output)
        row["seconds"] = round(time.time() - started, 1)
        rows.append(row)
        print(json.dumps({k: v for k, v in row.items() if k != "known_flag_rate_by_class"}),
              flush=True)
    if args.reweight:
        target = {c: float(f) for c, f in (item.split(":") for item in args.reweight)}
        with Dataset(source) as dataset:
            labels = dataset.labels[indices]
        picked = indices[reweight_to_mix(labels, target, np.random.default_rng(args.seed))]
        name = "reweighted_" + "_".join(f"{c}{f:g}" for c, f in target.items())
        path = os.path.join(args.out, f"{name}.h5")
        write_shifted(source, picked, "unshifted", args.seed, path, search)
        classification, novelty = score(args.run_dir, path, f"shift_{name}",
                                        os.path.join(args.out, f"{name}.log"))
        row = summarise(name, classification, novelty)
        row["known_flag_rate"] = overall_rates(args.run_dir, f"shift_{name}")
        rows.append(row)
    with open(os.path.join(args.out, "shift_results.json"), "w") as f:
        json.dump(rows, f, indent=1)
    print(markdown(rows))


if __name__ == "__main__":
    main()
