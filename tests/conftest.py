"""Fixtures shared by the whole test suite, and the hypothesis profiles.

Test modules just name these fixtures; nothing needs importing. Helper
functions and constants stay in the helper modules (``helpers.py``,
``fixtures_runs.py``, ``flagging_helpers.py``, ...).

Hypothesis: the ``ci`` profile (the default) is derandomised, so a failing
fuzz case fails again on the next run and on every machine;
``HYPOTHESIS_PROFILE=dev`` explores new random cases on each run (a failure
prints the ``@reproduce_failure`` blob that replays it).
"""

import os

import pytest
from hypothesis import settings

from fixtures_runs import TINY_NOVEL_CLASS, TINY_TRAIN_FLAGS
from flagging_helpers import EXTRA_ROWS
from helpers import REPO_ROOT, crts_dir, run_cli
from user_catalog_files import write_user_catalogs

settings.register_profile("ci", derandomize=True, print_blob=True, deadline=None,
                          database=None)
settings.register_profile("dev", derandomize=False, print_blob=True, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

#: Fixtures that train (or reuse a training of) a model: a test naming one is slow.
TRAINING_FIXTURES = {"tiny_run_dir"}


def pytest_collection_modifyitems(items):
    """Safety net for ``make test-fast``: a test that uses a training fixture
    or runs under mpirun/SLURM is ``slow`` even where its module forgot the
    mark (mark such tests explicitly all the same)."""
    for item in items:
        if (TRAINING_FIXTURES.intersection(getattr(item, "fixturenames", ()))
                or item.get_closest_marker("mpi") or item.get_closest_marker("slurm")):
            if item.get_closest_marker("slow") is None:
                item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def repo_root():
    """The repository root (a Path)."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def small_sample(tmp_path_factory):
    """A tiny simulated ASAS-SN-like sample: dir with ``catalog.csv`` and
    ``lightcurves/<id>.csv`` (8 known classes x 6 + 4 RCB, seed 11)."""
    from rnngmm.simulate import simulate_sample, write_sample
    directory = tmp_path_factory.mktemp("small_sample")
    write_sample(simulate_sample(6, 4, seed=11), directory)
    return directory


@pytest.fixture(scope="session")
def small_dataset(small_sample, tmp_path_factory):
    """``small_sample`` prepared into an HDF5 dataset (V band, catalog periods)."""
    from rnngmm.prepare import PrepareConfig, prepare
    out = tmp_path_factory.mktemp("small_dataset") / "dataset.h5"
    prepare(PrepareConfig(catalog=str(small_sample / "catalog.csv"),
                          lightcurves=str(small_sample / "lightcurves"), output=str(out),
                          format="asassn", label_col="class", period_col="period",
                          reader_options={"filter": "V"}), log=lambda *a: None)
    return out


@pytest.fixture(scope="session")
def crts_path():
    """Path of the real CRTS data folder; skips (with the reason) when absent."""
    path = crts_dir()
    if not (path / "catalog.csv").is_file():
        pytest.skip(f"real CRTS data not found at {path} (set RNNGMM_CRTS_DIR)")
    return path


@pytest.fixture(scope="session")
def tiny_run_dir(small_dataset, tmp_path_factory):
    """Run directory of a tiny model trained once per test session.

    The real ``rnngmm train`` command, in-process, on ``small_dataset``:
    config ``tiny`` (GRU 8 units, embedding 4, chunks of 32 points), one
    joint epoch, ``TINY_NOVEL_CLASS`` (RCB) held out as the novel class
    (flags: ``fixtures_runs.TINY_TRAIN_FLAGS``). The directory holds
    ``config.json``, ``split.json``, ``model.keras``, ``gmm.h5``. Treat it as
    read-only; write scoring outputs under a distinct ``--output``. Training
    takes about 15 s on 2 cores; tests using it are marked ``slow``.
    """
    log_dir = tmp_path_factory.mktemp("tiny_run_logs")
    code = run_cli("train", "--data", small_dataset, *TINY_TRAIN_FLAGS,
                   "--novel_classes", TINY_NOVEL_CLASS, "--log_dir", log_dir,
                   "--sim_type", "test", "--run_name", "tiny")
    assert code == 0, f"rnngmm train of the tiny test model failed with exit code {code}"
    run_dir = log_dir / "test" / "tiny"
    for name in ("config.json", "split.json", "model.keras", "gmm.h5"):
        assert (run_dir / name).exists(), f"tiny run lacks {name}"
    return run_dir


@pytest.fixture(scope="module")
def new_catalog(small_sample, tmp_path_factory):
    """The simulated sample as a "new catalog", with a missing file, an unsafe
    id and a duplicated id mixed in (``flagging_helpers.EXTRA_ROWS``).
    Returns (catalog path, light-curve dir, ids)."""
    lines = (small_sample / "catalog.csv").read_text().strip().splitlines()
    header, rows = lines[0], lines[1:]
    width = len(header.split(","))
    for k, (object_id, _) in enumerate(EXTRA_ROWS):
        filler = [""] * (width - 1)
        rows.insert(3 + 5 * k, ",".join([object_id, *filler]))
    rows.append(rows[0])
    path = tmp_path_factory.mktemp("new_catalog") / "catalog.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    ids = [r.split(",")[0] for r in rows]
    return path, small_sample / "lightcurves", ids


@pytest.fixture(scope="module")
def user_catalogs(tmp_path_factory):
    """ZTF, Gaia DR3 and plain-table inputs of the real shapes, one bad object
    each (:func:`user_catalog_files.write_user_catalogs`); one folder per test
    module, which may write its outputs next to them."""
    return write_user_catalogs(tmp_path_factory.mktemp("user_catalogs"))
