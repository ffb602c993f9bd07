"""Throughput of ``rnngmm prepare`` on the real CRTS light curves.

Runs prepare twice on the CRTS catalog: with the catalog's periods, and with
Lomb-Scargle periods (on the first ``--ls_objects`` objects, since the period
search dominates). Prints objects/s and objects/s per process with the machine.

Settings come from the environment (argparse lives only in ``rnngmm/cli``):
``RNNGMM_CRTS_DIR`` (catalog folder, default ``../shared/data/crts``),
``BENCH_LIGHTCURVES`` (extracted light curves, default ``/tmp/crts/lightcurves``),
``BENCH_LS_OBJECTS`` (objects of the Lomb-Scargle run, default 2000; 0 = all).

Usage::

    mkdir -p /tmp/crts && tar -xJf ../shared/data/crts/lightcurves.tar.xz -C /tmp/crts
    python benchmarks/bench_prepare.py
    mpirun -np 2 python benchmarks/bench_prepare.py
"""

import os
import tempfile
import time
from pathlib import Path

from common import cpu_model  # benchmarks/ is on sys.path when run as a script
from rnngmm.dist import init_mpi
from rnngmm.lightcurves.periods import available_backend
from rnngmm.prepare import PrepareConfig, prepare

REPO = Path(__file__).resolve().parent.parent
CRTS = Path(os.environ.get("RNNGMM_CRTS_DIR", REPO.parent / "shared" / "data" / "crts"))


def subset_catalog(path, n, directory):
    lines = Path(path).read_text().splitlines()
    out = Path(directory) / f"catalog_{n}.csv"
    out.write_text("\n".join(lines[:n + 1]) + "\n")
    return out


def main():
    catalog_path = str(CRTS / "catalog.csv")
    lightcurves = os.environ.get("BENCH_LIGHTCURVES", "/tmp/crts/lightcurves")
    ls_objects = int(os.environ.get("BENCH_LS_OBJECTS", "2000"))
    dist = init_mpi()
    out_dir = dist.bcast(tempfile.mkdtemp(prefix="bench_prepare_")
                                             if dist.is_root else None)
    runs = [("catalog periods", catalog_path, "catalog")]
    ls_catalog = catalog_path
    if ls_objects and dist.is_root:
        ls_catalog = str(subset_catalog(catalog_path, ls_objects, out_dir))
    ls_catalog = dist.bcast(ls_catalog)
    runs.append((f"Lomb-Scargle periods ({available_backend()})", ls_catalog, "lomb-scargle"))
    if dist.is_root:
        print(f"machine: {cpu_model()}, {os.cpu_count()} cores; {dist.size} process(es)")
    for name, catalog, source in runs:
        config = PrepareConfig(catalog=catalog, lightcurves=lightcurves,
                               output=os.path.join(out_dir, f"{source}.h5"), format="crts",
                               label_col="class", period_col="period", period_source=source)
        dist.barrier()
        start = time.perf_counter()
        result = prepare(config, dist, log=lambda *a: None)
        seconds = time.perf_counter() - start
        if dist.is_root:
            rate = result.n_input / seconds
            print(f"{name}: {result.n_input} objects ({result.n_kept} kept) in {seconds:.1f} s "
                  f"= {rate:.1f} objects/s = {rate / dist.size:.1f} objects/s per process")


if __name__ == "__main__":
    main()
