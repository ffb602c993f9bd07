"""Session fixtures of the SLURM tests: ONE cluster (munged, slurmctld, slurmd)
for every module of this folder, its submit directory and a tiny dataset."""

import pytest

from slurm_cluster import SlurmCluster, unavailable_reason
from slurm_jobs import KNOWN, NOVEL, rnngmm, skip_or_fail


@pytest.fixture(scope="session")
def cluster():
    """A running one-node SLURM cluster; daemons stopped at session end."""
    reason = unavailable_reason()
    if reason:
        skip_or_fail(reason)
    slurm = SlurmCluster()
    try:
        slurm.start()
        yield slurm
    finally:
        slurm.stop()


@pytest.fixture(scope="session")
def workdir(tmp_path_factory):
    """Submit directory of the jobs: NOT the checkout, so the scripts must find
    their way back to it by themselves."""
    return tmp_path_factory.mktemp("slurm-work")


@pytest.fixture(scope="session")
def dataset(workdir):
    """A tiny simulated, prepared dataset (3 known classes + 1 novel) in workdir."""
    rnngmm("simulate", "--output", "sim", "--n_per_class", 15, "--n_novel", 8,
           "--classes", ",".join(KNOWN), "--novel_classes", NOVEL,
           "--min_points", 40, "--max_points", 80, "--seed", 1, cwd=workdir)
    rnngmm("prepare", "--catalog", "sim/catalog.csv", "--lightcurves", "sim/lightcurves",
           "--format", "asassn", "--label_col", "class", "--period_col", "period",
           "--output", "data.h5", cwd=workdir)
    return workdir / "data.h5"
