"""Catalog reading with astropy in every supported format."""

import numpy as np
import pytest
from astropy.table import MaskedColumn, Table

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


# ---------------------------------------------------------- read in blocks

MESSY_CSV = ("id,P,cls,num,mix,last\r\n"
             "007,0.5,EW,1,-0,\r\n"
             "\r\n"
             "b,junk,RR,2.5,x,3\r\n"
             "c,,,,,\r\n"
             "007,1.0,EW,3,1,4\r\n"
             "   \r\n"
             ",2.0,EA,4,2,5\r\n"
             "d,-0,RR,,007,\r\n"
             "e,3,EW,5,1.50,6\r\n")


def whole_and_blocks(path, monkeypatch, **kw):
    import rnngmm.io.catalog_file as catalog_file
    whole = read_catalog(path, "id", **kw)
    monkeypatch.setattr(catalog_file, "BLOCK_ROWS", 2)
    return whole, read_catalog(path, "id", **kw)


def test_blocks_of_rows_read_as_the_whole_file(tmp_path, monkeypatch):
    """Blank lines, CRLF, blank cells in the last column, junk periods, a
    duplicate two blocks later: blocks of 2 rows give what one block gives,
    and numbers typed by the whole column (a column with text in one block
    is text in every block; a blank cell makes an integer column float)."""
    path = tmp_path / "cat.csv"
    path.write_bytes(MESSY_CSV.encode())
    kw = dict(label_col="cls", period_col="P", extra_cols=("num", "mix", "last"))
    whole, blocks = whole_and_blocks(path, monkeypatch, **kw)
    for cat in (whole, blocks):
        assert list(cat.ids) == ["007", "c", "d", "e"]
        np.testing.assert_array_equal(cat.rows, [0, 2, 5, 6])
        assert [r[:2] for r in cat.rejects] == [(1, "b"), (3, "007"), (4, "")]
        assert cat.rejects[1][2] == "duplicate catalog id (first at row 0)"
        assert list(cat.labels) == ["EW", "", "RR", "EW"]
        np.testing.assert_array_equal(cat.periods, [0.5, np.nan, -0.0, 3.0])
        assert np.signbit(cat.periods[2])
        assert cat.extra["mix"].dtype.kind == "U"
        assert list(cat.extra["mix"]) == ["-0", "", "007", "1.50"]
        assert cat.extra["last"].dtype == np.float64
        np.testing.assert_array_equal(cat.extra["last"], [np.nan, np.nan, np.nan, 6.0])
        assert cat.extra["num"].dtype == np.float64
        np.testing.assert_array_equal(cat.extra["num"], [1.0, np.nan, np.nan, 5.0])


def test_kept_blocks_select_only_the_wanted_objects(tmp_path):
    from rnngmm.io.catalog import kept_blocks, scan_catalog
    from rnngmm.io.catalog_file import CatalogFile
    path = tmp_path / "cat.csv"
    path.write_bytes(MESSY_CSV.encode())
    source = CatalogFile(path, ["P", "num"], "id", block_rows=3)
    scan = scan_catalog(source, "id", "P", ["num"])
    assert (scan.n_rows, scan.n_kept) == (7, 4)
    got = [(int(i), str(b.ids[j]), int(b.rows[j]), float(b.extra["num"][j]))
           for index, b in kept_blocks(source, scan, "id", period_col="P",
                                       extra_cols=["num"], select=lambda k: k % 2 == 1)
           for j, i in enumerate(index)]
    assert got == [(1, "c", 2, got[0][3]), (3, "e", 6, 5.0)] and np.isnan(got[0][3])


def test_duplicates_are_judged_on_ids_not_on_hashes(tmp_path, monkeypatch):
    """Every id hashed alike: only the real duplicate is rejected."""
    import rnngmm.io.catalog as catalog
    monkeypatch.setattr(catalog, "_id_hashes", lambda ids: np.zeros(len(ids), np.int64))
    path = tmp_path / "cat.csv"
    path.write_text("id,P\na,1\nb,2\na,3\nc,4\n")
    cat = read_catalog(path, "id", period_col="P")
    assert list(cat.ids) == ["a", "b", "c"]
    assert cat.rejects == [(2, "a", "duplicate catalog id (first at row 0)")]


def test_masked_cells_of_a_text_period_column_are_missing(tmp_path):
    """A masked cell of a text period column is no period (astropy fills it
    with "0" underneath, which is no catalog period)."""
    path = tmp_path / "cat.ecsv"
    Table({"oid": ["a", "b", "c"],
           "P": MaskedColumn(["0.5", "x", "2"], mask=[False, True, False])}
          ).write(path, format="ascii.ecsv")
    cat = read_catalog(path, "oid", period_col="P")
    np.testing.assert_array_equal(cat.periods, [0.5, np.nan, 2.0])
    assert cat.rejects == []


@pytest.mark.parametrize("suffix, fmt", [(".ecsv", "ascii.ecsv"), (".fits", "fits"),
                                         (".parquet", "parquet")])
def test_other_formats_in_blocks(tmp_path, monkeypatch, suffix, fmt):
    rng = np.random.default_rng(0)
    n = 11
    table = Table({"id": [f"s{i % 9}" for i in range(n)], "P": rng.uniform(0.1, 9, n),
                   "k": rng.integers(0, 5, n), "f": rng.normal(size=n).astype(np.float32)})
    path = tmp_path / f"cat{suffix}"
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq
        pq.write_table(pa.table({c: table[c].data for c in table.colnames}), path,
                       row_group_size=3)
    else:
        table.write(path, format=fmt)
    whole, blocks = whole_and_blocks(path, monkeypatch, period_col="P", extra_cols=("k", "f"))
    assert list(blocks.ids) == list(whole.ids) and blocks.rejects == whole.rejects
    assert len(whole.rejects) == 2
    for name in ("k", "f"):
        assert blocks.extra[name].dtype == whole.extra[name].dtype
        np.testing.assert_array_equal(blocks.extra[name], whole.extra[name])
    np.testing.assert_array_equal(blocks.periods, whole.periods)


# --- compressed catalogs and IPAC tables (issue 23.6) --------------------------------

COMPRESS = {".gz": "gzip", ".bz2": "bz2", ".xz": "lzma"}


def _compress(path, suffix):
    import importlib
    target = path.parent / (path.name + suffix)
    target.write_bytes(importlib.import_module(COMPRESS[suffix]).compress(path.read_bytes()))
    return target


@pytest.mark.parametrize("suffix", sorted(COMPRESS))
@pytest.mark.parametrize("name, fmt", [("cat.csv", "ascii.csv"), ("cat.ecsv", "ascii.ecsv"),
                                       ("cat.tbl", "ascii.ipac"), ("cat.fits", "fits"),
                                       ("cat.parquet", "parquet")])
def test_compressed_catalogs_read_like_plain_ones(tmp_path, suffix, name, fmt):
    path = tmp_path / name
    table = Table({"oid": ["a7", "b", "c", "b"], "cls": ["EW", "RRab", "EA", "EW"],
                   "P": [0.31, 1.5, 2.5, 0.7], "vmag": [14.0, 15.5, 12.1, 13.0]})
    table.write(path, format=fmt)
    plain = read_catalog(path, "oid", label_col="cls", period_col="P", extra_cols=("vmag",))
    packed = read_catalog(_compress(path, suffix), "oid", label_col="cls", period_col="P",
                          extra_cols=("vmag",))
    assert list(packed.ids) == list(plain.ids) == ["a7", "b", "c"]
    assert list(packed.labels) == list(plain.labels)
    np.testing.assert_array_equal(packed.periods, plain.periods)
    np.testing.assert_array_equal(packed.extra["vmag"], plain.extra["vmag"])
    assert packed.rejects == plain.rejects and len(plain.rejects) == 1


def test_ipac_catalog_as_irsa_writes_it(tmp_path):
    path = tmp_path / "stars.tbl"
    Table({"oid": np.array([633210100012345, 633210100012346], np.int64),
           "ra": [120.1, 120.2], "dec": [30.2, 30.3],
           "period": MaskedColumn([0.512, 0.0], mask=[False, True]),
           "class": ["RR", "EW"]}).write(path, format="ascii.ipac")
    # IRSA's keyword lines before the |-delimited header
    path.write_text("\\fixlen = T\n"
                    "\\ORIGIN  = 'IPAC Infrared Science Archive (IRSA), Caltech/JPL'\n"
                    + path.read_text())
    assert "null" in path.read_text()
    cat = read_catalog(path, "oid", label_col="class", period_col="period")
    assert list(cat.ids) == ["633210100012345", "633210100012346"]
    assert list(cat.labels) == ["RR", "EW"]
    np.testing.assert_array_equal(cat.periods, [0.512, np.nan])


def test_an_unreadable_catalog_gives_the_first_line_of_the_reason(tmp_path):
    path = tmp_path / "cat.txt"
    path.write_text("\x00\x01 not a table")
    with pytest.raises(InputError) as raised:
        read_catalog(path, "id")
    message = str(raised.value)
    assert "could not be read" in message and "\n" not in message
    assert "Format could not be identified" in message
