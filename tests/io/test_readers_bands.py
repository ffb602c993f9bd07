"""Several bands of one star (issue 25): ZTF g+r, Gaia G/BP/RP and ASAS-SN V+g
read as the archives deliver them, one file holding every band or one file
per band; missing and empty bands; per-band zero points; bad options."""

import pickle
import re

import numpy as np
import pytest

from band_files import (MEANS, write_asassn, write_gaia_flat, write_gaia_raw,
                        write_irsa_ipac, write_ztf_star, ztf_table)
from rnngmm.errors import BadLightCurve, InputError
from rnngmm.io.band_readers import BandedLightCurve, read_lightcurve_bands
from rnngmm.io.readers import (GAIA_ZERO_POINTS, check_reader_options, check_template,
                               locate_band_files, locate_lightcurve, read_lightcurve)
from rnngmm.io.table_objects import read_table_objects


def assert_band(curve, n, band):
    time, mag, err = curve
    assert len(time) == len(mag) == len(err) == n
    assert time.dtype == mag.dtype == err.dtype == np.float64
    assert abs(np.mean(mag) - MEANS[band]) < 0.2


# --- ZTF: IRSA's IPAC tables, one per band, and its CSV of both bands ----------------

def test_ztf_ipac_table_per_band_found_by_the_band_field(tmp_path):
    write_ztf_star(tmp_path, "ztf1", 633210100012345, {"zg": 9, "zr": 14})
    files = locate_band_files(tmp_path, "ztf1", "{id}_{band}.tbl", ("g", "r"))
    assert list(files) == ["g", "r"] and files.missing == {}
    assert files["r"] == str((tmp_path / "ztf1_r.tbl").resolve())
    counts = {}
    curve = read_lightcurve_bands(files, "ztf", ["g", "r"], counts)
    assert isinstance(curve, BandedLightCurve) and list(curve) == ["g", "r"]
    assert curve.missing == {} and counts == {}
    assert_band(curve["g"], 9, "zg")
    assert_band(curve["r"], 14, "zr")
    # the asked-for order is kept, whatever the files' order
    assert list(read_lightcurve_bands(files, "ztf", ["r", "g"])) == ["r", "g"]


def test_ztf_csv_holding_both_bands(tmp_path):
    write_ztf_star(tmp_path, "ztf2", 7, {"zg": 11, "zr": 13, "zi": 3}, shape="csv")
    counts = {}
    curve = read_lightcurve_bands(tmp_path / "ztf2.csv", "ztf", ("g", "r"), counts)
    assert list(curve) == ["g", "r"] and curve.missing == {}
    assert_band(curve["g"], 11, "zg")
    assert_band(curve["r"], 13, "zr")
    assert counts == {"other band": 3}  # the zi rows, once; not each band's other rows
    # filtercodes work as names too, and a single band reads exactly as before
    assert list(read_lightcurve_bands(tmp_path / "ztf2.csv", "ztf", ("zg", "zr"))) == \
        ["zg", "zr"]
    time, _, _ = read_lightcurve(tmp_path / "ztf2.csv", "ztf", band="r")
    np.testing.assert_array_equal(time, curve["r"][0])


def test_ztf_csv_without_a_band_is_scored_from_the_other(tmp_path):
    write_ztf_star(tmp_path, "ztf3", 8, {"zg": 12}, shape="csv")
    curve = read_lightcurve_bands(tmp_path / "ztf3.csv", "ztf", ("g", "r"))
    assert list(curve) == ["g"]
    assert curve.missing == {"r": "no rows of band zr in column 'filtercode' "
                                  "(bands found: zg)"}


def test_missing_band_file_and_band_with_no_rows(tmp_path):
    # s1 has no r file at all; s2's r table is IRSA's answer for no data: a header only
    write_ztf_star(tmp_path, "s1", 1, {"zg": 10, "zr": None})
    write_ztf_star(tmp_path, "s2", 2, {"zg": 10, "zr": 0})
    files = locate_band_files(tmp_path, "s1", "{id}_{band}.tbl", ("g", "r"))
    assert list(files) == ["g"]
    assert files.missing == {"r": "light-curve file not found (s1_r.tbl)"}
    curve = read_lightcurve_bands(files, "ztf", ("g", "r"))
    assert list(curve) == ["g"]
    assert curve.missing == {"r": "light-curve file not found (s1_r.tbl)"}
    files = locate_band_files(tmp_path, "s2", "{id}_{band}.tbl", ("g", "r"))
    curve = read_lightcurve_bands(files, "ztf", ("g", "r"))
    assert list(curve) == ["g"] and curve.missing == {"r": "empty table"}


def test_no_band_usable_names_each_bands_problem(tmp_path):
    write_irsa_ipac(tmp_path / "s3_r.tbl", ztf_table(3, "zr", 0))
    files = locate_band_files(tmp_path, "s3", "{id}_{band}.tbl", ("g", "r"))
    message = "no band usable (g: light-curve file not found (s3_g.tbl); r: empty table)"
    with pytest.raises(BadLightCurve, match=re.escape(message)):
        read_lightcurve_bands(files, "ztf", ("g", "r"))
    # bands with the same problem are named together
    files = locate_band_files(tmp_path, "nobody", "{id}_{band}.tbl", ("g", "r"))
    with pytest.raises(BadLightCurve, match=re.escape(
            "no band usable (g: light-curve file not found (nobody_g.tbl); "
            "r: light-curve file not found (nobody_r.tbl))")):
        read_lightcurve_bands(files, "ztf", ("g", "r"))
    write_ztf_star(tmp_path, "s4", 4, {"zi": 5}, shape="csv")
    with pytest.raises(BadLightCurve, match=r"no band usable \(g: no rows of band zg .*; "
                                            r"r: no rows of band zr"):
        read_lightcurve_bands(tmp_path / "s4.csv", "ztf", ("g", "r"))


def test_band_column_of_a_per_band_file_is_checked(tmp_path):
    from astropy.table import vstack
    # an r file that also holds g rows: those are dropped and counted
    mixed = vstack([ztf_table(5, "zr", 6), ztf_table(5, "zg", 4)])
    write_irsa_ipac(tmp_path / "s5_r.tbl", mixed)
    write_irsa_ipac(tmp_path / "s5_g.tbl", ztf_table(5, "zg", 7))
    files = locate_band_files(tmp_path, "s5", "{id}_{band}.tbl", ("g", "r"))
    counts = {}
    curve = read_lightcurve_bands(files, "ztf", ("g", "r"), counts)
    assert_band(curve["r"], 6, "zr")
    assert curve.dropped == {"r": {"other band": 4}} and counts == {"other band": 4}
    # a "g" file holding r rows only is no g band
    write_irsa_ipac(tmp_path / "s6_g.tbl", ztf_table(6, "zr", 7))
    write_irsa_ipac(tmp_path / "s6_r.tbl", ztf_table(6, "zr", 7))
    files = locate_band_files(tmp_path, "s6", "{id}_{band}.tbl", ("g", "r"))
    curve = read_lightcurve_bands(files, "ztf", ("g", "r"))
    assert list(curve) == ["r"]
    assert curve.missing == {"g": "no rows of band zg in column 'filtercode' "
                                  "(bands found: zr)"}


def test_per_band_files_without_a_band_column_are_their_band(tmp_path):
    for band, n in (("g", 5), ("r", 7)):
        lines = "".join(f"{58300 + k},{MEANS['z' + band]},0.02\n" for k in range(n))
        (tmp_path / f"s7_{band}.csv").write_text("mjd,mag,magerr\n" + lines)
    files = locate_band_files(tmp_path, "s7", "{id}_{band}.csv", ("g", "r"))
    curve = read_lightcurve_bands(files, "ztf", ("g", "r"))
    assert [len(curve[b][0]) for b in curve] == [5, 7]
    curve = read_lightcurve_bands(files, "table", ("g", "r"), time_col="mjd",
                                  err_col="magerr")
    assert [len(curve[b][0]) for b in curve] == [5, 7]


def test_a_table_of_several_bands_needs_a_band_column(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("time,mag,err\n1,2,0.1\n")
    with pytest.raises(BadLightCurve, match=re.escape(
            "--band g r given but the table has no band column")):
        read_lightcurve_bands(path, "table", ("g", "r"))
    path.write_text("time,mag,err,passband\n1,15,0.1,u\n2,14,0.1,g\n3,14.5,0.1,g\n")
    curve = read_lightcurve_bands(path, "table", ("u", "g"))
    assert [len(curve[b][0]) for b in curve] == [1, 2]


# --- Gaia: flat and RAW epoch photometry, per-band zero points ------------------------

def test_gaia_flat_G_BP_RP_with_each_bands_zero_point(tmp_path):
    path = tmp_path / "4111834567779557376.parquet"
    write_gaia_flat(path, 4111834567779557376, n=12)
    counts = {}
    curve = read_lightcurve_bands(path, "gaia", ("G", "BP", "RP"), counts)
    assert list(curve) == ["G", "BP", "RP"] and curve.missing == {}
    for band in curve:  # each band's own Vega zero point gives Gaia's magnitudes back
        k = np.arange(12)[1:] if band == "BP" else np.arange(12)
        np.testing.assert_allclose(curve[band][1], MEANS[band] + 0.2 * np.sin(k))
    assert len(curve["BP"][0]) == 11
    assert counts == {"flagged rejected_by_variability": 1}
    assert curve.dropped == {"BP": {"flagged rejected_by_variability": 1}}
    # band names as given (lower case) are kept as keys
    assert list(read_lightcurve_bands(path, "gaia", ("bp", "rp"))) == ["bp", "rp"]


def test_gaia_zero_points_one_for_all_or_one_per_band(tmp_path):
    path = tmp_path / "1.parquet"
    write_gaia_flat(path, 1, n=5)
    default = read_lightcurve_bands(path, "gaia", ("G", "RP"))
    shifted = read_lightcurve_bands(path, "gaia", ("G", "RP"), zero_point=(26.0, 25.0))
    np.testing.assert_allclose(shifted["G"][1] - default["G"][1], 26.0 - GAIA_ZERO_POINTS["G"])
    np.testing.assert_allclose(shifted["RP"][1] - default["RP"][1],
                               25.0 - GAIA_ZERO_POINTS["RP"])
    same = read_lightcurve_bands(path, "gaia", ("G", "RP"), zero_point=25.0)
    np.testing.assert_allclose(same["RP"][1] - default["RP"][1],
                               25.0 - GAIA_ZERO_POINTS["RP"])
    with pytest.raises(InputError, match=re.escape(
            "--zero_point takes one value (used for every band) or one value per band: "
            "got 2 values for 3 bands (G BP RP)")):
        read_lightcurve_bands(path, "gaia", ("G", "BP", "RP"), zero_point=[25.0, 26.0])


def test_gaia_raw_arrays_of_several_bands(tmp_path):
    write_gaia_raw(tmp_path / "9.parquet", 9, n=10)
    curve = read_lightcurve_bands(tmp_path / "9.parquet", "gaia", ("G", "BP", "RP"))
    for band in ("G", "BP", "RP"):
        assert_band(curve[band], 10, band)
    write_gaia_raw(tmp_path / "8.parquet", 8, n=10, bands=("G", "RP"))
    curve = read_lightcurve_bands(tmp_path / "8.parquet", "gaia", ("G", "BP", "RP"))
    assert list(curve) == ["G", "RP"]
    assert curve.missing["BP"].startswith("missing column(s) bp_obs_time, bp_flux")


# --- ASAS-SN: V and g in one file -----------------------------------------------------

def test_asassn_V_and_g_from_one_file(tmp_path):
    path = write_asassn(tmp_path / "a.csv", {"V": 20, "g": 15}, non_detections=3)
    counts = {}
    curve = read_lightcurve_bands(path, "asassn", ("g", "V"), counts)
    assert list(curve) == ["g", "V"]
    assert_band(curve["V"], 20, "V")
    assert_band(curve["g"], 15, "g")
    assert counts == {"non-detection": 3} and curve.dropped == {"V": {"non-detection": 3}}
    # one filter as ever
    time, _, _ = read_lightcurve(path, "asassn", filter="g")
    np.testing.assert_array_equal(time, curve["g"][0])
    only_v = write_asassn(tmp_path / "v.csv", {"V": 20})
    curve = read_lightcurve_bands(only_v, "asassn", ("V", "g"))
    assert list(curve) == ["V"] and curve.missing == {"g": "no rows of filter g "
                                                           "(filters found: V)"}
    plain = tmp_path / "p.csv"
    plain.write_text("HJD,mag,mag_err\n2457000.1,13.2,0.02\n")
    with pytest.raises(BadLightCurve, match="filters V, g requested but the file has no "
                                            "filter column"):
        read_lightcurve_bands(plain, "asassn", ("V", "g"))


def test_crts_files_hold_one_band(tmp_path):
    path = tmp_path / "c.dat"
    path.write_text("53000 15 0.1\n")
    with pytest.raises(InputError, match=re.escape(
            "--band cannot be used here: --format crts takes no column or band options")):
        read_lightcurve_bands(path, "crts", ("V", "R"))


# --- long tables -------------------------------------------------------------------------

def test_long_table_of_several_bands_gives_banded_light_curves(tmp_path):
    from astropy.table import vstack
    parts = [ztf_table(1, "zg", 5), ztf_table(1, "zr", 6), ztf_table(2, "zr", 7),
             ztf_table(3, "zi", 4), ztf_table(1, "zi", 2)]
    vstack(parts).write(tmp_path / "long.tbl", format="ascii.ipac")
    objects = read_table_objects(tmp_path / "long.tbl", "oid", format="ztf",
                                 bands=("g", "r"))
    assert sorted(objects) == ["1", "2"]
    counts = {}
    one = objects.load("1", counts)
    assert isinstance(one, BandedLightCurve) and list(one) == ["g", "r"]
    assert [len(one[b][0]) for b in one] == [5, 6] and counts == {"other band": 2}
    two = objects.load("2")
    assert list(two) == ["r"] and two.missing["g"].startswith("no rows of band zg")
    with pytest.raises(BadLightCurve, match=r"no band usable \(g: no rows of band zg"):
        objects.load("3")


def test_long_gaia_parquet_of_several_bands_reads_only_the_wanted_ids(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    write_gaia_flat(tmp_path / "a.parquet", 11, n=4)
    write_gaia_flat(tmp_path / "b.parquet", 22, n=6, bands=("G", "RP"))
    table = pa.concat_tables([pq.read_table(tmp_path / "a.parquet"),
                              pq.read_table(tmp_path / "b.parquet")])
    pq.write_table(table, tmp_path / "long.parquet")
    objects = read_table_objects(tmp_path / "long.parquet", "source_id", format="gaia",
                                 ids=["22"], bands=("G", "BP", "RP"))
    assert list(objects) == ["22"]
    curve = objects.load("22")
    assert list(curve) == ["G", "RP"] and "BP" in curve.missing
    assert_band(curve["RP"], 6, "RP")


# --- options, templates ---------------------------------------------------------------------

def test_band_options_one_value_is_todays_option_several_are_bands():
    assert check_reader_options("ztf", {"band": ["r"]}) == {"band": "r"}
    assert check_reader_options("ztf", {"band": "r"}) == {"band": "r"}
    assert check_reader_options("ztf", {"band": ["g", "r"]}) == {"bands": ("g", "r")}
    assert check_reader_options("gaia", {"band": ("G", "BP", "RP"), "zero_point": [25]}) == {
        "bands": ("G", "BP", "RP"), "zero_point": 25.0}
    assert check_reader_options("gaia", {"band": ("G", "RP"), "zero_point": [25, 24]}) == {
        "bands": ("G", "RP"), "zero_point": (25.0, 24.0)}
    # asassn: --band and its alias --filter
    assert check_reader_options("asassn", {"band": "V"}) == {"filter": "V"}
    assert check_reader_options("asassn", {"filter": ["V"]}) == {"filter": "V"}
    assert check_reader_options("asassn", {"filter": ["V", "g"]}) == {"bands": ("V", "g")}
    assert check_reader_options("asassn", {"band": ["V", "g"]}) == {"bands": ("V", "g")}


@pytest.mark.parametrize("format, options, message", [
    ("crts", {"band": ["V", "R"]}, "--band cannot be used here: --format crts takes no "
                                   "column or band options (a CRTS file holds one band)"),
    ("asassn", {"band": "V", "filter": "g"}, "give --band or --filter, not both"),
    ("ztf", {"band": ["g", "zg"]}, "--band g zg names band zg more than once"),
    ("gaia", {"band": ["G", "bp", "BP"]}, "names band BP more than once"),
    ("gaia", {"band": ["G", "V"]}, "--format gaia needs --band G, BP or RP (got G V)"),
    ("ztf", {"band": ["g", " "]}, "--band must not be empty"),
    ("asassn", {"filter": []}, "--filter needs at least one band name"),
    ("table", {"band": ["g", "r"], "flux_col": "f", "flux_err_col": "e",
               "zero_point": [25, 24, 23]},
     "got 3 values for 2 bands (g r)"),
    ("table", {"band": "g", "flux_col": "f", "flux_err_col": "e", "zero_point": [25, 24]},
     "got 2 values for one band"),
    ("gaia", {"band": ["G", "RP"], "zero_point": [25, "x"]},
     "--zero_point must be a number, got 'x'"),
])
def test_bad_band_options_are_input_errors(format, options, message):
    with pytest.raises(InputError, match=re.escape(message)):
        check_reader_options(format, options)


def test_band_field_of_templates():
    check_template("{id}_{band}.tbl", ("g", "r"))
    check_template("{id}_{band}.tbl", "r")
    check_template("{id}.csv")  # no band field: no band needed
    with pytest.raises(InputError, match=re.escape(
            "has a '{band}' field: name the band(s) with --band")):
        check_template("{id}_{band}.tbl")
    with pytest.raises(InputError, match="must contain '{id}'"):
        check_template("{band}.tbl", ("g",))
    with pytest.raises(InputError, match=re.escape("may only use the fields '{id}' and "
                                                   "'{band}'")):
        check_template("{id}_{filter}.tbl", ("g",))
    with pytest.raises(InputError, match="path characters"):
        check_template("{id}_{band}.tbl", ("g", "../r"))


def test_one_band_fills_the_band_field(tmp_path):
    write_ztf_star(tmp_path, "s8", 8, {"zg": 4, "zr": 6})
    path = locate_lightcurve(tmp_path, "s8", "{id}_{band}.tbl", band="r")
    assert path.endswith("s8_r.tbl")
    assert len(read_lightcurve(path, "ztf", band="r")[0]) == 6
    with pytest.raises(InputError, match="name the band with --band"):
        locate_lightcurve(tmp_path, "s8", "{id}_{band}.tbl")
    with pytest.raises(BadLightCurve, match="unsafe object id"):
        locate_band_files(tmp_path, "../s8", "{id}_{band}.tbl", ("g", "r"))
    with pytest.raises(InputError, match="has no '{band}' field"):
        locate_band_files(tmp_path, "s8", "{id}.tbl", ("g", "r"))


def test_banded_light_curves_travel_between_processes(tmp_path):
    write_ztf_star(tmp_path, "s9", 9, {"zg": 4, "zr": None})
    files = locate_band_files(tmp_path, "s9", "{id}_{band}.tbl", ("g", "r"))
    curve = pickle.loads(pickle.dumps(read_lightcurve_bands(files, "ztf", ("g", "r"))))
    assert list(curve) == ["g"] and curve.missing == {"r": "light-curve file not found "
                                                           "(s9_r.tbl)"}
    assert "g: 4 points" in repr(curve)
