"""Real CRTS light curves (../shared/data/crts or RNNGMM_CRTS_DIR), when present."""

import tarfile

import numpy as np
import pytest
from astropy.table import Table

from rnngmm.io.dataset import Dataset
from rnngmm.io.readers import read_lightcurve
from rnngmm.lightcurves.periods import lomb_scargle_period
from rnngmm.prepare import PrepareConfig, prepare
from rnngmm.lightcurves.preprocess import clean

pytestmark = pytest.mark.crts
N_OBJECTS = 40


@pytest.fixture(scope="module")
def crts_subset(crts_path, tmp_path_factory):
    """The first N_OBJECTS catalog rows and their files, extracted from the archive."""
    directory = tmp_path_factory.mktemp("crts")
    lines = (crts_path / "catalog.csv").read_text().splitlines()[:N_OBJECTS + 1]
    (directory / "catalog.csv").write_text("\n".join(lines) + "\n")
    wanted = {f"lightcurves/{line.split(',')[0]}.dat" for line in lines[1:]}
    lc_dir = directory / "lightcurves"
    lc_dir.mkdir()
    with tarfile.open(crts_path / "lightcurves.tar.xz") as archive:
        for member in archive:
            if member.name in wanted and member.isfile():
                (lc_dir / member.name.split("/")[-1]).write_bytes(
                    archive.extractfile(member).read())
                wanted.discard(member.name)
                if not wanted:
                    break
    assert not wanted, f"missing in the archive: {sorted(wanted)[:3]}"
    return directory


def test_real_files_read_and_clean(crts_subset):
    n_duplicates = 0
    for path in sorted((crts_subset / "lightcurves").iterdir()):
        time, mag, err = read_lightcurve(path, "crts")
        assert time.dtype == np.float64 and time.min() > 50000
        t, m, e, dropped = clean(time, mag, err)
        assert np.all(np.diff(t) > 0)
        n_duplicates += dropped.get("duplicate epoch", 0)
    assert n_duplicates > 0  # the real files do hold duplicate epochs


def test_prepare_real_subset_and_recover_catalog_periods(crts_subset, tmp_path):
    out = tmp_path / "crts.h5"
    result = prepare(PrepareConfig(catalog=str(crts_subset / "catalog.csv"),
                                   lightcurves=str(crts_subset / "lightcurves"),
                                   output=str(out), format="crts", label_col="class",
                                   period_col="period", extra_cols=("amp",)),
                     log=lambda *a: None)
    assert result.n_input == N_OBJECTS
    catalog = Table.read(crts_subset / "catalog.csv", format="ascii.csv")
    agree = 0
    with Dataset(out) as d:
        assert result.n_kept == len(d) >= N_OBJECTS - 2
        for i in range(len(d)):
            period, _ = lomb_scargle_period(*d.lightcurve(i))
            ratio = period / d.periods[i]
            agree += min(abs(ratio - k) for k in (1, 0.5, 2)) < 0.01
    # Survey periods come from a different search; most still agree (aliases aside).
    assert agree >= 0.6 * len(catalog)
