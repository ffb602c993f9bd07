"""Does the novelty score measure the star or how it was observed? (issue 24.2)

For one or more runs, on the run's VALIDATION stars of known classes:

1. point bands: every star thinned at random (whole baseline) to a count
   drawn in each band of cleaned points (20-39, 40-59, 60-99, 100-149) and
   kept whole (>= 150 when it has them), plus ``gaia_like`` and ``ztf_like``
   copies (:mod:`rnngmm.shifts`); reported: the p95 flag rate per band and
   per class, and accuracy;
2. microlensing (``--microlensing DIR``, ../shared/data/ogle2_microlensing):
   the events against known stars paired one to one, (a) each star thinned
   to its event's point count, (b) each star cut to a window as long as its
   event's baseline; reported: AUROC of the run's novelty score, the
   fraction of events and of stars flagged at p95, and the same AUROC for an
   isolation forest and a feature forest's doubt (1 - max p) on light-curve
   features (``rnngmm.scoring.features``) fitted on the run's training stars;
3. mixed depth (the report's first page): every star thinned to a band drawn
   at random (the five bands above, equally often), scored as one catalog and
   ranked by the score ``rnngmm report`` ranks by; reported: each band's share
   of the catalog and of its top 5 % and top 50 rows, and the Spearman
   correlation of the score with the cleaned point count (a list that is
   simply "the sparsest stars" has its top in 20-39 and a strongly negative
   correlation).

With two or more runs, the microlensing AUROCs of each run and the one
before it are compared by a paired bootstrap (event/star pairs resampled together);
each run's per-object microlensing scores go to ``<out>/microlensing_scores_<k>.json``.

Everything is scored through ``rnngmm.load_run(run).predict`` (the flag path):
periods are the run's rule (a run that searches its own periods searches on
the thinned points). Seeded; the copies are the same for every run.

    .venv/bin/python benchmarks/bench_sampling.py --runs RUN [RUN ...] --out /tmp/bs \\
        [--microlensing ../shared/data/ogle2_microlensing] [--max_stars 1200]
"""

import argparse
import json
import os
import sys
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

import rnngmm  # noqa: E402
from rnngmm.io.dataset import Dataset  # noqa: E402
from rnngmm.shifts import SHIFTS, subsample, window  # noqa: E402

#: Bands of cleaned points of issue 24 (upper edge exclusive; None: the whole star).
POINT_BANDS = ((20, 40), (40, 60), (60, 100), (100, 150), (150, None))


def validation_stars(run_dir, max_stars, seed, data=None):
    """(dataset path, indices, labels, split) of the run's validation stars (a
    random subset), from ``data`` or the dataset the run records."""
    with open(os.path.join(run_dir, "config.json")) as f:
        config = json.load(f)
    with open(os.path.join(run_dir, "split.json")) as f:
        split = json.load(f)
    path = data or config["dataset"]["path"]
    with Dataset(path) as dataset:
        position = {str(i): n for n, i in enumerate(dataset.ids)}
        indices = np.array(sorted(position[i] for i in split["validation"] if i in position),
                           np.int64)
        if max_stars and len(indices) > max_stars:
            indices = np.sort(np.random.default_rng(seed).choice(indices, max_stars, False))
        labels = np.asarray(dataset.labels)[indices].astype(str)
    return path, indices, labels, split


def star_curves(path, indices):
    with Dataset(path) as dataset:
        return [(np.asarray(t, np.float64), np.asarray(m, np.float64),
                 np.asarray(e, np.float64), float(dataset.periods[i]))
                for i, t, m, e in dataset.iter_lightcurves(indices)]


def band_copies(curves, band, seed):
    """Each star thinned to a count drawn in ``band`` (None: whole); stars with
    fewer points than the band's lower edge are left out (returned mask)."""
    low, high = band
    copies, kept = [], []
    for k, (t, m, e, p) in enumerate(curves):
        if len(t) < low:
            kept.append(False)
            continue
        rng = np.random.default_rng([seed, k, low])
        if high is None:
            copies.append((t, m, e, p))
        else:
            n = int(rng.integers(low, min(high, len(t) + 1)))
            copies.append((*subsample(t, m, e, n, rng), p))
        kept.append(True)
    return copies, np.asarray(kept)


def shifted_copies(curves, shift, seed):
    out = []
    for k, (t, m, e, p) in enumerate(curves):
        rng = np.random.default_rng([seed, k, 7])
        out.append((*SHIFTS[shift](t, m, e, rng), p))
    return out


def read_microlensing(directory):
    from astropy.table import Table
    table = Table.read(os.path.join(directory, "lightcurves.csv"), format="ascii.csv")
    ids = np.asarray(table["id"]).astype(str)
    events = []
    for object_id in dict.fromkeys(ids):
        rows = ids == object_id
        order = np.argsort(np.asarray(table["time"][rows], np.float64))
        events.append(tuple(np.asarray(table[c][rows], np.float64)[order]
                            for c in ("time", "mag", "err")))
    return events


def paired_stars(curves, events, seed):
    """(a) thinned to each event's points, (b) cut to its baseline: one star per event."""
    rng = np.random.default_rng([seed, 99])
    order = rng.permutation(len(curves))[:len(events)]
    thinned, windowed = [], []
    for k, (event, s) in enumerate(zip(events, order)):
        t, m, e, p = curves[s]
        r = np.random.default_rng([seed, k, 5])
        thinned.append((*subsample(t, m, e, len(event[0]), r), p))
        span = float(event[0][-1] - event[0][0])
        windowed.append((*window(t, m, e, span, r), p))
    return thinned, windowed


def mixed_depth_copies(curves, seed):
    """One copy per star thinned to a band drawn at random (stars too short for
    the drawn band are thinned to the nearest band they reach); returns the
    copies and each copy's band name."""
    copies, names = [], []
    for k, (t, m, e, p) in enumerate(curves):
        rng = np.random.default_rng([seed, k, 11])
        reachable = [b for b in POINT_BANDS if len(t) >= b[0]]
        low, high = reachable[int(rng.integers(len(reachable)))] if reachable else POINT_BANDS[0]
        if high is None or len(t) < low:
            copies.append((t, m, e, p))
        else:
            copies.append((*subsample(t, m, e, int(rng.integers(low, min(high, len(t) + 1))),
                                      rng), p))
        names.append(band_name((low, high)))
    return copies, np.asarray(names)


def band_name(band):
    return f"{band[0]}-{band[1] - 1}" if band[1] else f">={band[0]} (whole)"


def mixed_depth(run, curves, search, seed):
    """Shares of the point bands in the catalog and at the top of its ranking."""
    from scipy.stats import spearmanr
    copies, names = mixed_depth_copies(curves, seed)
    table = predict(run, copies, search)
    ok = np.asarray(table["status"]) == "ok"
    score, names = score_column(table)[ok], names[ok]
    n_points = np.asarray(table["n_points"], np.float64)[ok]
    order = np.argsort(-score, kind="stable")
    top5 = order[:max(1, int(round(0.05 * len(order))))]
    bands = [band_name(b) for b in POINT_BANDS]
    return {"n": int(ok.sum()),
            "catalog_share": {b: float(np.mean(names == b)) for b in bands},
            "top5pct_share": {b: float(np.mean(names[top5] == b)) for b in bands},
            "top50_share": {b: float(np.mean(names[order[:50]] == b)) for b in bands},
            "spearman_score_n_points": float(spearmanr(score, n_points).statistic)}


def predict(run, curves, search):
    """The flag path's table; with ``search`` the periods are left to the run's search."""
    records = [(t, m, e, np.nan if search else p) for t, m, e, p in curves]
    return run.predict(records)


def score_column(table):
    """The score the flags use (uncapped when the table has it)."""
    name = "novelty_score" if "novelty_score" in table.colnames else "energy_percentile"
    return np.asarray(table[name], np.float64)


def flag_rate(table, percentile="95"):
    ok = np.asarray(table["status"]) == "ok"
    return float(np.mean(np.asarray(table[f"anomaly_{percentile}"])[ok])) if ok.any() else np.nan


def auroc(known, novel):
    from sklearn.metrics import roc_auc_score
    known, novel = known[np.isfinite(known)], novel[np.isfinite(novel)]
    y = np.r_[np.zeros(len(known)), np.ones(len(novel))]
    return float(roc_auc_score(y, np.r_[known, novel]))


def paired_auroc_bootstrap(first, second, resamples=1000, seed=0):
    """AUROC of two runs' scores on the same microlensing pairs, and the 95 %
    interval of second - first over resampled event/star pairs (each event
    and its paired star are drawn together)."""
    out = {}
    for form in ("a_thinned", "b_window"):
        ev1, ev2 = np.asarray(first["events"]), np.asarray(second["events"])
        st1, st2 = np.asarray(first[form]), np.asarray(second[form])
        n = min(len(ev1), len(st1))
        rng = np.random.default_rng(seed)
        diffs = []
        for _ in range(resamples):
            k = rng.integers(0, n, n)
            diffs.append(auroc(st2[k], ev2[k]) - auroc(st1[k], ev1[k]))
        low, high = np.nanpercentile(diffs, [2.5, 97.5])
        out[form] = {"first": auroc(st1[:n], ev1[:n]), "second": auroc(st2[:n], ev2[:n]),
                     "difference_95": [float(low), float(high)]}
    return out


def features_of(curves):
    """The feature forest's columns (``rnngmm.scoring.features.feature_names``)."""
    from rnngmm.scoring.features import build_extractor, features_of_lightcurve
    extractor = build_extractor()
    rows = []
    with np.errstate(all="ignore"):
        for t, m, e, p in curves:
            values, n = features_of_lightcurve(extractor, t, m, e, p)
            log_period = np.log10(p) if np.isfinite(p) and p > 0 else np.nan
            rows.append(np.r_[values, log_period, n])
    return np.array(rows)


def feature_baselines(train_curves, train_labels, sets):
    """Scores (HIGHER = more anomalous) of an isolation forest and of a feature
    forest's doubt ``1 - max p``, fitted on training stars, for each set."""
    from rnngmm.scoring.baselines import isolation_forest_scores, random_forest_probabilities
    train_x = features_of(train_curves)
    classes, y = np.unique(train_labels, return_inverse=True)
    out = {}
    for name, curves in sets.items():
        x = features_of(curves)
        prob = random_forest_probabilities(train_x, y, x, len(classes))
        out[name] = {"isolation_forest": isolation_forest_scores(train_x, x)[1],
                     "forest_doubt": 1.0 - prob.max(axis=1)}
    return out


def evaluate(run_dir, curves, labels, ml, seed):
    run = rnngmm.load_run(run_dir)
    search = run.preprocessing.period_source == "lomb-scargle"
    row = {"run": run_dir, "conditioned": bool(run.novelty.conditions_on_sampling),
           "novelty_score": run.novelty.novelty_score, "bands": {}, "shifts": {}}
    for band in POINT_BANDS:
        copies, kept = band_copies(curves, band, seed)
        table = predict(run, copies, search)
        ok = np.asarray(table["status"]) == "ok"
        truth = labels[kept]
        by_class = {c: float(np.mean(np.asarray(table["anomaly_95"])[ok & (truth == c)]))
                    for c in np.unique(truth) if np.any(ok & (truth == c))}
        row["bands"][band_name(band)] = {
            "n": int(ok.sum()), "flag95": flag_rate(table), "flag95_by_class": by_class,
            "accuracy": float(np.mean(np.asarray(table["predicted_class"])[ok] == truth[ok]))}
    for shift in ("gaia_like", "ztf_like"):
        table = predict(run, shifted_copies(curves, shift, seed), search)
        ok = np.asarray(table["status"]) == "ok"
        predicted = np.asarray(table["predicted_class"]).astype(str)
        row["shifts"][shift] = {
            "n": int(ok.sum()), "flag95": flag_rate(table),
            "accuracy": float(np.mean(predicted[ok] == labels[ok])),
            "recall_by_class": {c: float(np.mean(predicted[ok & (labels == c)] == c))
                                for c in np.unique(labels) if np.any(ok & (labels == c))}}
    row["mixed_depth"] = mixed_depth(run, curves, search, seed)
    if ml is not None:
        events, thinned, windowed = ml
        ev = predict(run, [(*e, np.nan) for e in events], True)
        row["microlensing"] = {"events_flagged95": flag_rate(ev),
                               "events_scored": int(np.sum(np.asarray(ev["status"]) == "ok"))}
        row["_scores"] = {"events": score_column(ev).tolist()}  # written apart, not printed
        for form, stars in (("a_thinned", thinned), ("b_window", windowed)):
            st = predict(run, stars, search)
            row["_scores"][form] = score_column(st).tolist()
            row["microlensing"][form] = {
                "auroc": auroc(score_column(st), score_column(ev)),
                "auroc_energy": auroc(np.asarray(st["energy"], float),
                                      np.asarray(ev["energy"], float)),
                "stars_flagged95": flag_rate(st)}
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--microlensing", default=None)
    parser.add_argument("--max_stars", type=int, default=1200)
    parser.add_argument("--baselines", action="store_true",
                        help="also the isolation forest and feature-forest doubt (microlensing)")
    parser.add_argument("--data", default=None,
                        help="dataset holding the runs' stars (default: the first run's)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    path, indices, labels, split = validation_stars(args.runs[0], args.max_stars, args.seed,
                                                    args.data)
    curves = star_curves(path, indices)
    ml = None
    if args.microlensing:
        events = read_microlensing(args.microlensing)
        ml = (events, *paired_stars(curves, events, args.seed))
    rows, scored = [], []
    for run_dir in args.runs:
        started = time.time()
        row = evaluate(run_dir, curves, labels, ml, args.seed)
        row["seconds"] = round(time.time() - started, 1)
        scores = row.pop("_scores", None)
        if scores is not None:
            scored.append(scores)
            with open(os.path.join(args.out, f"microlensing_scores_{len(rows)}.json"), "w") as f:
                json.dump({"run": run_dir, **scores}, f)
        rows.append(row)
        print(json.dumps(row), flush=True)
    for k in range(1, len(scored)):
        result = {"paired_auroc": {"first": args.runs[k - 1], "second": args.runs[k],
                                   **paired_auroc_bootstrap(scored[k - 1], scored[k],
                                                            seed=args.seed)}}
        rows.append(result)
        print(json.dumps(result), flush=True)
    if args.baselines and ml is not None:
        with Dataset(path) as dataset:
            position = {str(i): n for n, i in enumerate(dataset.ids)}
            train = np.array(sorted(position[i] for i in split["train"] if i in position),
                             np.int64)
            train = np.sort(np.random.default_rng(args.seed).choice(train, 3000, False))
            train_labels = np.asarray(dataset.labels)[train].astype(str)
        events, thinned, windowed = ml
        base = feature_baselines(star_curves(path, train), train_labels,
                                 {"events": [(*e, np.nan) for e in events],
                                  "a_thinned": thinned, "b_window": windowed})
        result = {}
        for form in ("a_thinned", "b_window"):
            result[form] = {m: auroc(base[form][m], base["events"][m])
                            for m in ("isolation_forest", "forest_doubt")}
        rows.append({"baselines": result})
        print(json.dumps(rows[-1]), flush=True)
    with open(os.path.join(args.out, "sampling_results.json"), "w") as f:
        json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
