"""Light-curve readers on tiny hand-written files, good and malformed."""

import re

import numpy as np
import pytest

from rnngmm.errors import BadLightCurve, InputError
from rnngmm.io.readers import READERS, check_template, locate_lightcurve, read_lightcurve
from rnngmm.io.table_objects import read_table_objects

ASASSN_HEADER = "HJD,camera,filter,mag,mag_err,flux,flux_err\n"


def write(path, text, mode="w"):
    with open(path, mode) as handle:
        handle.write(text)
    return path


def test_registry_has_the_five_formats():
    assert set(READERS) == {"crts", "asassn", "table", "ztf", "gaia"}


def test_unknown_format_is_an_input_error(tmp_path):
    path = write(tmp_path / "a.dat", "1 2 3\n")
    with pytest.raises(InputError, match="unknown light-curve format 'kepler'"):
        read_lightcurve(path, "kepler")


def test_crts_reads_unsorted_rows_as_stored_in_float64(tmp_path):
    path = write(tmp_path / "a.dat", "53730.5293495834 14.70 0.065\n"
                                     "# a comment\n\n"
                                     "53555.7570653471 14.74 0.064\n")
    time, mag, err = read_lightcurve(path, "crts")
    assert time.dtype == np.float64
    np.testing.assert_array_equal(time, [53730.5293495834, 53555.7570653471])
    np.testing.assert_array_equal(mag, [14.70, 14.74])
    np.testing.assert_array_equal(err, [0.065, 0.064])


@pytest.mark.parametrize("content, reason", [
    ("", "empty file"),
    ("   \n\n", "empty file"),
    ("# only a comment\n", "comments only"),
    ("1 2\n3 4\n", "expected 3 columns"),
    ("1 2 3\n4 5 6 7\n", "found 4 on data row 2"),
    ("1 2 3\n4 abc 6\n", "non-numeric mag value 'abc'"),
])
def test_crts_malformed_files_are_bad_lightcurves(tmp_path, content, reason):
    path = write(tmp_path / "bad.dat", content)
    with pytest.raises(BadLightCurve, match=reason):
        read_lightcurve(path, "crts")


def test_binary_and_missing_files_are_bad_lightcurves(tmp_path):
    binary = write(tmp_path / "bin.dat", b"\x89PNG\x00\x01\x02", mode="wb")
    with pytest.raises(BadLightCurve, match="not a text file"):
        read_lightcurve(binary, "crts")
    latin = write(tmp_path / "latin.dat", "1 2 3\n\xe9\n".encode("latin-1"), mode="wb")
    with pytest.raises(BadLightCurve, match="not a text file"):
        read_lightcurve(latin, "asassn")
    with pytest.raises(BadLightCurve, match="unreadable"):
        read_lightcurve(tmp_path / "missing.dat", "crts")


def test_asassn_drops_and_counts_non_detections_and_selects_a_filter(tmp_path):
    path = write(tmp_path / "a.csv", ASASSN_HEADER +
                 "2457000.1,bb,V,14.100,0.020,8.6,0.1\n"
                 "2457001.1,bb,V,>17.50,99.990,0.1,0.1\n"
                 "2457002.1,bc,V,14.200,99.990,8.6,0.1\n"
                 "2457003.1,bc,g,14.900,0.030,4.6,0.1\n"
                 "2457004.1,bc,V,14.300,0.025,8.0,0.1\n")
    counts = {}
    time, mag, err = read_lightcurve(path, "asassn", counts, filter="V")
    np.testing.assert_array_equal(time, [2457000.1, 2457004.1])
    np.testing.assert_array_equal(mag, [14.1, 14.3])
    np.testing.assert_array_equal(err, [0.02, 0.025])
    assert counts == {"other filter": 1, "non-detection": 2}
    counts = {}
    time, _, _ = read_lightcurve(path, "asassn", counts)
    assert len(time) == 3 and counts == {"non-detection": 2}


def test_asassn_accepts_other_header_spellings_and_quality_flags(tmp_path):
    path = write(tmp_path / "v2.csv", "jd,flux,flux_err,Mag,Mag_Err,quality,Filter\n"
                                      "2460000.5,1,1,15.0,0.05,G,g\n"
                                      "2460001.5,1,1,15.1,0.05,B,g\n")
    counts = {}
    time, mag, _ = read_lightcurve(path, "asassn", counts)
    np.testing.assert_array_equal(mag, [15.0])
    assert counts == {"bad quality": 1}


@pytest.mark.parametrize("content, reason", [
    ("date,mag,err\n1,2,3\n", "no time column"),
    ("# only a comment\n", "comments only"),
    (ASASSN_HEADER + "2457000.1,bb,V,14.1\n", "expected 7 columns"),
    (ASASSN_HEADER + "2457000.1,bb,V,bright,0.02,1,1\n", "non-numeric mag"),
    ("HJD,mag,mag_err\n1,2,0.1\n", None),
])
def test_asassn_malformed(tmp_path, content, reason):
    path = write(tmp_path / "a.csv", content)
    if reason is None:  # a minimal but valid file
        with pytest.raises(BadLightCurve, match="no filter column"):
            read_lightcurve(path, "asassn", filter="V")
        assert len(read_lightcurve(path, "asassn")[0]) == 1
    else:
        with pytest.raises(BadLightCurve, match=reason):
            read_lightcurve(path, "asassn")


CRTS_ROWS = "53730.5293495834 14.70 0.065\n53555.7570653471 14.74 0.064\n"
BOM = "\ufeff"


@pytest.mark.parametrize("name, content", [
    ("bom", BOM + CRTS_ROWS),
    ("names", "MJD mag err\n" + CRTS_ROWS),
    ("csv names", "time,mag,err\n" + CRTS_ROWS),
    ("bom and names", BOM + "MJD\tMag\tMagerr\r\n" + CRTS_ROWS.replace("\n", "\r\n")),
    ("comment", "# star 3019021001365, CRTS SSS\n" + CRTS_ROWS),
    ("bom and comment", BOM + "# star\n" + CRTS_ROWS),
    ("comment then names", "# star\nMJD mag err\n" + CRTS_ROWS),
])
def test_crts_reads_a_bom_and_one_header_line(tmp_path, name, content):
    path = write(tmp_path / "a.dat", content.encode("utf-8"), mode="wb")
    time, mag, err = read_lightcurve(path, "crts")
    np.testing.assert_array_equal(time, [53730.5293495834, 53555.7570653471])
    np.testing.assert_array_equal(mag, [14.70, 14.74])
    np.testing.assert_array_equal(err, [0.065, 0.064])


@pytest.mark.parametrize("content, reason", [
    # a header is skipped only as the first line; later junk names its column
    ("MJD mag err\n" + CRTS_ROWS + "53999.0 15.0 n/a\n", "non-numeric err value 'n/a'"),
    ("MJD mag err\n" + CRTS_ROWS + "MJD mag err\n", "non-numeric time value 'MJD'"),
    # a first line with a number in it is data, not a header
    ("53500.1 bright 0.03\n" + CRTS_ROWS, "non-numeric mag value 'bright'"),
    (BOM + "53500.1 15.2 oops\n" + CRTS_ROWS, "non-numeric err value 'oops'"),
    ("MJD mag err\n", "empty file (header only)"),
    (BOM, "empty file"),
    ("MJD mag err\n53500.1,15.2,0.03\n", "expected 3 columns"),
    ("53500.1,15.2,0.03\n", "expected 3 columns"),
])
def test_crts_header_tolerance_keeps_per_object_errors(tmp_path, content, reason):
    path = write(tmp_path / "bad.dat", content.encode("utf-8"), mode="wb")
    with pytest.raises(BadLightCurve, match=re.escape(reason)):
        read_lightcurve(path, "crts")


def test_utf16_files_are_named_as_such(tmp_path):
    path = write(tmp_path / "u16.dat", CRTS_ROWS.encode("utf-16"), mode="wb")
    with pytest.raises(BadLightCurve, match="UTF-16"):
        read_lightcurve(path, "crts")


@pytest.mark.parametrize("name, content", [
    ("bom", BOM + ASASSN_HEADER),
    ("bom and comment", BOM + "# ASAS-SN Sky Patrol\n" + ASASSN_HEADER),
    ("crlf", BOM + ASASSN_HEADER.replace("\n", "\r\n")),
])
def test_asassn_reads_a_bom(tmp_path, name, content):
    path = write(tmp_path / "a.csv", (content + "2457000.1,bb,V,14.100,0.020,8.6,0.1\n"
                                                "2457001.1,bb,V,14.200,0.030,8.6,0.1\n")
                 .encode("utf-8"), mode="wb")
    time, mag, err = read_lightcurve(path, "asassn", filter="V")
    np.testing.assert_array_equal(time, [2457000.1, 2457001.1])
    np.testing.assert_array_equal(mag, [14.1, 14.2])
    np.testing.assert_array_equal(err, [0.02, 0.03])


def test_asassn_reads_a_plain_time_mag_err_header(tmp_path):
    path = write(tmp_path / "a.csv", (BOM + "time,mag,err\n2457000.1,14.1,0.02\n"
                                      "2457001.1,14.2,0.03\n").encode(), mode="wb")
    time, mag, err = read_lightcurve(path, "asassn")
    np.testing.assert_array_equal(time, [2457000.1, 2457001.1])
    np.testing.assert_array_equal(err, [0.02, 0.03])
    bad = write(tmp_path / "b.csv", BOM + "time,mag,err\n2457000.1,14.1,0.02\n"
                                          "2457001.1,faint,0.03\n")
    with pytest.raises(BadLightCurve, match="non-numeric mag value 'faint'"):
        read_lightcurve(bad, "asassn")


def test_table_reader_with_configured_columns(tmp_path):
    path = write(tmp_path / "t.csv", "mjd,v,ev\n3.5,12.0,0.1\n1.5,12.5,0.2\n")
    time, mag, err = read_lightcurve(path, "table", time_col="mjd", mag_col="v",
                                     err_col="ev", table_format="ascii.csv")
    np.testing.assert_array_equal(time, [3.5, 1.5])
    with pytest.raises(BadLightCurve, match="missing column.*available: mjd, v, ev"):
        read_lightcurve(path, "table", table_format="ascii.csv")
    text = write(tmp_path / "s.csv", "time,mag,err\n1,x,0.1\n")
    with pytest.raises(BadLightCurve, match="not numeric"):
        read_lightcurve(text, "table", table_format="ascii.csv")


def test_long_table_groups_rows_by_object(tmp_path):
    path = write(tmp_path / "long.csv", "oid,time,mag,err\n"
                                        "b,1,10,0.1\na,2,11,0.1\nb,3,12,0.1\na,4,13,0.1\n")
    objects = read_table_objects(path, "oid")
    assert sorted(objects) == ["a", "b"]
    np.testing.assert_array_equal(objects["b"][0], [1, 3])
    np.testing.assert_array_equal(objects["a"][1], [11, 13])
    with pytest.raises(InputError, match=r"missing column\(s\) id"):
        read_table_objects(path, "id")


def test_locate_refuses_ids_that_escape_the_directory(tmp_path):
    lc_dir = tmp_path / "lc"
    lc_dir.mkdir()
    write(lc_dir / "star1.dat", "1 2 3\n")
    write(tmp_path / "secret.dat", "1 2 3\n")
    assert locate_lightcurve(lc_dir, "star1") == str((lc_dir / "star1.dat").resolve())
    for evil in ("../secret", "../../etc/passwd", "/etc/passwd", "..", "a\x00b", ""):
        with pytest.raises(BadLightCurve, match="unsafe|outside"):
            locate_lightcurve(lc_dir, evil)
    (lc_dir / "link.dat").symlink_to(tmp_path / "secret.dat")
    with pytest.raises(BadLightCurve, match="outside"):
        locate_lightcurve(lc_dir, "link")
    with pytest.raises(BadLightCurve, match="not found"):
        locate_lightcurve(lc_dir, "star2")


@pytest.mark.parametrize("template", ["data.dat", "../{id}.dat", "{id}{x}.dat", "sub/{id}"])
def test_bad_templates_are_input_errors(template):
    with pytest.raises(InputError):
        check_template(template)


# --- bands, fluxes, Parquet and Gaia/ZTF shapes (issue 15.2) -------------------------

from rnngmm.io.readers import (GAIA_ZERO_POINTS, check_reader_options,  # noqa: E402
                               flux_to_mag)

ZTF_HEADER = ("oid,expid,hjd,mjd,mag,magerr,catflags,filtercode,ra,dec,chi,sharp,"
              "filefracday,field,ccdid,qid,limitmag,magzp,magzprms,clrcoeff,clrcounc,"
              "exptime,airmass,programid\n")


def ztf_row(oid, mjd, mag, err, band):
    return (f"{oid},{int(mjd * 100)},{mjd + 2400000.5:.6f},{mjd:.6f},{mag:.4f},{err:.4f},0,"
            f"{band},10.0,20.0,1.0,0.0,20180101123456,600,5,1,20.5,26.2,0.02,0.1,0.01,"
            "30.0,1.2,1\n")


def test_flux_to_mag_is_the_pogson_law():
    mag, err = flux_to_mag([100.0, 1.0, 0.0, -5.0, np.nan], [1.0, 0.1, 1.0, 1.0, 1.0], 25.0)
    np.testing.assert_allclose(mag[:2], [20.0, 25.0])
    np.testing.assert_allclose(err[:2], [2.5 / np.log(10) * 0.01, 2.5 / np.log(10) * 0.1])
    assert np.all(np.isnan(mag[2:])) and np.all(np.isnan(err[2:]))
    # Gaia G: the flux of a G = 15 star at the Vega zero point gives 15 back.
    flux = 10 ** ((GAIA_ZERO_POINTS["G"] - 15.0) / 2.5)
    assert flux_to_mag([flux], [0.0], GAIA_ZERO_POINTS["G"])[0][0] == pytest.approx(15.0)


def test_table_fluxes_drop_and_count_non_positive_points(tmp_path):
    path = write(tmp_path / "f.csv", "t,f,ef\n1,100,1\n2,0,1\n3,-4,1\n4,10,0.5\n")
    counts = {}
    time, mag, err = read_lightcurve(path, "table", counts, time_col="t", flux_col="f",
                                     flux_err_col="ef", zero_point=25.0)
    np.testing.assert_array_equal(time, [1, 4])
    np.testing.assert_allclose(mag, [20.0, 22.5])
    np.testing.assert_allclose(err, 2.5 / np.log(10) * np.array([0.01, 0.05]))
    assert counts == {"non-positive flux": 2}


def test_ztf_csv_with_two_bands_is_refused_without_band(tmp_path):
    path = write(tmp_path / "z.csv", ZTF_HEADER + ztf_row(1, 58300.1, 15.1, 0.02, "zg")
                 + ztf_row(2, 58300.2, 14.6, 0.02, "zr")
                 + ztf_row(1, 58301.1, 15.2, 0.02, "zg"))
    message = "light curve has bands zg, zr in column 'filtercode': choose one with --band"
    with pytest.raises(BadLightCurve, match=re.escape(message)):
        read_lightcurve(path, "ztf")
    with pytest.raises(BadLightCurve, match=re.escape(message)):
        read_lightcurve(path, "table", time_col="mjd", err_col="magerr")  # auto-detected
    counts = {}
    time, mag, err = read_lightcurve(path, "ztf", counts, band="g")  # g means zg
    np.testing.assert_array_equal(time, [58300.1, 58301.1])
    np.testing.assert_array_equal(mag, [15.1, 15.2])
    assert counts == {"other band": 1}
    time, _, _ = read_lightcurve(path, "table", time_col="mjd", err_col="magerr",
                                 band_col="filtercode", band="zr")
    np.testing.assert_array_equal(time, [58300.2])
    with pytest.raises(BadLightCurve, match=r"no rows of band zi .*bands found: zg, zr"):
        read_lightcurve(path, "ztf", band="zi")
    with pytest.raises(BadLightCurve, match="no band column"):
        read_lightcurve(write(tmp_path / "p.csv", "time,mag,err\n1,2,3\n"), "table", band="V")


def test_one_band_tables_need_no_band(tmp_path):
    path = write(tmp_path / "z.csv", ZTF_HEADER + ztf_row(1, 58300.1, 15.1, 0.02, "zr")
                 + ztf_row(1, 58301.1, 15.2, 0.02, "zr"))
    time, _, _ = read_lightcurve(path, "ztf")
    assert len(time) == 2


def _gaia_flat(n=6):
    import pyarrow as pa
    band = ["G", "BP", "RP"] * n
    flux = np.array([10 ** ((GAIA_ZERO_POINTS[b] - 15.0) / 2.5) for b in band])
    flux[0] = -1.0  # a negative G flux
    rejected = np.zeros(3 * n, bool)
    rejected[3] = True  # the second G transit rejected by variability processing
    return pa.table({
        "source_id": pa.array([4111834567779557376] * (3 * n), pa.int64()),
        "transit_id": pa.array(np.arange(3 * n), pa.int64()),
        "band": band, "time": 1700.0 + np.arange(3 * n) / 3.0,
        "mag": np.full(3 * n, 15.0), "flux": flux, "flux_error": flux * 0.01,
        "flux_over_error": np.full(3 * n, 100.0),
        "rejected_by_photometry": np.zeros(3 * n, bool),
        "rejected_by_variability": rejected,
        "other_flags": pa.array(np.zeros(3 * n), pa.int64()),
        "solution_id": pa.array([375316653866487564] * (3 * n), pa.int64())})


def test_gaia_flat_epoch_photometry_parquet(tmp_path):
    import pyarrow.parquet as pq
    path = tmp_path / "4111834567779557376.parquet"
    pq.write_table(_gaia_flat(), path)
    counts = {}
    time, mag, err = read_lightcurve(path, "gaia", counts, band="G")
    assert len(time) == 4  # 6 G transits - 1 negative flux - 1 rejected
    np.testing.assert_allclose(mag, 15.0)
    np.testing.assert_allclose(err, 2.5 / np.log(10) * 0.01)
    assert counts == {"other band": 12, "non-positive flux": 1,
                      "flagged rejected_by_variability": 1}
    _, mag, _ = read_lightcurve(path, "gaia", band="bp")
    np.testing.assert_allclose(mag, 15.0)
    # the same file through the generic table reader: several bands are refused
    with pytest.raises(BadLightCurve, match="bands BP, G, RP in column 'band'"):
        read_lightcurve(path, "table", flux_col="flux", flux_err_col="flux_error",
                        zero_point=25.6874)


def test_gaia_raw_arrays_are_flattened(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    flux = [10 ** ((GAIA_ZERO_POINTS["RP"] - 14.0) / 2.5)] * 3
    table = pa.table({"source_id": [7], "n_transits": [3],
                      "g_transit_time": [[1.0, 2.0, 3.0]], "g_transit_flux": [[1e5, 1e5, 1e5]],
                      "g_transit_flux_error": [[1e2, 1e2, 1e2]],
                      "rp_obs_time": [[1.1, 2.1, 3.1]], "rp_flux": [flux],
                      "rp_flux_error": [[f / 100 for f in flux]],
                      "variability_flag_rp_reject": [[False, True, False]]})
    pq.write_table(table, tmp_path / "7.parquet")
    counts = {}
    time, mag, _ = read_lightcurve(tmp_path / "7.parquet", "gaia", counts, band="RP")
    np.testing.assert_array_equal(time, [1.1, 3.1])
    np.testing.assert_allclose(mag, 14.0)
    assert counts == {"flagged variability_flag_rp_reject": 1}
    with pytest.raises(BadLightCurve, match=r"missing column\(s\) bp_obs_time, bp_flux"):
        read_lightcurve(tmp_path / "7.parquet", "gaia", band="BP")


def _long_parquet(path, n_objects=12, n_points=5, row_group_size=10):
    import pyarrow as pa
    import pyarrow.parquet as pq
    ids = np.repeat(np.arange(n_objects), n_points)
    table = pa.table({"id": pa.array(ids, pa.int64()),
                      "t": np.tile(np.arange(n_points, dtype=float), n_objects),
                      "flux": 100.0 * (1 + ids), "flux_err": np.ones(len(ids)),
                      "band": ["r"] * len(ids)})
    pq.write_table(table, path, row_group_size=row_group_size)


def test_long_parquet_table_reads_only_the_wanted_ids(tmp_path, monkeypatch):
    from rnngmm.io import table_objects as readers  # where the long table is read
    path = tmp_path / "long.parquet"
    _long_parquet(path)
    calls = []
    real = readers._read_parquet

    def spy(source, columns=None, filters=None):
        table = real(source, columns=columns, filters=filters)
        calls.append((columns, filters, table.num_rows))
        return table
    monkeypatch.setattr(readers, "_read_parquet", spy)
    options = dict(time_col="t", flux_col="flux", flux_err_col="flux_err", zero_point=25.0)
    objects = read_table_objects(path, "id", ids=["3", "4", "x"], **options)
    assert sorted(objects) == ["3", "4"]
    assert calls[-1][0] == ["id", "t", "flux", "flux_err", "band"]
    assert calls[-1][1] == [("id", "in", [3, 4])] and calls[-1][2] == 10
    np.testing.assert_allclose(objects["3"][1], 25.0 - 2.5 * np.log10(400.0))
    with pytest.raises(BadLightCurve, match="no rows"):
        objects.load("x")
    everything = read_table_objects(path, "id", **options)
    assert len(everything) == 12 and calls[-1][2] == 60
    with pytest.raises(InputError, match=r"missing column\(s\) mag"):
        read_table_objects(path, "id", time_col="t")


def test_long_table_refuses_mixed_bands_per_object(tmp_path):
    path = write(tmp_path / "long.csv", "id,time,mag,err,filter\n"
                                        "a,1,10,0.1,g\na,2,11,0.1,r\nb,1,10,0.1,g\n")
    objects = read_table_objects(path, "id")
    assert sorted(objects) == ["b"]
    with pytest.raises(BadLightCurve, match="bands g, r in column 'filter'"):
        objects.load("a")
    objects = read_table_objects(path, "id", band="r")
    counts = {}
    np.testing.assert_array_equal(objects.load("a", counts)[0], [2])
    assert counts == {"other band": 1}
    with pytest.raises(BadLightCurve, match="no rows of band r"):
        objects.load("b")


@pytest.mark.parametrize("format, options, message", [
    ("crts", {"band": "V"}, "--band cannot be used here"),
    ("asassn", {"flux_col": "flux"}, "--flux_col cannot be used here"),
    ("table", {"flux_col": "f"}, "--flux_col and --flux_err_col go together"),
    ("table", {"flux_col": "f", "flux_err_col": "e"}, "--flux_col needs --zero_point"),
    ("table", {"zero_point": 25.0}, "--zero_point only applies with --flux_col"),
    ("table", {"flux_col": "f", "flux_err_col": "e", "zero_point": float("nan")},
     "--zero_point must be finite"),
    ("table", {"band": " "}, "--band must not be empty"),
    ("gaia", {}, "--format gaia needs --band G, BP or RP"),
    ("gaia", {"band": "V"}, "--format gaia needs --band G, BP or RP"),
    ("gaia", {"band": "G", "time_col": "t"}, "--time_col cannot be used here"),
])
def test_reader_options_are_checked_up_front(format, options, message):
    with pytest.raises(InputError, match=re.escape(message)):
        check_reader_options(format, options)


def test_valid_reader_options_pass_without_nones():
    assert check_reader_options("table", {"band": "g", "mag_col": None}) == {"band": "g"}
    assert check_reader_options("gaia", {"band": "G", "zero_point": "25.8"}) == {
        "band": "G", "zero_point": 25.8}


# --- archive inputs: non-numeric cells, compressed files, IPAC tables (issue 23.6) ---

import bz2  # noqa: E402
import gzip  # noqa: E402
import lzma  # noqa: E402

COMPRESS = {".gz": gzip.compress, ".bz2": bz2.compress, ".xz": lzma.compress}


def compressed(path, suffix):
    """A compressed copy of ``path`` named ``path`` + ``suffix``."""
    target = path.parent / (path.name + suffix)
    target.write_bytes(COMPRESS[suffix](path.read_bytes()))
    return target


def test_long_table_non_numeric_cell_rejects_only_its_object(tmp_path):
    # an archive's "--" for a missing error in one object's rows
    path = write(tmp_path / "long.csv", "id,time,mag,err\n"
                                        "a,1,10,0.1\na,2,11,0.1\n"
                                        "b,1,10,0.1\nb,2,11,--\n"
                                        "c,1,12,\nc,2,13,0.2\n")
    objects = read_table_objects(path, "id")
    assert sorted(objects) == ["a", "c"]
    with pytest.raises(BadLightCurve, match=re.escape("non-numeric err value '--'")):
        objects.load("b")
    np.testing.assert_array_equal(objects.load("a")[2], [0.1, 0.1])
    # a blank cell is missing, as in a column astropy reads as numbers
    np.testing.assert_array_equal(objects.load("c")[2], [np.nan, 0.2])
    # the same object alone in its own file says the same
    single = write(tmp_path / "b.csv", "time,mag,err\n1,10,0.1\n2,11,--\n")
    with pytest.raises(BadLightCurve, match=re.escape("non-numeric err value '--'")):
        read_lightcurve(single, "table")
    # a column with no number at all is a wrong column: the input is bad
    words = write(tmp_path / "words.csv", "id,time,mag,err\na,1,x,0.1\nb,1,y,0.1\n")
    with pytest.raises(InputError, match="column 'mag' is not numeric"):
        read_table_objects(words, "id")


def test_long_parquet_table_non_numeric_cell_rejects_only_its_object(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    path = tmp_path / "long.parquet"
    pq.write_table(pa.table({"id": ["a", "a", "b", "b"], "time": [1.0, 2.0, 1.0, 2.0],
                             "mag": [10.0, 11.0, 10.0, 11.0],
                             "err": ["0.1", "0.1", "0.1", "null?"]}), path)
    objects = read_table_objects(path, "id")
    assert sorted(objects) == ["a"]
    assert objects.failures == {"b": "non-numeric err value 'null?'"}


@pytest.mark.parametrize("suffix", sorted(COMPRESS))
def test_compressed_light_curve_files_read_like_plain_ones(tmp_path, suffix):
    crts = write(tmp_path / "1.dat", "53730.5 14.70 0.065\n53555.7 14.74 0.064\n")
    asassn = write(tmp_path / "2.csv", ASASSN_HEADER + "2457000.1,bb,V,15.1,0.02,1,1\n"
                                                       "2457001.1,bb,V,15.2,0.03,1,1\n")
    table = write(tmp_path / "3.csv", "time,mag,err\n1.5,12.0,0.1\n2.5,12.5,0.2\n")
    ztf = write(tmp_path / "4.csv", ZTF_HEADER + ztf_row(4, 58300.1, 15.1, 0.02, "zr")
                + ztf_row(4, 58301.1, 15.2, 0.02, "zr"))
    for path, format in ((crts, "crts"), (asassn, "asassn"), (table, "table"),
                         (ztf, "ztf")):
        plain = read_lightcurve(path, format)
        packed = read_lightcurve(compressed(path, suffix), format)
        for a, b in zip(plain, packed):
            np.testing.assert_array_equal(a, b)
    # a --template '{id}.csv.gz' finds the file
    located = locate_lightcurve(tmp_path, "3", "{id}.csv" + suffix)
    np.testing.assert_array_equal(read_lightcurve(located, "table")[1], [12.0, 12.5])


@pytest.mark.parametrize("suffix", sorted(COMPRESS))
def test_compressed_long_tables_read_like_plain_ones(tmp_path, suffix):
    import pyarrow.parquet as pq
    path = write(tmp_path / "lightcurves.csv", "id,time,mag,err\n"
                                               "a,1,10,0.1\nb,1,12,--\na,2,11,0.2\n")
    objects = read_table_objects(compressed(path, suffix), "id")
    assert sorted(objects) == ["a"] and objects.failures == {
        "b": "non-numeric err value '--'"}
    np.testing.assert_array_equal(objects["a"][1], [10, 11])
    parquet = tmp_path / "long.parquet"
    _long_parquet(parquet)
    options = dict(time_col="t", flux_col="flux", flux_err_col="flux_err", zero_point=25.0)
    plain = read_table_objects(parquet, "id", ids=["3"], **options)
    packed = read_table_objects(compressed(parquet, suffix), "id", ids=["3"], **options)
    assert sorted(packed) == ["3"]
    np.testing.assert_array_equal(plain["3"][1], packed["3"][1])
    assert len(pq.read_table(parquet)) == 60


def test_a_corrupt_compressed_file_is_a_bad_light_curve(tmp_path):
    path = write(tmp_path / "1.dat.gz", gzip.compress(b"1 2 3\n4 5 6\n")[:-12], mode="wb")
    with pytest.raises(BadLightCurve, match="unreadable"):
        read_lightcurve(path, "crts")


def irsa_ztf_table(path, oid=633210100012345, n=8, bands=("zr",), compress=None):
    """An IPAC table as IRSA's ZTF light-curve service returns it (its default
    format): ``\\key = value`` lines, then the ``|``-delimited name, type,
    unit and null lines."""
    from astropy.table import Table
    rows = n * len(bands)
    table = Table()
    table["oid"] = np.full(rows, oid, np.int64)
    table["expid"] = (np.arange(rows) + 44012345).astype(np.int32)
    table["mjd"] = 58300.15 + np.arange(rows) * 1.3
    table["hjd"] = table["mjd"] + 2400000.5 + 0.003
    table["mag"] = (15.0 + 0.3 * np.sin(np.arange(rows))).astype(np.float32)
    table["magerr"] = np.full(rows, 0.021, np.float32)
    table["catflags"] = np.zeros(rows, np.int32)
    table["filtercode"] = np.repeat(list(bands), n)
    table["ra"] = np.full(rows, 120.1230456)
    table["dec"] = np.full(rows, 30.2045678)
    table["chi"] = np.full(rows, 1.02, np.float32)
    table["sharp"] = np.full(rows, -0.01, np.float32)
    table["limitmag"] = np.full(rows, 20.8, np.float32)
    table["magzp"] = np.full(rows, 26.3, np.float32)
    table["exptime"] = np.full(rows, 30.0, np.float32)
    table["airmass"] = np.full(rows, 1.2, np.float32)
    table["programid"] = np.ones(rows, np.int32)
    for name, unit in (("mjd", "days"), ("hjd", "days"), ("mag", "mag"), ("magerr", "mag"),
                       ("ra", "deg"), ("dec", "deg"), ("exptime", "sec")):
        table[name].unit = unit
    plain = path.parent / "plain.tbl"
    table.write(plain, format="ascii.ipac", overwrite=True)
    keywords = ("\\fixlen = T\n\\RowsRetrieved = %d\n"
                "\\ORIGIN  = 'IPAC Infrared Science Archive (IRSA), Caltech/JPL'\n"
                "\\DATETIME= '2026-12-01 10:11:12'\n"
                "\\SQL     = 'WHERE (oid = %d) AND (catflags = 0)'\n" % (rows, oid))
    text = keywords + plain.read_text()
    plain.unlink()
    assert text.splitlines()[5].startswith("|")  # the names line
    if compress:
        path.write_bytes(COMPRESS[compress](text.encode()))
    else:
        path.write_text(text)
    return table


@pytest.mark.parametrize("compress", [None, ".gz"])
def test_irsa_ztf_ipac_tables_read_like_csv(tmp_path, compress):
    name = "ztf_1_r.tbl" + (compress or "")
    table = irsa_ztf_table(tmp_path / name, compress=compress)
    path = locate_lightcurve(tmp_path, "ztf_1", "{id}_r.tbl" + (compress or ""))
    time, mag, err = read_lightcurve(path, "ztf")
    np.testing.assert_array_equal(time, np.asarray(table["mjd"]))
    np.testing.assert_allclose(mag, np.asarray(table["mag"]), rtol=1e-6)
    np.testing.assert_allclose(err, 0.021, rtol=1e-6)
    # the same rows as CSV
    csv_path = tmp_path / "same.csv"
    table.write(csv_path, format="ascii.csv")
    for a, b in zip(read_lightcurve(csv_path, "ztf"), (time, mag, err)):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_long_ipac_table_of_several_stars(tmp_path):
    from astropy.table import vstack
    parts = [irsa_ztf_table(tmp_path / f"{k}.tbl", oid=k, bands=("zg", "zr")) for k in (1, 2)]
    long = vstack(parts)
    long.write(tmp_path / "long.tbl", format="ascii.ipac")
    objects = read_table_objects(tmp_path / "long.tbl", "oid", format="ztf", band="r")
    assert sorted(objects) == ["1", "2"]
    assert len(objects["1"][0]) == 8


def test_an_unreadable_table_says_why(tmp_path):
    path = write(tmp_path / "ztf_1_r.tbl", "|  oid|   mjd|\n| long| what|\n 1 58300.1\n")
    with pytest.raises(BadLightCurve) as raised:
        read_lightcurve(path, "ztf")
    reason = raised.value.reason
    assert reason.startswith("unreadable table (ztf_1_r.tbl: ") and reason.endswith(")")
    assert "\n" not in reason and len(reason) < 260
    assert "what" in reason  # astropy's own message: the unknown column type
    odd = write(tmp_path / "1.lc", "time mag err\n1 2 3\n")
    with pytest.raises(BadLightCurve, match=r"unreadable table \(1\.lc: Format could not "
                                            r"be identified"):
        read_lightcurve(odd, "table")
    with pytest.raises(InputError, match=r"light-curve table .*unreadable table "
                                         r"\(ztf_1_r\.tbl: "):
        read_table_objects(path, "oid", format="ztf")
