"""Several bands in one row: does scoring bands together beat one band? (issue 25.4)

Two measurements of one run (its model learned ONE band; a star's bands are
scored as one row: each band cleaned and chunked on its own, all bands'
chunks are the star's chunks, see :mod:`rnngmm.flagging.stream`). Each prints
one JSON line on stdout and writes nothing else (``--json PATH`` also appends
the line to PATH, outside the repository).

``simulated``: a several-band sample of ``rnngmm simulate --bands g r`` (one
file per star with a band column, or ``<id>_<band>.csv`` per band; found
either way). Every star is scored with each band alone and with all bands in
one row; reported for each: macro-F1 (sklearn, over the known classes present)
and accuracy on the stars every configuration scored, and the p95 flag rate
of the known-class stars (of the novel-class stars too, when there are any).
Catalog classes are mapped to the run's with the run's class map; with
``--class_map`` (a JSON file ``{name: name}``, or ``crts`` for
:data:`SIM_TO_CRTS`) both the catalog classes and the predicted ones are
renamed, so a run of other classes can be scored on a common set (the shipped
CRTS runs: EW and EA both count as ECL, LPV as M or SR). Classes the run does
not know count as novel.
Periods: ``--periods run`` (default) gives the catalog period unless the run
searches its own (``period_source`` lomb-scargle); ``catalog`` or ``search``
force one (with ``search`` the combined row uses one multi-band search).

``split``: the run's validation stars of a prepared dataset (``--data``, e.g.
a CRTS ``rnngmm prepare`` output with labels; validation ids from the run's
``split.json``, as ``bench_sampling.py`` picks them). Each light curve is cut
BY NIGHT into two interleaved halves: nights are numbered ``floor(t - c)``,
where ``c`` (fraction of a day) is the middle of the 1.5-hour stretch of the
day holding the fewest epochs of all the stars together (daytime at the
survey's sites, whatever the time convention: CRTS epochs fall between 0.33
and 0.85 of the MJD day, and the cut comes at ~0.10); the star's nights in
time order go to half A (1st, 3rd, ...) and half B (2nd, 4th, ...), so the
exposures of one night (CRTS takes four within ~30 minutes) stay together.
Scored: A alone, B alone, A+B as two "bands" of one row, and the whole light
curve, all with the dataset's (catalog) periods. Targets of the issue:
macro-F1(A+B) >= macro-F1(A) + 0.02 and >= macro-F1(whole) - 0.02.

    .venv/bin/python benchmarks/bench_bands.py simulated --run_dir RUN \\
        --sample /tmp/sim_gr [--bands g r] [--max_stars 2000] [--seed 0]
    .venv/bin/python benchmarks/bench_bands.py split --run_dir RUN \\
        --data /tmp/crts8.h5 [--max_stars 2000] [--seed 0]
"""

import argparse
import collections
import json
import os
import sys
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

#: Width of the day-time bins (fraction of a day) and the bins smoothed over
#: when looking for the night boundary: 30 minutes, 3 bins = 1.5 hours.
NIGHT_BINS = 48
NIGHT_SMOOTH = 3
#: ``--class_map crts``: simulated and CRTS run classes renamed to one set.
SIM_TO_CRTS = {"CEPH": "CEP", "SR": "LPV", "M": "LPV", "EW": "ECL", "EA": "ECL"}
#: Percentile of the anomaly flag reported.
PERCENTILE = 95.0


# ------------------------------------------------------------------ night split
def night_boundary(times):
    """Fraction of a day where nights are cut: the middle of the 1.5-hour
    stretch (circular) holding the fewest epochs of ``times`` (the middle of
    the longest run of such stretches when there are several, e.g. an empty day)."""
    fraction = np.mod(np.asarray(times, np.float64), 1.0)
    counts = np.bincount(np.minimum((fraction * NIGHT_BINS).astype(int), NIGHT_BINS - 1),
                         minlength=NIGHT_BINS)
    window = sum(np.roll(counts, -k) for k in range(NIGHT_SMOOTH))  # bins k .. k+2
    lowest = np.append(window, window) == window.min()
    best, best_start, run = 0, 0, 0
    for k, low in enumerate(lowest):  # longest run of lowest windows, circular
        run = run + 1 if low else 0
        if min(run, NIGHT_BINS) > best:
            best, best_start = min(run, NIGHT_BINS), k - run + 1
    middle = best_start + (best - 1) / 2.0 + NIGHT_SMOOTH / 2.0  # in bins
    return float((middle / NIGHT_BINS) % 1.0)


def night_halves(time, boundary):
    """Boolean mask of half A: the epochs of the star's 1st, 3rd, ... night."""
    night = np.floor(np.asarray(time, np.float64) - boundary)
    _, rank = np.unique(night, return_inverse=True)
    return rank % 2 == 0


# ---------------------------------------------------------------------- scoring
def score_items(run, items, batch_objects=256, batch_size=512, bands=None):
    """The flag path's table (status, predicted_class, anomaly_95, ...) of
    ``items`` (one ``ObjectRecord``, ``BandedRecord`` or reason string each);
    ``bands``: the band names of ``BandedRecord`` items, as flag passes them
    (per-band means, and the sampling-conditioned score conditioned on the
    points per band)."""
    from rnngmm.api import predict_table
    from rnngmm.flagging.results import RowResults
    from rnngmm.flagging.scorer import ModelScorer
    from rnngmm.flagging.stream import batches_of, score_batch
    from rnngmm.log import native_stderr_filtered
    scorer = ModelScorer(run.model, run.novelty, batch_size)
    parts = []
    with native_stderr_filtered():
        for batch in batches_of(enumerate(items), batch_objects):
            parts.append(score_batch(batch, scorer, run.preprocessing, run.chunking,
                                     bands=bands))
    results = RowResults.concatenate(parts, scorer.n_classes)
    return predict_table(run, [str(k) for k in range(len(items))], results, (PERCENTILE,))


def configuration_metrics(tables, truth, known_classes, relabel=None):
    """Per configuration: macro-F1 and accuracy on the stars of known classes
    every configuration scored; p95 flag rates; counts and top failures.
    ``relabel`` ({name: name}) renames the predicted classes (and
    ``known_classes``) as the truth was renamed."""
    relabel = relabel or {}
    known_classes = {relabel.get(c, c) for c in known_classes}
    from sklearn.metrics import f1_score
    from rnngmm.object_table import anomaly_column
    flag = anomaly_column(PERCENTILE)
    ok = {name: np.asarray(t["status"]) == "ok" for name, t in tables.items()}
    common = np.logical_and.reduce(list(ok.values()))
    known = np.isin(truth, list(known_classes))
    labels = sorted(set(truth[common & known]))
    out = {}
    for name, table in tables.items():
        predicted = np.array([relabel.get(c, c)
                              for c in np.asarray(table["predicted_class"]).astype(str)])
        flags = np.asarray(table[flag], bool)
        rows = common & known
        status = collections.Counter(s for s in np.asarray(table["status"]).astype(str)
                                     if s != "ok")
        out[name] = {
            "n_scored": int(ok[name].sum()), "n_compared": int(rows.sum()),
            "macro_f1": (float(f1_score(truth[rows], predicted[rows], labels=labels,
                                        average="macro", zero_division=0))
                         if rows.any() else None),
            "accuracy": float(np.mean(predicted[rows] == truth[rows])) if rows.any() else None,
            "flag95_known": float(np.mean(flags[rows])) if rows.any() else None,
            "top_failures": dict(status.most_common(3))}
        novel = common & ~known
        if novel.any():
            out[name]["flag95_novel"] = float(np.mean(flags[novel]))
            out[name]["n_novel"] = int(novel.sum())
    return out


def _difference(metrics, a, b, key="macro_f1"):
    x, y = metrics[a][key], metrics[b][key]
    return None if x is None or y is None else round(x - y, 4)


# -------------------------------------------------------------- (a) simulated
def _band_path(directory, object_id, band):
    """Path of one band of a star: its one file holding a band column, else
    ``<id>_<band>.csv``."""
    one = os.path.join(directory, f"{object_id}.csv")
    if os.path.isfile(one):
        return one
    return os.path.join(directory, f"{object_id}_{band}.csv")


def read_star_bands(directory, object_id, bands):
    """``({band: (time, mag, err)}, {band: reason})`` of one simulated star."""
    from rnngmm.errors import BadLightCurve
    from rnngmm.io.readers import read_lightcurve
    found, missing = {}, {}
    for band in bands:
        path = _band_path(directory, object_id, band)
        if not os.path.isfile(path):
            missing[band] = f"light-curve file not found ({os.path.basename(path)})"
            continue
        try:
            found[band] = read_lightcurve(path, "table", band=band)
        except BadLightCurve as exc:
            missing[band] = exc.reason
    return found, missing


def simulated_items(sample, bands, periods):
    """Per configuration (each band alone, all bands in one row): the items."""
    from rnngmm.flagging.sources import BandedRecord, ObjectRecord
    lc_dir = os.path.join(sample, "lightcurves")
    configs = {band: [] for band in bands}
    combined = "+".join(bands)
    configs[combined] = []
    for object_id, period in zip(*periods):
        found, missing = read_star_bands(lc_dir, object_id, bands)
        for band in bands:
            configs[band].append(ObjectRecord(*found[band], period, "catalog") if band in found
                                 else missing[band])
        configs[combined].append(
            BandedRecord(found, missing, period, "catalog") if found else
            "no band usable (" + "; ".join(f"{b}: {r}" for b, r in missing.items()) + ")")
    return configs


def run_simulated(args):
    """Measurement (a): JSON-able dict."""
    from astropy.table import Table
    import rnngmm
    started = time.time()
    run = rnngmm.load_run(args.run_dir)
    catalog = Table.read(os.path.join(args.sample, "catalog.csv"), format="ascii.csv")
    ids = np.asarray(catalog["id"]).astype(str)
    raw = np.ma.filled(np.ma.asarray(catalog["period"], np.float64), np.nan)
    keep = np.arange(len(ids))
    if args.max_stars and len(ids) > args.max_stars:
        keep = np.sort(np.random.default_rng(args.seed).choice(len(ids), args.max_stars, False))
    class_map, relabel = run.class_map or {}, {}
    if args.class_map == "crts":
        relabel = SIM_TO_CRTS
    elif args.class_map:
        with open(args.class_map) as handle:
            relabel = json.load(handle)
    truth = [class_map.get(c, c) for c in np.asarray(catalog["class"]).astype(str)[keep]]
    truth = np.array([relabel.get(c, c) for c in truth])
    search = (args.periods == "search"
              or (args.periods == "run" and run.preprocessing.period_source == "lomb-scargle"))
    periods = np.full(len(keep), np.nan) if search else raw[keep]
    configs = simulated_items(args.sample, args.bands, (ids[keep], periods))
    combined = "+".join(args.bands)
    tables = {name: score_items(run, items, args.batch_objects,
                                bands=tuple(args.bands) if name == combined else None)
              for name, items in configs.items()}
    metrics = configuration_metrics(tables, truth, run.class_names, relabel)
    return {"measurement": "simulated", "run": args.run_dir, "sample": args.sample,
            "bands": list(args.bands), "periods": "search" if search else "catalog",
            "n_stars": int(len(keep)), "seed": args.seed, "class_map": relabel,
            "configurations": metrics,
            "combined_minus_band": {b: _difference(metrics, combined, b) for b in args.bands},
            "seconds": round(time.time() - started, 1)}


# ------------------------------------------------------------ (b) split-half
def split_items(curves, boundary):
    """Items of the four configurations: A, B, A+B in one row, whole."""
    from rnngmm.flagging.sources import BandedRecord, ObjectRecord
    configs = {"A": [], "B": [], "A+B": [], "whole": []}
    for t, m, e, p in curves:
        in_a = night_halves(t, boundary)
        halves = {"A": (t[in_a], m[in_a], e[in_a]), "B": (t[~in_a], m[~in_a], e[~in_a])}
        for name, half in halves.items():
            configs[name].append(ObjectRecord(*half, p, "catalog"))
        used = {n: h for n, h in halves.items() if len(h[0])}
        configs["A+B"].append(BandedRecord(used, {n: "no epochs" for n in halves if n not in used},
                                           p, "catalog"))
        configs["whole"].append(ObjectRecord(t, m, e, p, "catalog"))
    return configs


def run_split(args):
    """Measurement (b): JSON-able dict."""
    import rnngmm
    from bench_sampling import star_curves, validation_stars
    started = time.time()
    path, indices, labels, _ = validation_stars(args.run_dir, args.max_stars, args.seed,
                                                args.data)
    curves = star_curves(path, indices)
    boundary = night_boundary(np.concatenate([c[0] for c in curves])) if curves else 0.0
    run = rnngmm.load_run(args.run_dir)
    configs = split_items(curves, boundary)
    tables = {name: score_items(run, items, args.batch_objects,
                                bands=("A", "B") if name == "A+B" else None)
              for name, items in configs.items()}
    metrics = configuration_metrics(tables, labels, run.class_names)
    gain, gap = _difference(metrics, "A+B", "A"), _difference(metrics, "A+B", "whole")
    nights = [len(np.unique(np.floor(c[0] - boundary))) for c in curves]
    return {"measurement": "split", "run": args.run_dir, "data": path,
            "n_stars": int(len(curves)), "seed": args.seed,
            "night_boundary_day_fraction": round(boundary, 4),
            "median_nights": float(np.median(nights)) if nights else None,
            "configurations": metrics,
            "combined_minus_A": gain, "combined_minus_whole": gap,
            "target_combined_ge_A_plus_0.02": None if gain is None else bool(gain >= 0.02),
            "target_combined_within_0.02_of_whole": None if gap is None else bool(gap >= -0.02),
            "seconds": round(time.time() - started, 1)}


# ------------------------------------------------------------------------ main
def _emit(record, path):
    line = json.dumps(record)
    print(line, flush=True)
    if path:
        if os.path.abspath(path).startswith(REPO + os.sep):
            raise SystemExit(f"--json {path}: write outside the repository ({REPO})")
        with open(path, "a") as handle:
            handle.write(line + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="measurement", required=True)
    for name, help_text in (("simulated", "bands alone vs together on a simulated sample"),
                            ("split", "night halves of real light curves as two bands")):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--run_dir", required=True)
        p.add_argument("--max_stars", type=int, default=2000,
                       help="random subset of at most this many stars (0: all)")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--batch_objects", type=int, default=256)
        p.add_argument("--json", default=None, help="also append the JSON line here")
    sim = sub.choices["simulated"]
    sim.add_argument("--sample", required=True,
                     help="output of 'rnngmm simulate --bands ...' (catalog.csv, lightcurves/)")
    sim.add_argument("--bands", nargs="+", default=["g", "r"])
    sim.add_argument("--periods", choices=("run", "catalog", "search"), default="run")
    sim.add_argument("--class_map", default=None,
                     help="JSON file {class: class} renaming the sample's and the predicted "
                          "classes, or 'crts' (the shipped CRTS runs on a simulated sample)")
    sub.choices["split"].add_argument(
        "--data", default=None, help="prepared dataset holding the run's validation stars "
                                     "(default: the one the run records)")
    args = parser.parse_args(argv)
    record = run_simulated(args) if args.measurement == "simulated" else run_split(args)
    _emit(record, args.json)
    return record


if __name__ == "__main__":
    main()
