"""Throughput and memory of ``rnngmm flag`` on the real CRTS light curves.

Flags the CRTS catalog as a "new catalog", end to end from the light-curve
files on disk, with the fiducial architecture (GRU 96 x 2, embedding 16,
chunks of 200 points; an untrained but saved run: throughput does not depend
on the weights). Measures:

* objects/s with 1 and 2 ranks (``mpirun -np 2``): end to end (wall time of the
  command, including TensorFlow start-up and model loading) and in the scoring
  loop (rate of the last progress line);
* peak resident memory of each rank (``ru_maxrss``, reported by the command);
* memory for a catalog 10x smaller and, optionally, 10x larger (the CRTS
  files replicated under new ids with hard links) - it should stay flat;
* the model-only rate (``predict_chunks`` on pre-made chunks) in this process,
  to show how much of the end-to-end time is reading/cleaning/chunking.

Settings come from the environment (argparse lives only in ``rnngmm/cli``):
``RNNGMM_CRTS_DIR`` (default ``../shared/data/crts``), ``BENCH_LIGHTCURVES``
(extracted files, default ``/tmp/crts/lightcurves``), ``BENCH_RANKS`` (default
``"1 2"``), ``BENCH_REPLICATE`` (replication factor of the large-catalog run,
default 0 = skip; 10 for the full test), ``BENCH_MODEL_OBJECTS`` (objects of
the model-only timing, default 2000), ``BENCH_WORKDIR`` (default: a new temp dir),
``BENCH_OUT`` (JSON file for the results, optional), ``BENCH_ROWS`` (use only
the first rows of the catalog, for a quick try; default all).

Usage::

    mkdir -p /tmp/crts && tar -xJf ../shared/data/crts/lightcurves.tar.xz -C /tmp/crts
    python benchmarks/bench_flag.py
    BENCH_REPLICATE=10 BENCH_RANKS=2 python benchmarks/bench_flag.py
"""

import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
CRTS = Path(os.environ.get("RNNGMM_CRTS_DIR", REPO.parent / "shared" / "data" / "crts"))
CLASS_NAMES = ["ECL", "RRab", "RRc", "Rot", "LPV", "CEP", "DSCT", "EA"]
CHUNKING = {"n_min": 20, "n_max": 200, "period_fold": False}


def machine():
    """CPU model, core count and load, for the record."""
    name = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as handle:
            name = next(line.split(":", 1)[1].strip() for line in handle
                        if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": name, "cores": os.cpu_count(), "load_avg_1min": os.getloadavg()[0]}


def make_untrained_run(directory):
    """A run directory with the fiducial model (random weights) and a GMM."""
    import keras

    from rnngmm.models.configs import get_config
    from rnngmm.models.registry import build_model
    from rnngmm.novelty.mixture import GMMNovelty
    from rnngmm.rundir import write_json

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    config = get_config("fiducial")
    model = build_model("rnngmm", **config)
    n_max = config["n_max"]
    dummy = {"x": np.zeros((2, n_max, 2), np.float32),
             "weights": np.ones((2, n_max), np.float32),
             "supports": np.zeros((2, 3), np.float32)}
    z_size = int(model(dummy, training=False)["z"].shape[1])
    model.save(directory / "model.keras")
    rng = np.random.default_rng(0)
    k = config["num_classes"]
    mu = rng.normal(size=(k, z_size))
    cov = np.stack([np.eye(z_size)] * k)
    phi = np.full(k, 1.0 / k)
    sample = mu[rng.integers(0, k, 5000)] + rng.normal(size=(5000, z_size))
    probe = GMMNovelty.from_parameters(phi, mu, cov, np.ones(1))
    GMMNovelty.from_parameters(phi, mu, cov, probe.energy(sample)).save(directory / "gmm.h5")
    write_json(directory / "config.json",
               {"args": {}, "model": config, "class_names": CLASS_NAMES[:k],
                "chunking": CHUNKING, "dataset": {}, "versions": {"keras": keras.__version__},
                "world_size": 1})
    write_json(directory / "split.json", {"train": [], "validation": [], "novel": [], "seed": 0})
    return directory


def subset_catalog(n_rows, directory):
    """The first ``n_rows`` rows of the CRTS catalog (all when None)."""
    lines = (CRTS / "catalog.csv").read_text().splitlines()
    rows = lines[1:] if n_rows is None else lines[1:n_rows + 1]
    path = Path(directory) / f"catalog_{len(rows)}.csv"
    path.write_text("\n".join([lines[0], *rows]) + "\n")
    return path, len(rows)


def replicated_catalog(factor, lightcurves, directory):
    """CRTS catalog and files ``factor`` times under new ids (hard links)."""
    lines = (CRTS / "catalog.csv").read_text().splitlines()
    lc_dir = Path(directory) / f"lightcurves_x{factor}"
    lc_dir.mkdir(exist_ok=True)
    rows = []
    for copy in range(factor):
        for line in lines[1:]:
            object_id, rest = line.split(",", 1)
            new_id = f"{object_id}r{copy}"
            target = lc_dir / f"{new_id}.dat"
            if not target.exists():
                os.link(Path(lightcurves) / f"{object_id}.dat", target)
            rows.append(f"{new_id},{rest}")
    path = Path(directory) / f"catalog_x{factor}.csv"
    path.write_text("\n".join([lines[0], *rows]) + "\n")
    return path, lc_dir, len(rows)


def run_flag(run_dir, catalog, lightcurves, out, ranks):
    """Run ``rnngmm flag``; returns wall seconds, loop rate and peak MiB per rank."""
    command = [sys.executable, "-m", "rnngmm.cli", "flag", "--run_dir", str(run_dir),
               "--catalog", str(catalog), "--lightcurves", str(lightcurves),
               "--format", "crts", "--output", str(out), "--progress_interval", "20"]
    if ranks > 1:
        command = [shutil.which("mpirun"), "--allow-run-as-root", "--oversubscribe",
                   "-np", str(ranks), *command]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"flag failed ({result.returncode}):\n{result.stderr[-3000:]}")
    rates = re.findall(r"flag: \d+/\d+ objects .*?, ([\d.]+) objects/s", result.stdout)
    peaks = re.search(r"peak memory per rank while scoring \(MiB\): ([\d., ]+)", result.stdout)
    summary = [line for line in result.stdout.splitlines() if "not scored" in line]
    return {"wall_s": round(wall, 1), "loop_objects_per_s": float(rates[-1]) if rates else None,
            "peak_rss_mib": [float(p) for p in peaks.group(1).split(",")],
            "not_scored": summary}


def model_only_rate(run_dir, lightcurves, n_objects):
    """Chunks/s and objects/s of ``predict_chunks`` on pre-made chunks."""
    from rnngmm.errors import BadLightCurve
    from rnngmm.inference import predict_chunks
    from rnngmm.io.catalog import read_catalog
    from rnngmm.io.readers import read_lightcurve
    from rnngmm.rundir import load_run

    from rnngmm.lightcurves.objects import chunk_objects, prepare_object
    run = load_run(run_dir)
    catalog = read_catalog(CRTS / "catalog.csv", "id", period_col="period")
    records = []
    for i in range(min(n_objects, len(catalog))):
        t, m, e = read_lightcurve(Path(lightcurves) / f"{catalog.ids[i]}.dat", "crts")
        try:  # the flag path: clean once, period rule, then chunking
            p = prepare_object(t, m, e, catalog.periods[i], run.preprocessing)
        except BadLightCurve:
            continue
        records.append((i, p.time, p.mag, p.err, p.period))
    chunk_set = chunk_objects(records, run.chunking)
    n_objects_ok = len(np.unique(chunk_set.object_index))
    predict_chunks(run.model, chunk_set.chunks)  # trace and compile once (package defaults)
    start = time.perf_counter()
    outputs = predict_chunks(run.model, chunk_set.chunks)
    run.novelty.energy(outputs["z"])
    seconds = time.perf_counter() - start
    return {"chunks": len(chunk_set.chunks), "objects": n_objects_ok,
            "chunks_per_s": round(len(chunk_set.chunks) / seconds, 1),
            "objects_per_s": round(n_objects_ok / seconds, 1)}


def main():
    lightcurves = Path(os.environ.get("BENCH_LIGHTCURVES", "/tmp/crts/lightcurves"))
    if not lightcurves.is_dir():
        sys.exit(f"extract the CRTS light curves first: mkdir -p /tmp/crts && "
                 f"tar -xJf {CRTS}/lightcurves.tar.xz -C /tmp/crts")
    ranks_list = [int(r) for r in os.environ.get("BENCH_RANKS", "1 2").split()]
    replicate = int(os.environ.get("BENCH_REPLICATE", "0"))
    work = Path(os.environ.get("BENCH_WORKDIR") or tempfile.mkdtemp(prefix="bench_flag_"))
    work.mkdir(parents=True, exist_ok=True)
    run_dir = make_untrained_run(work / "run")
    results = {"machine": machine(), "runs": []}

    rows = os.environ.get("BENCH_ROWS")
    full, n_full = subset_catalog(int(rows) if rows else None, work)
    tenth, n_tenth = subset_catalog(n_full // 10, work)
    plan = [(f"CRTS {n_full}", full, lightcurves, n_full, r) for r in ranks_list]
    plan.append((f"CRTS first {n_tenth} (1/10)", tenth, lightcurves, n_tenth, 1))
    if replicate:
        big, big_dir, n_big = replicated_catalog(replicate, lightcurves, work)
        plan.append((f"CRTS x{replicate} ({n_big})", big, big_dir, n_big, ranks_list[-1]))
    for label, catalog, lc_dir, n_rows, ranks in plan:
        out = work / f"flags_{n_rows}_{ranks}.h5"
        row = run_flag(run_dir, catalog, lc_dir, out, ranks)
        row.update(label=label, rows=n_rows, ranks=ranks,
                   end_to_end_objects_per_s=round(n_rows / row["wall_s"], 1))
        results["runs"].append(row)
        print(json.dumps(row), flush=True)
    results["model_only"] = model_only_rate(
        run_dir, lightcurves, int(os.environ.get("BENCH_MODEL_OBJECTS", "2000")))
    print(json.dumps(results["model_only"]), flush=True)

    print(f"\nmachine: {results['machine']}")
    print("| catalog | ranks | wall (s) | objects/s end to end | objects/s in loop "
          "| peak RSS per rank (MiB) |")
    print("|---|---|---|---|---|---|")
    for row in results["runs"]:
        print(f"| {row['label']} | {row['ranks']} | {row['wall_s']} | "
              f"{row['end_to_end_objects_per_s']} | {row['loop_objects_per_s']} | "
              f"{', '.join(f'{p:.0f}' for p in row['peak_rss_mib'])} |")
    m = results["model_only"]
    print(f"model only (predict_chunks + energy, 1 process): {m['chunks_per_s']} chunks/s "
          f"= {m['objects_per_s']} objects/s ({m['chunks']} chunks of {m['objects']} objects)")
    if os.environ.get("BENCH_OUT"):
        Path(os.environ["BENCH_OUT"]).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
