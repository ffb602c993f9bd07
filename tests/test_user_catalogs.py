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
from rnngmm.io.readers import GAIA_ZERO_POINTS

pytestmark = pytest.mark.slow

N_GOOD = 6
ZTF_COLUMNS = ("oid,expid,hjd,mjd,mag,magerr,catflags,filtercode,ra,dec,chi,sharp,"
               "filefracday,field,ccdid,qid,limitmag,magzp,magzprms,clrcoeff,clrcounc,"
               "exptime,airmass,programid")


def sine(rng, n_points, period, start, mean, amplitude=0.4):
    """An irregularly sampled sinusoid over about 900 days."""
    time = start + np.sort(rng.uniform(0, 900, n_points))
    mag = mean + amplitude * np.sin(2 * np.pi * time / period) + rng.normal(0, 0.02, n_points)
    return time, mag, np.full(n_points, 0.02)


def write_ztf(path, curves):
    """One ZTF light-curve API CSV holding the ``(oid, band, time, mag, err)`` curves."""
    lines = [ZTF_COLUMNS]
    for oid, band, time, mag, err in curves:
        for t, m, e in zip(time, mag, err):
            lines.append(f"{oid},{int(t * 1e4)},{t + 2400000.5:.6f},{t:.6f},{m:.4f},{e:.4f},0,"
                         f"{band},150.1,2.2,1.1,0.01,{int(t * 1e4)},700,3,2,20.8,26.3,"
                         "0.03,0.1,0.01,30.0,1.1,1")
    path.write_text("\n".join(lines) + "\n")


def write_gaia(path, source_id, rng, period, bands=("G", "BP", "RP"), negative=False):
    """One source's flat Gaia DR3 epoch photometry as Parquet."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    time, mag, _ = sine(rng, 70, period, 1700.0, 15.0)
    rows = {"band": [], "time": [], "mag": [], "flux": []}
    for offset, band in enumerate(bands):
        flux = 10 ** ((GAIA_ZERO_POINTS[band] - mag - 0.3 * offset) / 2.5)
        if negative:
            flux = -flux
        rows["band"] += [band] * len(time)
        rows["time"] += list(time + 0.001 * offset)
        rows["mag"] += list(mag + 0.3 * offset)
        rows["flux"] += list(flux)
    n = len(rows["time"])
    flux = np.array(rows["flux"])
    rejected = np.zeros(n, bool)
    rejected[::17] = True
    pq.write_table(pa.table({
        "source_id": pa.array([source_id] * n, pa.int64()),
        "transit_id": pa.array(np.arange(n) + 10 ** 15, pa.int64()),
        "band": rows["band"], "time": rows["time"], "mag": rows["mag"], "flux": flux,
        "flux_error": np.abs(flux) * 0.02 * np.log(10) / 2.5,
        "flux_over_error": np.full(n, 54.0),
        "rejected_by_photometry": np.zeros(n, bool), "rejected_by_variability": rejected,
        "other_flags": pa.array(np.zeros(n), pa.int64()),
        "solution_id": pa.array([375316653866487564] * n, pa.int64())}), path)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """The three kinds of input, with one bad object each."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    root = tmp_path_factory.mktemp("user_catalogs")
    rng = np.random.default_rng(7)
    periods = rng.uniform(0.4, 4.0, N_GOOD)

    ztf = root / "ztf"
    ztf.mkdir()
    rows = ["id,ra,dec,period"]
    for k in range(N_GOOD):
        g = sine(rng, 60, periods[k], 58200.0, 15.5)
        r = sine(rng, 80, periods[k], 58200.0, 15.0)
        write_ztf(ztf / f"star{k}.csv", [(680000 + k, "zg", *g), (690000 + k, "zr", *r)])
        rows.append(f"star{k},150.1,2.2,{periods[k]:.6f}" if k % 2 else f"star{k},150.1,2.2,")
    write_ztf(ztf / "onlyg.csv", [(681000, "zg", *sine(rng, 60, 1.0, 58200.0, 15.5))])
    rows.append("onlyg,150.2,2.3,1.0")
    (root / "ztf_catalog.csv").write_text("\n".join(rows) + "\n")

    gaia = root / "gaia"
    gaia.mkdir()
    source_ids = [4111834567779557376 + 1000 * k for k in range(N_GOOD + 1)]
    for k, source_id in enumerate(source_ids):
        write_gaia(gaia / f"{source_id}.parquet", source_id, rng, periods[k % N_GOOD],
                   negative=k == N_GOOD)
    pq.write_table(pa.table({"source_id": pa.array(source_ids, pa.int64()),
                             "period": list(periods) + [None],
                             "phot_g_mean_mag": np.full(N_GOOD + 1, 15.0)}),
                   root / "gaia_catalog.parquet")

    table = {"star": [], "hjd": [], "flux": [], "flux_err": []}
    for k in range(N_GOOD):
        time, mag, err = sine(rng, 90, periods[k], 2457000.0, 14.0)
        flux = 10 ** ((25.0 - mag) / 2.5)
        table["star"] += [f"s{k:02d}"] * len(time)
        table["hjd"] += list(time)
        table["flux"] += list(flux)
        table["flux_err"] += list(flux * err * np.log(10) / 2.5)
    lines = ["star,hjd,flux,flux_err"] + [
        f"{s},{float(t)!r},{float(f)!r},{float(e)!r}" for s, t, f, e in zip(*table.values())]
    (root / "plain.csv").write_text("\n".join(lines) + "\n")
    pq.write_table(pa.table(table), root / "plain.parquet", row_group_size=200)
    (root / "plain_catalog.csv").write_text(
        "name,period\n" + "".join(f"s{k:02d},{periods[k]:.6f}\n" for k in range(N_GOOD))
        + "missing,1.0\n")
    return root


def prepare_and_flag(run_dir, root, name, flags, out_suffix=".ecsv", flag_extra=()):
    """Run ``rnngmm prepare`` and ``rnngmm flag`` with the same input flags."""
    dataset = root / f"{name}.h5"
    assert run_cli("prepare", *flags, "--output", dataset, "--quiet") == 0
    out = root / f"{name}_flags{out_suffix}"
    assert run_cli("flag", "--run_dir", run_dir, *flags, "--output", out,
                   "--progress_interval", "0", "--quiet", *flag_extra) == 0
    return dataset, read_table(str(out))


def test_ztf_csv_one_band(inputs, tiny_run_dir):
    flags = ("--catalog", inputs / "ztf_catalog.csv", "--lightcurves", inputs / "ztf",
             "--format", "ztf", "--band", "r", "--period_col", "period")
    dataset, table = prepare_and_flag(tiny_run_dir, inputs, "ztf", flags)
    with Dataset(dataset) as data:
        assert list(data.ids) == [f"star{k}" for k in range(N_GOOD)]
        assert all(data.lightcurve(i)[0].size == 80 for i in range(len(data)))  # zr only
    assert list(table["id"]) == [f"star{k}" for k in range(N_GOOD)] + ["onlyg"]
    assert list(table["status"][:N_GOOD]) == ["ok"] * N_GOOD
    assert table["status"][N_GOOD].startswith("no rows of band zr in column 'filtercode'")


def test_ztf_csv_with_two_bands_and_no_band_is_refused_per_file(inputs, tiny_run_dir):
    out = inputs / "ztf_noband.ecsv"
    assert run_cli("flag", "--run_dir", tiny_run_dir, "--catalog", inputs / "ztf_catalog.csv",
                   "--lightcurves", inputs / "ztf", "--format", "ztf", "--output", out,
                   "--progress_interval", "0", "--quiet") == 0
    status = list(read_table(str(out))["status"])
    refused = ("light curve has bands zg, zr in column 'filtercode': choose one with --band")
    assert status[:N_GOOD] == [refused] * N_GOOD
    assert status[N_GOOD] == "ok"  # one band only: nothing to choose


def test_gaia_dr3_epoch_photometry_folder(inputs, tiny_run_dir):
    flags = ("--catalog", inputs / "gaia_catalog.parquet", "--lightcurves", inputs / "gaia",
             "--format", "gaia", "--band", "G", "--id_col", "source_id",
             "--period_col", "period")
    dataset, table = prepare_and_flag(tiny_run_dir, inputs, "gaia", flags,
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


def test_plain_csv_long_table_and_its_parquet_read_per_shard(inputs, tiny_run_dir,
                                                              monkeypatch):
    from rnngmm.io import readers
    common = ("--catalog", inputs / "plain_catalog.csv", "--format", "table",
              "--id_col", "name", "--lc_id_col", "star", "--time_col", "hjd",
              "--flux_col", "flux", "--flux_err_col", "flux_err", "--zero_point", "25",
              "--period_col", "period")
    dataset, table = prepare_and_flag(tiny_run_dir, inputs, "plain",
                                      common + ("--lightcurves", inputs / "plain.csv"))
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
        tiny_run_dir, inputs, "plain_parquet",
        common + ("--lightcurves", inputs / "plain.parquet"),
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
def test_bad_input_flags_stop_before_work(inputs, tiny_run_dir,
                                          capsys, extra, message):
    base = ("--catalog", inputs / "plain_catalog.csv", "--lightcurves", inputs / "plain.csv")
    assert run_cli("prepare", *base, *extra, "--output", inputs / "never.h5") != 0
    assert message in capsys.readouterr().err
    assert run_cli("flag", "--run_dir", tiny_run_dir, *base, *extra,
                   "--output", inputs / "never.ecsv") != 0
    assert message in capsys.readouterr().err
    assert not (inputs / "never.h5").exists() and not (inputs / "never.ecsv").exists()
