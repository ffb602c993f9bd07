"""Stars of several bands scored by a real run end to end: flag's streaming path
(real HDF5 shards), the Python API (a table with a band column) and the report.

The simulated ASAS-SN sample holds V and g for every star; the tiny run learned V.
"""

import numpy as np
import pytest
from astropy.table import Table, vstack

from flagging_helpers import MemorySource
from rnngmm.dist import Dist
from rnngmm.errors import InputError
from rnngmm.flagging.driver import FlagJob, run_flagging
from rnngmm.flagging.scorer import ModelScorer
from rnngmm.flagging.sources import BandedRecord, ObjectRecord
from rnngmm.flagging.table import read_table
from rnngmm.io.readers import read_lightcurve

pytestmark = pytest.mark.slow

BANDS = ("V", "g")
N_STARS = 6


def sample_stars(small_sample, n=N_STARS):
    """``[(id, period, {band: (time, mag, err)})]`` of the first ``n`` simulated
    stars with at least 30 g points (some have none)."""
    catalog = Table.read(small_sample / "catalog.csv")
    stars = []
    for object_id, period in zip(catalog["id"], catalog["period"]):
        path = small_sample / "lightcurves" / f"{object_id}.csv"
        bands = {b: read_lightcurve(path, "asassn", filter=b) for b in BANDS}
        if len(bands["g"][0]) >= 30:
            stars.append((str(object_id), float(period), bands))
        if len(stars) == n:
            return stars
    raise AssertionError(f"the sample has fewer than {n} stars with 30 g points")


def StarSource(records, bands=BANDS):
    """An in-memory flag source of ``records`` named star0, star1, ..."""
    return MemorySource([f"star{i}" for i in range(len(records))], records, bands)


def banded_records(stars):
    records = [BandedRecord(dict(bands), {}, period, "catalog") for _, period, bands in stars]
    # one star without its g band, one whose g band is too short to score
    _, period, bands = stars[1]
    records[1] = BandedRecord({"V": bands["V"]}, {"g": "light-curve file not found"},
                              period, "catalog")
    _, period, bands = stars[2]
    records[2] = BandedRecord({"V": bands["V"], "g": tuple(a[:5] for a in bands["g"])}, {},
                              period, "catalog")
    return records


def flag(run, source, out, **options):
    job = FlagJob(source=source, scorer=ModelScorer(run.model, run.novelty, 256),
                  novelty=run.novelty, class_names=[str(c) for c in run.class_names],
                  preprocessing=run.preprocessing, chunking=run.chunking, out=str(out),
                  run_id=str(run.run_id), batch_objects=2, shard_objects=4,
                  progress_interval=0.0, **options)
    return run_flagging(job, Dist())


@pytest.fixture(scope="module")
def run(tiny_run_dir):
    import rnngmm
    return rnngmm.load_run(tiny_run_dir)


@pytest.fixture(scope="module")
def stars(small_sample):
    return sample_stars(small_sample)


@pytest.fixture(scope="module")
def flagged(run, stars, tmp_path_factory):
    out = tmp_path_factory.mktemp("bands_model") / "flags.h5"
    flag(run, StarSource(banded_records(stars)), out, keep_table=False)
    return read_table(out)


def test_flag_gives_one_row_per_star_from_real_shards(flagged):
    table = flagged
    assert len(table) == N_STARS
    assert list(table["status"]) == ["ok"] * N_STARS
    assert list(table["bands_used"]) == ["V,g", "V", "V", "V,g", "V,g", "V,g"]
    assert table["bands_missing"][1] == "g: light-curve file not found"
    assert table["bands_missing"][2].startswith("g: too few points (5 < min_points=")
    for name in ("predicted_class_V", "predicted_class_g", "energy_percentile_V",
                 "energy_percentile_g", "n_points_V", "n_points_g", "colour_V_g"):
        assert name in table.colnames
    both = np.asarray(table["bands_used"]) == "V,g"
    assert np.all(np.isfinite(np.asarray(table["energy_percentile_g"])[both]))
    assert np.all(np.isnan(np.asarray(table["energy_percentile_g"])[~both]))
    n_points = np.asarray(table["n_points_V"]) + np.asarray(table["n_points_g"])
    np.testing.assert_array_equal(np.asarray(table["n_points"]), n_points)
    # the simulator's g - V colours are real colours: finite where both bands scored
    assert np.all(np.isfinite(np.asarray(table["colour_V_g"])[both]))


def test_one_band_read_as_a_banded_star_scores_as_that_band_alone(run, stars, tmp_path):
    """A star of several bands whose only usable band is V gets V's own result:
    the several-band path cleans, periods and chunks a band as the one-band path."""
    records = [BandedRecord({"V": bands["V"]}, {"g": "not read"}, period, "catalog")
               for _, period, bands in stars[:3]]
    banded = flag(run, StarSource(records), tmp_path / "banded.ecsv")
    single = flag(run, StarSource([ObjectRecord(*bands["V"], period, "catalog")
                                   for _, period, bands in stars[:3]], bands=None),
                  tmp_path / "single.ecsv")
    for name in single.colnames:
        a, b = np.asarray(single[name]), np.asarray(banded[name])
        if a.dtype.kind == "f":
            np.testing.assert_allclose(b, a, rtol=1e-6, equal_nan=True, err_msg=name)
        else:
            assert list(a) == list(b), name
    np.testing.assert_allclose(np.asarray(banded["energy_percentile_V"]),
                               np.asarray(single["energy_percentile"]), rtol=1e-6)
    assert list(banded["predicted_class_V"]) == list(single["predicted_class"])


def band_table(stars):
    """One long table of every star's V and g rows with a band column."""
    parts = []
    for object_id, period, bands in stars:
        for band, (time, mag, err) in bands.items():
            parts.append(Table({"id": [object_id] * len(time), "time": time, "mag": mag,
                                "err": err, "band": [band] * len(time),
                                "period": [period] * len(time)}))
    return vstack(parts)


def test_api_refuses_a_table_of_several_bands_without_band(run, stars):
    with pytest.raises(InputError, match="several bands in column 'band'.*band="):
        run.predict(band_table(stars[:2]))
    with pytest.raises(InputError, match="no band column"):
        run.predict(band_table(stars[:2])["id", "time", "mag", "err"], band="V")


def test_api_band_picks_one_band_or_scores_several_per_star(run, stars):
    table = band_table(stars[:3])
    only_v = run.predict(table, band="V")
    v_rows = table[table["band"] == "V"]
    v_rows.remove_column("band")
    np.testing.assert_allclose(np.asarray(only_v["energy"]),
                               np.asarray(run.predict(v_rows)["energy"]), rtol=1e-6)
    several = run.predict(table, band=("V", "g"))
    assert list(several["id"]) == [s[0] for s in stars[:3]]
    assert list(several["bands_used"]) == ["V,g"] * 3
    assert {"predicted_class_g", "energy_percentile_V", "colour_V_g"} <= set(several.colnames)
    assert several["colour_V_g"].description.startswith("colour V-g")
    codes = run.embed(table, band=("V", "g"))
    assert codes.shape[0] == 3 and np.isfinite(codes).all()
    # an id without rows of the picked band keeps its row, saying why
    g_only = table[~((table["id"] == stars[0][0]) & (table["band"] == "V"))]
    picked = run.predict(g_only, band="V")
    assert list(picked["id"]) == [s[0] for s in stars[:3]]
    assert picked["status"][0] == "no band usable (V: no rows of band V)"


def test_report_shows_each_bands_light_curve_and_reconstruction(run, stars, flagged,
                                                                tmp_path):
    from rnngmm.report.figures import table_info
    from rnngmm.report.job import collect_objects, write_report
    source = StarSource(banded_records(stars))
    source.ids = np.asarray(flagged["id"]).astype(object)
    objects = collect_objects(flagged, [0, 1], run, source=source, k=0)
    first, second = objects
    assert list(first.bands) == ["V", "g"]
    assert all(curve.reconstruction for curve in first.bands.values())
    assert list(second.bands) == ["V"]
    assert any("band g not shown" in note for note in second.notes)
    info = table_info(flagged)
    assert info["bands"] == ["V", "g"] and "colour_V_g" not in info["other"]
    paths = write_report(objects, tmp_path / "report.png", list(run.class_names), info)
    assert (tmp_path / "report.png").stat().st_size > 0 and len(paths) == 1


def test_api_takes_banded_records_in_a_list(run, stars):
    """As ``rnngmm similar --band V g`` embeds a file: a list mixing stars of
    several bands and one-band light curves."""
    _, period, bands = stars[0]
    star = BandedRecord(dict(bands), {}, period, "catalog")
    codes = run.embed([star, (*bands["V"], period)])
    assert codes.shape[0] == 2 and np.isfinite(codes).all()
    table = run.predict([star], ids=["s"])
    assert table["bands_used"][0] == "V,g" and table["predicted_class_V"][0] != ""
