"""CatalogSource reading several bands per star (issue 25): a BandedRecord per
readable star, a reason naming each band's problem otherwise, one band as ever."""

import numpy as np
import pytest

from band_files import write_asassn, write_gaia_flat, write_ztf_star, ztf_table
from rnngmm.errors import InputError
from rnngmm.flagging.sources import BandedRecord, CatalogSource, ObjectRecord


def catalog(path, ids, periods=None):
    lines = ["id,period"] + [f"{i},{'' if periods is None else periods[k]}"
                             for k, i in enumerate(ids)]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def ztf_stars(tmp_path):
    """Three stars as IRSA delivers them: g and r files; g only; an empty g and
    no r file; and the same stars as CSV files holding both bands."""
    ipac, csv = tmp_path / "ipac", tmp_path / "csv"
    ipac.mkdir()
    csv.mkdir()
    stars = {"a": {"zg": 9, "zr": 12}, "b": {"zg": 10, "zr": None}, "c": {"zg": 0, "zr": None}}
    for k, (star, counts) in enumerate(stars.items()):
        write_ztf_star(ipac, star, k, counts)
        present = {band: n for band, n in counts.items() if n}
        if present:
            write_ztf_star(csv, star, k, present, shape="csv")
    cat = catalog(tmp_path / "cat.csv", ["a", "b", "c"], periods=[0.7, "", ""])
    return cat, ipac, csv


def records(source):
    return dict(source.iter_records(range(source.n_rows)))


def test_per_band_ipac_files_give_banded_records(ztf_stars):
    cat, ipac, _ = ztf_stars
    source = CatalogSource(cat, ipac, "ztf", period_col="period", template="{id}_{band}.tbl",
                           reader_options={"band": ("g", "r")})
    assert source.bands == ("g", "r")
    assert source.inputs["reader_options"] == {"bands": ("g", "r")}
    found = records(source)
    a, b, c = found[0], found[1], found[2]
    assert isinstance(a, BandedRecord)
    assert list(a.bands) == ["g", "r"] and a.missing == {}
    assert [len(a.bands[band][0]) for band in a.bands] == [9, 12]
    assert a.period == 0.7 and a.period_source == "catalog"
    assert isinstance(b, BandedRecord) and list(b.bands) == ["g"]
    assert b.missing == {"r": "light-curve file not found (b_r.tbl)"}
    assert np.isnan(b.period)
    assert c == ("no band usable (g: empty table; r: light-curve file not found (c_r.tbl))")


def test_one_csv_holding_both_bands(ztf_stars):
    cat, _, csv = ztf_stars
    source = CatalogSource(cat, csv, "ztf", period_col="period",
                           reader_options={"band": ["g", "r"]})
    found = records(source)
    assert [len(found[0].bands[band][0]) for band in ("g", "r")] == [9, 12]
    assert found[1].missing == {"r": "no rows of band zr in column 'filtercode' "
                                     "(bands found: zg)"}
    assert found[2] == "light-curve file not found (c.csv)"


def test_one_band_reads_as_ever_and_may_fill_the_band_field(ztf_stars):
    cat, ipac, csv = ztf_stars
    source = CatalogSource(cat, ipac, "ztf", period_col="period", template="{id}_{band}.tbl",
                           reader_options={"band": ["r"]})
    assert source.bands is None
    found = records(source)
    assert isinstance(found[0], ObjectRecord) and len(found[0].time) == 12
    assert found[1] == "light-curve file not found (b_r.tbl)"
    found = records(CatalogSource(cat, csv, "ztf", period_col="period",
                                  reader_options={"band": "g"}))
    assert isinstance(found[1], ObjectRecord) and len(found[1].time) == 10
    with pytest.raises(InputError, match="has a '{band}' field"):
        CatalogSource(cat, ipac, "ztf", template="{id}_{band}.tbl")


def test_long_table_of_several_bands(tmp_path):
    from astropy.table import vstack
    long = vstack([ztf_table(1, "zg", 5), ztf_table(1, "zr", 6), ztf_table(2, "zr", 7),
                   ztf_table(3, "zi", 4)])
    long.write(tmp_path / "long.csv", format="ascii.csv")
    cat = catalog(tmp_path / "cat.csv", ["1", "2", "3", "4"])
    source = CatalogSource(cat, tmp_path / "long.csv", "ztf", lc_id_col="oid",
                           reader_options={"band": ("g", "r")})
    found = records(source)
    assert [len(found[0].bands[band][0]) for band in ("g", "r")] == [5, 6]
    assert list(found[1].bands) == ["r"] and "g" in found[1].missing
    assert found[2].startswith("no band usable (g: no rows of band zg")
    assert found[3] == "no rows in the light-curve table"


def test_gaia_and_asassn_stars(tmp_path):
    gaia = tmp_path / "gaia"
    gaia.mkdir()
    write_gaia_flat(gaia / "11.parquet", 11, n=8)
    cat = catalog(tmp_path / "cat.csv", ["11"])
    found = records(CatalogSource(cat, gaia, "gaia",
                                  reader_options={"band": ("G", "BP", "RP"),
                                                  "zero_point": (25.7, 25.3, 24.7)}))
    assert list(found[0].bands) == ["G", "BP", "RP"]
    asassn = tmp_path / "asassn"
    asassn.mkdir()
    write_asassn(asassn / "11.csv", {"V": 12, "g": 9})
    found = records(CatalogSource(cat, asassn, "asassn", reader_options={"filter": ("V", "g")}))
    assert [len(found[0].bands[band][0]) for band in ("V", "g")] == [12, 9]
    found = records(CatalogSource(cat, asassn, "asassn", reader_options={"band": "g"}))
    assert isinstance(found[0], ObjectRecord) and len(found[0].time) == 9
