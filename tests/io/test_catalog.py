"""Catalog reading with astropy in every supported format."""

import numpy as np
import pytest
from astropy.table import Table

from rnngmm.errors import InputError
from rnngmm.io.catalog import read_catalog


def sample_table():
    return Table({"oid": ["007", "b", "c"], "cls": ["EW", "RRab", ""],
                  "P": [0.31, np.nan, 2.5], "vmag": [14.0, 15.5, 12.1]})


@pytest.mark.parametrize("suffix", [".ecsv", ".fits", ".vot"])
def test_formats_round_trip(tmp_path, suffix):
    path = tmp_path / f"cat{suffix}"
    sample_table().write(path, format={".ecsv": "ascii.ecsv", ".fits": "fits",
                                       ".vot": "votable"}[suffix])
    cat = read_catalog(path, "oid", label_col="cls", period_col="P", extra_cols=("vmag",))
    assert list(cat.ids) == ["007", "b", "c"]
    assert list(cat.labels) == ["EW", "RRab", ""]
    np.testing.assert_array_equal(cat.periods, [0.31, np.nan, 2.5])
    np.testing.assert_array_equal(cat.extra["vmag"], [14.0, 15.5, 12.1])


def test_csv_keeps_leading_zeros_and_blank_cells(tmp_path):
    path = tmp_path / "cat.csv"
    path.write_text("oid,cls,P\n007,EW,0.31\n8,,\n")
    cat = read_catalog(path, "oid", label_col="cls", period_col="P")
    assert list(cat.ids) == ["007", "8"]
    assert list(cat.labels) == ["EW", ""]
    assert cat.periods[0] == 0.31 and np.isnan(cat.periods[1])


def test_missing_column_lists_the_available_ones(tmp_path):
    path = tmp_path / "cat.csv"
    path.write_text("oid,cls\n1,EW\n")
    with pytest.raises(InputError, match=r"no column\(s\) period; available columns: oid, cls"):
        read_catalog(path, "oid", period_col="period")


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_catalog(tmp_path / "nope.csv", "id")
    bad = tmp_path / "bad.fits"
    bad.write_text("this is not FITS")
    with pytest.raises(InputError, match="could not be read"):
        read_catalog(bad, "id")


def test_duplicates_and_blank_ids_become_rejects_keeping_the_first(tmp_path):
    path = tmp_path / "cat.csv"
    path.write_text("id,P\na,1.0\nb,2.0\na,3.0\n,4.0\n")
    cat = read_catalog(path, "id", period_col="P")
    assert list(cat.ids) == ["a", "b"]
    np.testing.assert_array_equal(cat.periods, [1.0, 2.0])
    np.testing.assert_array_equal(cat.rows, [0, 1])
    assert [(r, i) for r, i, _ in cat.rejects] == [(2, "a"), (3, "")]
    assert "duplicate catalog id (first at row 0)" in cat.rejects[0][2]


def test_non_numeric_period_rejects_only_its_row(tmp_path):
    path = tmp_path / "cat.csv"
    path.write_text("id,P,cls\na,1.0,EW\nb,long,RRab\nc,,EA\nd,abc,EW\ne,2.5,EA\n")
    cat = read_catalog(path, "id", label_col="cls", period_col="P")
    assert list(cat.ids) == ["a", "c", "e"]
    np.testing.assert_array_equal(cat.rows, [0, 2, 4])
    np.testing.assert_array_equal(cat.periods, [1.0, np.nan, 2.5])
    assert list(cat.labels) == ["EW", "EA", "EA"]
    assert cat.rejects == [(1, "b", "catalog period 'long' is not a number"),
                           (3, "d", "catalog period 'abc' is not a number")]
    assert len(cat) + len(cat.rejects) == 5, "every row kept or rejected, once"


def test_period_rejects_merge_with_id_rejects_in_row_order(tmp_path):
    path = tmp_path / "cat.csv"
    path.write_text("id,P\na,x1\nb,2.0\na,3.0\n,oops\nc,4.0\n")
    cat = read_catalog(path, "id", period_col="P")
    # the duplicate is judged on ids alone: the first "a" is the one kept
    # by id and rejected for its period, the second stays a duplicate
    assert list(cat.ids) == ["b", "c"]
    assert [r[:2] for r in cat.rejects] == [(0, "a"), (2, "a"), (3, "")]
    assert cat.rejects[0][2] == "catalog period 'x1' is not a number"
    assert cat.rejects[1][2].startswith("duplicate catalog id")
    assert cat.rejects[2][2] == "missing id in catalog"


@pytest.mark.parametrize("suffix, fmt", [(".ecsv", "ascii.ecsv"), (".fits", "fits")])
def test_non_numeric_period_in_a_text_column_of_other_formats(tmp_path, suffix, fmt):
    path = tmp_path / f"cat{suffix}"
    Table({"oid": ["a", "b"], "P": ["0.5", "n/a?"]}).write(path, format=fmt)
    cat = read_catalog(path, "oid", period_col="P")
    assert list(cat.ids) == ["a"] and cat.periods[0] == 0.5
    assert cat.rejects == [(1, "b", "catalog period 'n/a?' is not a number")]


def test_a_very_long_junk_period_is_shortened_in_the_reason(tmp_path):
    path = tmp_path / "cat.csv"
    path.write_text("id,P\na," + "z" * 500 + "\n")
    (row, object_id, reason), = read_catalog(path, "id", period_col="P").rejects
    assert len(reason) < 80 and reason.endswith("is not a number")


def test_parquet_catalog_reads_only_the_named_columns(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    path = tmp_path / "cat.parquet"
    pq.write_table(pa.table({
        "source_id": pa.array([4111834567779557376, 17, 17, 5], pa.int64()),
        "cls": pa.array(["RRab", None, "EW", "EW"]),
        "P": pa.array([0.55, None, 0.3, 1.5]),
        "phot_g_mean_mag": pa.array([15.1, 16.0, 14.2, None], pa.float32()),
        "big": pa.array([[1, 2]] * 4, pa.list_(pa.int64()))}), path)
    cat = read_catalog(path, "source_id", label_col="cls", period_col="P",
                       extra_cols=("phot_g_mean_mag",))
    assert list(cat.ids) == ["4111834567779557376", "17", "5"]
    assert list(cat.labels) == ["RRab", "", "EW"]
    np.testing.assert_array_equal(cat.periods, [0.55, np.nan, 1.5])
    np.testing.assert_allclose(cat.extra["phot_g_mean_mag"], [15.1, 16.0, np.nan], rtol=1e-6)
    assert cat.rejects == [(2, "17", "duplicate catalog id (first at row 1)")]
    with pytest.raises(InputError, match=r"no column\(s\) period; available columns: "
                                         "source_id, cls, P, phot_g_mean_mag, big"):
        read_catalog(path, "source_id", period_col="period")
    junk = tmp_path / "junk.parquet"
    junk.write_text("not parquet")
    with pytest.raises(InputError, match="could not be read as parquet"):
        read_catalog(junk, "id")
