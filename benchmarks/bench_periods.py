"""Period search speed and recovery on the real CRTS light curves (issue 16.4).

For a fixed, seeded random subset of the CRTS stars (all have a catalog
period), each light curve is read, cleaned with ``rnngmm.lightcurves.preprocess.clean``
(as ``rnngmm prepare`` does, no sigma clipping) and searched with

* ``exhaustive``: the whole fine grid in one nifty-ls periodogram
  (:func:`rnngmm.lightcurves.periods.exhaustive_period`, the search before issue 16.4);
* ``refined``: :func:`rnngmm.lightcurves.periods.lomb_scargle_period` (coarse periodogram,
  the best peaks refined on the same fine grid, then off the grid).

Both run on one core (one process, every library on one thread), in
alternating blocks of 100 objects so both see the same machine load. Reported per method:
objects/s per core (from the process CPU time of the search calls alone, and
from wall time), the fraction of stars whose period is within 1% of the
catalog period, and within 1% of P, P/2 or 2P; per class too; and how often
the two methods find the same peak (frequencies within one fine-grid step) and
which has the higher power there.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_periods.py /tmp/bench_periods.json
    .venv/bin/python benchmarks/bench_periods.py out.json --objects 0   # all 16k

The light curves are extracted from ``<crts>/lightcurves.tar.xz`` to
``--lightcurves`` (default ``/tmp/crts_periods``) when missing.
"""

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"  # one core: before numpy starts its BLAS threads

import argparse  # noqa: E402
import csv  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import tarfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from rnngmm.errors import BadLightCurve  # noqa: E402
from rnngmm.lightcurves.periods import (available_backend, exhaustive_period,  # noqa: E402
                            frequency_grid, lomb_scargle_period)
from rnngmm.lightcurves.preprocess import clean  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
METHODS = {"exhaustive": exhaustive_period, "refined": lomb_scargle_period}


def machine():
    """CPU model, cores, load, date and library versions."""
    model = platform.processor() or "unknown"
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    versions = {"numpy": np.__version__}
    for package in ("nifty_ls", "finufft"):
        try:
            versions[package] = __import__(package).__version__
        except ImportError:
            versions[package] = None
    return {"cpu": model, "cores": os.cpu_count(), "load_average": list(os.getloadavg()),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "python": platform.python_version(), **versions}


def lightcurve_folder(crts, folder):
    """The extracted light curves, extracting the archive on first use."""
    target = Path(folder) / "lightcurves"
    if not target.is_dir():
        Path(folder).mkdir(parents=True, exist_ok=True)
        print(f"extracting {crts / 'lightcurves.tar.xz'} to {folder} ...", flush=True)
        with tarfile.open(crts / "lightcurves.tar.xz") as archive:
            archive.extractall(folder, filter="data")
    return target


def load(crts, folder, n_objects, seed):
    """Cleaned light curves of a seeded random subset (sorted by catalog row)."""
    with open(crts / "catalog.csv") as handle:
        rows = [row for row in csv.DictReader(handle) if row["period"]]
    if n_objects and n_objects < len(rows):
        chosen = np.sort(np.random.default_rng(seed).choice(len(rows), n_objects, replace=False))
        rows = [rows[i] for i in chosen]
    lightcurves = lightcurve_folder(crts, folder)
    objects = []
    for row in rows:
        data = np.loadtxt(lightcurves / f"{row['id']}.dat", ndmin=2)
        try:
            time_, mag, err, _ = clean(data[:, 0], data[:, 1], data[:, 2])
        except BadLightCurve:
            continue
        objects.append((row["id"], row["class"], float(row["period"]), time_, mag, err))
    return objects


def recovery(found, catalog):
    """(fraction within 1% of P, fraction within 1% of P, P/2 or 2P)."""
    found, catalog = np.asarray(found, float), np.asarray(catalog, float)
    with np.errstate(invalid="ignore"):
        exact = np.abs(found / catalog - 1) < 0.01
        harmonic = exact.copy()
        for k in (0.5, 2.0):
            harmonic |= np.abs(found / (k * catalog) - 1) < 0.01
    return float(np.mean(exact)), float(np.mean(harmonic))


def run(objects, methods, block=100):
    """Period, power and CPU/wall seconds of every method on every object.

    Objects go in blocks of ``block``: each method runs over the whole block
    in turn (as in production, one search after another) and every block
    sees both methods, so both see the same machine load.
    """
    out = {m: {"period": [None] * len(objects), "power": [None] * len(objects),
               "cpu": [None] * len(objects), "wall": [None] * len(objects)} for m in methods}
    for method in methods:  # warm-up (imports, plans) outside the timing
        METHODS[method](*objects[0][3:])
    for start in range(0, len(objects), block):
        for method in methods:
            record = out[method]
            for k in range(start, min(start + block, len(objects))):
                time_, mag, err = objects[k][3:]
                wall, cpu = time.perf_counter(), time.process_time()
                try:
                    period, power = METHODS[method](time_, mag, err)
                except BadLightCurve:
                    period, power = np.nan, np.nan
                record["cpu"][k] = time.process_time() - cpu
                record["wall"][k] = time.perf_counter() - wall
                record["period"][k], record["power"][k] = period, power
        if (start // block + 1) % 5 == 0:
            print(f"  {min(start + block, len(objects))}/{len(objects)}", flush=True)
    return out


def summarise(objects, results):
    catalog = np.array([o[2] for o in objects])
    classes = np.array([o[1] for o in objects])
    summary = {}
    for method, record in results.items():
        cpu, wall = np.sum(record["cpu"]), np.sum(record["wall"])
        exact, harmonic = recovery(record["period"], catalog)
        per_class = {}
        for name in sorted(set(classes)):
            mask = classes == name
            e, h = recovery(np.asarray(record["period"])[mask], catalog[mask])
            per_class[name] = {"n": int(mask.sum()), "within_1pct": e, "harmonic_1pct": h}
        summary[method] = {"objects_per_s_cpu": len(objects) / cpu,
                           "objects_per_s_wall": len(objects) / wall,
                           "ms_per_object_cpu": 1e3 * cpu / len(objects),
                           "within_1pct": exact, "harmonic_1pct": harmonic,
                           "per_class": per_class}
    if {"exhaustive", "refined"} <= set(results):
        a = np.array(results["exhaustive"]["period"])
        b = np.array(results["refined"]["period"])
        pa = np.array(results["exhaustive"]["power"])
        pb = np.array(results["refined"]["power"])
        step = np.array([frequency_grid(o[3])[1] for o in objects])
        with np.errstate(invalid="ignore"):
            summary["agreement"] = {
                # the refined period is the exhaustive grid point refined off the grid
                "same_peak": float(np.mean(np.abs(1 / a - 1 / b) <= step * (1 + 1e-9))),
                "within_0.1pct": float(np.mean(np.abs(b / a - 1) < 1e-3)),
                "refined_power_higher": float(np.mean(pb > pa + 1e-6)),
                "refined_power_lower": float(np.mean(pb < pa - 1e-6)),
            }
    return summary


def table(summary, n_objects):
    methods = [m for m in summary if m != "agreement"]
    lines = ["| method | objects/s per core (CPU) | objects/s (wall) | ms/object (CPU) "
             "| within 1% of P | within 1% of P, P/2, 2P |",
             "|---|---|---|---|---|---|"]
    for m in methods:
        s = summary[m]
        lines.append(f"| {m} | {s['objects_per_s_cpu']:.1f} | {s['objects_per_s_wall']:.1f} "
                     f"| {s['ms_per_object_cpu']:.2f} | {s['within_1pct']:.4f} "
                     f"| {s['harmonic_1pct']:.4f} |")
    lines.append("")
    lines.append(f"Per class ({n_objects} objects; within 1% of P / of P, P/2, 2P):")
    lines.append("")
    lines.append("| class | n | " + " | ".join(methods) + " |")
    lines.append("|---|---|" + "---|" * len(methods))
    for name, first in summary[methods[0]]["per_class"].items():
        cells = [f"{summary[m]['per_class'][name]['within_1pct']:.3f} / "
                 f"{summary[m]['per_class'][name]['harmonic_1pct']:.3f}" for m in methods]
        lines.append(f"| {name} | {first['n']} | " + " | ".join(cells) + " |")
    if "agreement" in summary:
        a = summary["agreement"]
        lines.append("")
        lines.append(f"Refined vs exhaustive: same peak (frequencies within one fine-grid step) "
                     f"{a['same_peak']:.4f}, periods within 0.1% {a['within_0.1pct']:.4f}; "
                     f"refined power higher (> 1e-6) {a['refined_power_higher']:.4f}, "
                     f"lower {a['refined_power_lower']:.4f}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("json_out", help="where to write the JSON results")
    parser.add_argument("--crts", default=str(REPO.parent / "shared" / "data" / "crts"))
    parser.add_argument("--lightcurves", default="/tmp/crts_periods",
                        help="folder holding (or to receive) lightcurves/")
    parser.add_argument("--objects", type=int, default=3000, help="0 = all")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--methods", default="exhaustive,refined")
    args = parser.parse_args(argv)
    methods = args.methods.split(",")
    info = machine()
    print(" ".join(f"{k}={v}" for k, v in info.items()), flush=True)
    if available_backend() != "nifty-ls":
        print("WARNING: nifty-ls missing: both methods use astropy's exhaustive search")
    objects = load(Path(args.crts), args.lightcurves, args.objects, args.seed)
    print(f"{len(objects)} objects (seed {args.seed}), methods {methods}", flush=True)
    results = run(objects, methods)
    summary = summarise(objects, results)
    print(table(summary, len(objects)))
    record = {"machine": info, "objects": len(objects), "seed": args.seed,
              "selection": "all" if not args.objects else f"seeded random {args.objects}",
              "summary": summary,
              "ids": [o[0] for o in objects],
              "periods": {m: results[m]["period"] for m in methods},
              "catalog_periods": [o[2] for o in objects]}
    Path(args.json_out).write_text(json.dumps(record, indent=1))
    print(f"wrote {args.json_out}")


if __name__ == "__main__":
    main()
