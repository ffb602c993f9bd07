"""Fixtures shared by the whole test suite (keep small and generic)."""

import pytest

from helpers import REPO_ROOT, crts_dir


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
