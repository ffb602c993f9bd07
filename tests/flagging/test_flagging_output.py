"""The flag table and its writers: every format reads back with astropy."""

import os

import numpy as np
import pytest
from astropy.table import Table

from rnngmm.errors import InputError
from flagging_helpers import PooledScore
from rnngmm.flagging.output import build_table, write_table
from rnngmm.flagging.table import read_table
from rnngmm.flagging.results import RowResults
from rnngmm.object_table import anomaly_column, percentile_label


class StoredNovelty(PooledScore):
    """Stand-in mixture with fixed thresholds and percentiles."""

    def thresholds_for(self, percentiles):
        return {80.0: 2.0, 99.5: 6.0}

    def energy_percentile(self, energy):
        return {1.5: 40.0, 7.0: 99.5}[float(energy[0])] * np.ones(1) if len(energy) == 1 \
            else np.array([{1.5: 40.0, 7.0: 99.5}[float(e)] for e in energy])


def small_results():
    results = RowResults.empty(4, 2)
    results.status[:] = ["ok", "light-curve file not found (x.dat)", "ok", "too few points"]
    results.period[[0, 2]] = [0.5, 12.25]
    results.period_source[[0, 2]] = ["catalog", "lomb-scargle"]
    results.n_chunks[[0, 2]] = [1, 3]
    results.prob[[0, 2]] = [[0.25, 0.75], [0.9, 0.1]]
    results.energy[[0, 2]] = [1.5, 7.0]
    return results


def small_table():
    return build_table(
        id_name="source_id", ids=["007", "b", "c", "007"],
        columns={"vmag": np.array([14.5, np.nan, 15.0, 16.0]),
                 "note": np.array(["x", "", "z", "w"], dtype=object)},
        results=small_results(), class_names=["RRab", "EW"],
        novelty=StoredNovelty(), percentiles=(80.0, 99.5),
        meta={"run_id": "run-1", "thresholds": {"80": 2.0, "99.5": 6.0},
              "command": "rnngmm flag --out x", "n_ok": 2})


def test_build_table_columns():
    table = small_table()
    assert table.colnames[:5] == ["source_id", "vmag", "note", "status", "period"]
    assert list(table["predicted_class"]) == ["EW", "", "RRab", ""]
    np.testing.assert_allclose(table["class_probability"], [0.75, np.nan, 0.9, np.nan])
    assert list(table["anomaly_80"]) == [False, False, True, False]
    assert list(table["anomaly_99p5"]) == [False, False, True, False]
    assert list(table["prob_EW"][[0, 2]]) == [0.75, 0.1]
    np.testing.assert_allclose(table["energy_percentile"], [40.0, np.nan, 99.5, np.nan])


def test_percentile_labels():
    assert percentile_label(95) == "95" and percentile_label(99.5) == "99p5"
    assert anomaly_column(80.0) == "anomaly_80"


@pytest.mark.parametrize("suffix", [".ecsv", ".fits", ".csv", ".h5"])
def test_each_format_reads_back_with_astropy(tmp_path, suffix):
    table = small_table()
    path = str(tmp_path / f"flags{suffix}")
    write_table(table, path)
    back = read_table(path)
    assert back.colnames == table.colnames
    assert len(back) == len(table)
    for name in table.colnames:
        expected, got = np.asarray(table[name]), np.asarray(back[name])
        if expected.dtype.kind == "f":
            np.testing.assert_array_equal(got.astype(float), expected, err_msg=name)
        elif expected.dtype.kind in "bi":
            assert list(got.astype(expected.dtype)) == list(expected), name
        else:
            assert [str(v) for v in got] == list(expected), name
    meta = {k.lower(): v for k, v in back.meta.items()}
    if suffix == ".csv":
        assert "run_id: run-1" in meta["comments"]
    else:
        assert meta["run_id"] == "run-1"
    leftovers = [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
    assert leftovers == []


def test_plain_astropy_reads_the_ecsv_with_metadata(tmp_path):
    path = str(tmp_path / "flags.ecsv")
    write_table(small_table(), path)
    back = Table.read(path)
    assert back.meta["thresholds"] == {"80": 2.0, "99.5": 6.0}
    assert back["source_id"][0] == "007"


def test_unknown_suffix_and_missing_directory(tmp_path):
    with pytest.raises(InputError, match="suffix"):
        write_table(small_table(), str(tmp_path / "flags.txt"))
    with pytest.raises(InputError, match="does not exist"):
        write_table(small_table(), str(tmp_path / "nope" / "flags.ecsv"))
