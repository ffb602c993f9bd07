"""rnngmm.flagging.table: the flag table read back, and its metadata in every format."""

import numpy as np
import pytest
from astropy.table import MaskedColumn, Table

from rnngmm.errors import InputError
from rnngmm.flagging.output import write_table
from rnngmm.flagging.table import (anomaly_columns, anomaly_thresholds, class_names_of,
                                   float_values, read_table, recorded_inputs,
                                   table_id_column, table_meta, text_values)

INPUTS = {"catalog": "/data/cat.csv", "lightcurves": "/data/lc", "format": "asassn",
          "reader_options": {"filter": "V"}}


def flag_like():
    """A small table with the columns and metadata ``rnngmm flag`` writes."""
    table = Table()
    table["source_id"] = ["a", "b", "c"]
    table["status"] = ["ok", "light-curve file not found", "ok"]
    table["prob_RRab"] = [0.2, np.nan, 0.9]
    table["prob_EW"] = [0.8, np.nan, 0.1]
    table["energy"] = [1.5, np.nan, 7.0]
    table["anomaly_95"] = [False, False, True]
    table["anomaly_99p5"] = [False, False, False]
    table.meta.update({"run_id": "run-1", "run_dir": "/runs/run-1",
                       "class_names": ["RRab", "EW"], "percentiles": [95.0, 99.5],
                       "threshold_95": 4.5, "threshold_99p5": 9.0,
                       "preprocessing": {"min_points": 5}, "inputs": INPUTS})
    return table


@pytest.mark.parametrize("suffix", [".ecsv", ".fits", ".csv", ".h5", ".parquet"])
def test_metadata_reads_back_the_same_from_every_format(tmp_path, suffix):
    path = tmp_path / f"flags{suffix}"
    write_table(flag_like(), str(path))
    table = read_table(path)
    assert table_meta(table, "run_id") == "run-1"
    assert table_meta(table, "run_dir") == "/runs/run-1"
    assert table_meta(table, "preprocessing") == {"min_points": 5}
    assert table_meta(table, "percentiles") == [95.0, 99.5]
    assert class_names_of(table) == ["RRab", "EW"]
    thresholds = [(name, float(value)) for name, value in anomaly_thresholds(table)]
    assert thresholds == [("anomaly_95", 4.5), ("anomaly_99p5", 9.0)]  # CSV: as text
    assert recorded_inputs(table) == INPUTS
    assert table_id_column(table) == "source_id"
    assert list(text_values(table, "status")) == list(flag_like()["status"])
    np.testing.assert_array_equal(float_values(table, "energy"), [1.5, np.nan, 7.0])


def test_table_meta_reads_fits_and_csv_spellings():
    table = Table({"id": ["a"]})
    table.meta.update({"RUN_DIR": "/r", "PREPROCESSING": '{"min_points": 5}'})
    assert table_meta(table, "run_dir") == "/r"
    assert table_meta(table, "preprocessing") == {"min_points": 5}
    csv = Table({"id": ["a"]})
    csv.meta["comments"] = ["run_id: tiny", 'class_names: ["A", "B"]']
    assert table_meta(csv, "class_names") == ["A", "B"]
    assert table_meta(csv, "missing", 3) == 3


def test_columns_without_metadata():
    table = flag_like()
    table.meta.clear()
    assert class_names_of(table) == ["RRab", "EW"]  # column order
    assert anomaly_columns(table) == ["anomaly_95", "anomaly_99p5"]
    assert anomaly_thresholds(table) == [("anomaly_95", None), ("anomaly_99p5", None)]
    assert recorded_inputs(table) is None
    table.meta["class_names"] = ["RRab", "EW", "Mira"]  # no prob_Mira: columns win
    assert class_names_of(table) == ["RRab", "EW"]
    table.meta["inputs"] = "not json"
    assert recorded_inputs(table) is None


def test_id_column_and_masked_values():
    table = flag_like()
    assert table_id_column(table, "status") == "status"
    with pytest.raises(InputError, match="no id column 'gaia_id'"):
        table_id_column(table, "gaia_id")
    table["vmag"] = MaskedColumn([14.0, 15.0, 16.0], mask=[False, True, False])
    np.testing.assert_array_equal(float_values(table, "vmag"), [14.0, np.nan, 16.0])


def test_unreadable_tables_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_table(tmp_path / "none.ecsv")
    (tmp_path / "flags.txt").write_text("id\na\n")
    with pytest.raises(InputError, match="suffix"):
        read_table(tmp_path / "flags.txt")
    (tmp_path / "flags.fits").write_bytes(b"not a FITS file at all")
    with pytest.raises(InputError, match="cannot be read as a flag table"):
        read_table(tmp_path / "flags.fits")
