"""Inputs people have (issue 15.2): a ZTF light-curve CSV per star, a folder of
Gaia DR3 epoch photometry in Parquet, and a plain CSV long table (also as
Parquet, read per shard), each through ``rnngmm prepare`` and ``rnngmm flag``.

The files have the real shapes: the columns of the IRSA ZTF light-curve API
(``oid, expid, hjd, mjd, mag, magerr, catflags, filtercode, ...``, g and r rows
in one file) and of Gaia's flat (INDIVIDUAL/COMBINED) epoch photometry
(``source_id, transit_id, band, time, mag, flux, flux_error, ...``).
"""

import numpy as np
import pytest

from helpers import run_cli
from rnngmm.flagging.table import read_table
from rnngmm.io.dataset import Dataset
from user_catalog_files import N_GOOD

pytestmark = pytest.mark.slow

def prepare_and_flag(run_dir, root, name, flags, out_suffix=".ecsv", flag_extra=()):
    """Run ``rnngmm prepare`` and ``rnngmm flag`` with the same input flags."""
    dataset = root / f"{name}.h5"
    assert run_cli("prepare", *flags, "--output", dataset, "--quiet") == 0
    out = root / f"{name}_flags{out_suffix}"
    assert run_cli("flag", "--run_dir", run_dir, *flags, "--output", out,
                   "--progress_interval", "0", "--quiet", *flag_extra) == 0
    return dataset, read_table(str(out))


def test_ztf_csv_one_band(user_catalogs, tiny_run_dir):
    flags = ("--catalog", user_catalogs / "ztf_catalog.csv", "--lightcurves", user_catalogs / "ztf",
             "--format", "ztf", "--band", "r", "--period_col", "period")
    dataset, table = prepare_and_flag(tiny_run_dir, user_catalogs, "ztf", flags)
    with Dataset(dataset) as data:
        assert list(data.ids) == [f"star{k}" for k in range(N_GOOD)]
        assert all(data.lightcurve(i)[0].size == 80 for i in range(len(data)))  # zr only
    assert list(table["id"]) == [f"star{k}" for k in range(N_GOOD)] + ["onlyg"]
    assert list(table["status"][:N_GOOD]) == ["ok"] * N_GOOD
    assert table["status"][N_GOOD].startswith("no rows of band zr in column 'filtercode'")


def test_ztf_csv_with_two_bands_and_no_band_is_refused_per_file(user_catalogs, tiny_run_dir):
    out = user_catalogs / "ztf_noband.ecsv"
    assert run_cli("flag", "--run_dir", tiny_run_dir, "--catalog", user_catalogs / "ztf_catalog.csv",
                   "--lightcurves", user_catalogs / "ztf", "--format", "ztf", "--output", out,
                   "--progress_interval", "0", "--quiet") == 0
    status = list(read_table(str(out))["status"])
    refused = ("light curve has bands zg, zr in column 'filtercode': choose one with --band")
    assert status[:N_GOOD] == [refused] * N_GOOD
    assert status[N_GOOD] == "ok"  # one band only: nothing to choose


def test_gaia_dr3_epoch_photometry_folder(user_catalogs, tiny_run_dir):
    flags = ("--catalog", user_catalogs / "gaia_catalog.parquet", "--lightcurves", user_catalogs / "gaia",
             "--format", "gaia", "--band", "G", "--id_col", "source_id",
             "--period_col", "period")
    dataset, table = prepare_and_flag(tiny_run_dir, user_catalogs, "gaia", flags,
                                      flag_extra=("--pass_through", "phot_g_mean_mag"))
    ids = [str(4111834567779557376 + 1000 * k) for k in range(N_GOOD + 1)]
    with Dataset(dataset) as data:
        assert list(data.ids) == ids[:N_GOOD]
        time, mag, _ = data.lightcurve(0)
        assert time.size == 70 - len(range(0, 70, 17))  # G rows less the rejected ones
        assert abs(np.median(mag) - 15.0) < 0.2  # fluxes back to G magnitudes
    assert list(table["source_id"]) == ids
    assert list(table["status"][:N_GOOD]) == ["ok"] * N_GOOD
    assert table["status"][N_GOOD] != "ok"  # every flux negative: no points left
    assert np.all(np.asarray(table["phot_g_mean_mag"]) == 15.0)


def test_plain_csv_long_table_and_its_parquet_read_per_shard(user_catalogs, tiny_run_dir,
                                                              monkeypatch):
    from rnngmm.io import table_objects as readers  # where the long table is read
    common = ("--catalog", user_catalogs / "plain_catalog.csv", "--format", "table",
              "--id_col", "name", "--lc_id_col", "star", "--time_col", "hjd",
              "--flux_col", "flux", "--flux_err_col", "flux_err", "--zero_point", "25",
              "--period_col", "period")
    dataset, table = prepare_and_flag(tiny_run_dir, user_catalogs, "plain",
                                      common + ("--lightcurves", user_catalogs / "plain.csv"))
    with Dataset(dataset) as data:
        assert len(data) == N_GOOD
    assert list(table["name"]) == [f"s{k:02d}" for k in range(N_GOOD)] + ["missing"]
    assert list(table["status"][:N_GOOD]) == ["ok"] * N_GOOD
    assert table["status"][N_GOOD] == "no rows in the light-curve table"

    reads = []
    real = readers._read_parquet

    def spy(source, columns=None, filters=None):
        result = real(source, columns=columns, filters=filters)
        reads.append((filters, result.num_rows))
        return result
    monkeypatch.setattr(readers, "_read_parquet", spy)
    _, from_parquet = prepare_and_flag(
        tiny_run_dir, user_catalogs, "plain_parquet",
        common + ("--lightcurves", user_catalogs / "plain.parquet"),
        flag_extra=("--shard_objects", "3"))
    # prepare (one rank) reads its ids; flag reads each shard's ids only
    assert [f[0][2] for f, _ in reads] == [
        [f"s{k:02d}" for k in range(N_GOOD)] + ["missing"],
        ["s00", "s01", "s02"], ["s03", "s04", "s05"], ["missing"]]
    assert [n for _, n in reads[1:]] == [270, 270, 0]
    assert list(from_parquet["status"]) == list(table["status"])
    np.testing.assert_array_equal(np.asarray(from_parquet["energy"], float),
                                  np.asarray(table["energy"], float))


@pytest.mark.parametrize("extra, message", [
    (("--format", "crts", "--band", "V"), "--band cannot be used here"),
    (("--format", "table", "--flux_col", "flux"), "--flux_col and --flux_err_col go together"),
    (("--format", "table", "--flux_col", "f", "--flux_err_col", "e"),
     "--flux_col needs --zero_point"),
    (("--format", "gaia"), "--format gaia needs --band G, BP or RP"),
])
def test_bad_input_flags_stop_before_work(user_catalogs, tiny_run_dir,
                                          capsys, extra, message):
    base = ("--catalog", user_catalogs / "plain_catalog.csv", "--lightcurves", user_catalogs / "plain.csv")
    assert run_cli("prepare", *base, *extra, "--output", user_catalogs / "never.h5") != 0
    assert message in capsys.readouterr().err
    assert run_cli("flag", "--run_dir", tiny_run_dir, *base, *extra,
                   "--output", user_catalogs / "never.ecsv") != 0
    assert message in capsys.readouterr().err
    assert not (user_catalogs / "never.h5").exists() and not (user_catalogs / "never.ecsv").exists()
