"""Light-curve readers on tiny hand-written files, good and malformed."""

import re

import numpy as np
import pytest

from rnngmm.errors import BadLightCurve, InputError
from rnngmm.io.readers import (READERS, check_template, locate_lightcurve, read_lightcurve,
                               read_table_objects)

ASASSN_HEADER = "HJD,camera,filter,mag,mag_err,flux,flux_err\n"


def write(path, text, mode="w"):
    with open(path, mode) as handle:
        handle.write(text)
    return path


def test_registry_has_the_three_formats():
    assert set(READERS) == {"crts", "asassn", "table"}


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
    with pytest.raises(InputError, match="missing column id"):
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
