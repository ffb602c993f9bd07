"""The flag table written block by block equals the table written whole."""

import numpy as np
import pytest
from astropy.table import Table, vstack

from rnngmm.errors import InputError
from rnngmm.flagging.output import TableWriter, read_table, text_widths, write_table


def block(start, n):
    """Rows ``start:start+n`` of a flag-like table (text of varying widths,
    NaN, bools, ints, units, descriptions, metadata)."""
    rows = np.arange(start, start + n)
    table = Table()
    table["id"] = np.array([f"obj-{i}" * (1 + i % 3) for i in rows], dtype=str)
    table["status"] = np.array(["ok" if i % 4 else "light-curve file not found" for i in rows],
                               dtype=str)
    table["period"] = np.where(rows % 4, 0.5 + rows, np.nan)
    table["period"].unit = "d"
    table["period"].description = "period used (days)"
    table["n_chunks"] = (rows % 3).astype(np.int64)
    table["anomaly_95"] = rows % 5 == 0
    table["note"] = np.array(["" if i % 2 else "x" for i in rows], dtype=str)
    table.meta.update({"run_id": "run-1", "n_rows": 23, "thresholds": {"95": 2.5}})
    return table


def blocks():
    return [block(0, 5), block(5, 1), block(6, 10), block(16, 7)]


@pytest.mark.parametrize("suffix", [".ecsv", ".csv", ".fits", ".parquet", ".h5"])
def test_blocks_read_back_as_the_whole_table(tmp_path, suffix):
    parts = blocks()
    whole = vstack(parts)
    whole.meta = parts[0].meta
    one = tmp_path / f"whole{suffix}"
    write_table(whole, one)
    streamed = tmp_path / f"streamed{suffix}"
    widths = {}
    for part in parts:
        for name, width in text_widths(part).items():
            widths[name] = max(widths.get(name, 1), width)
    with TableWriter(streamed, len(whole), widths=widths) as writer:
        for part in parts:
            writer.write(part)
    a, b = read_table(one), read_table(streamed)
    assert a.colnames == b.colnames and len(b) == 23
    for name in a.colnames:
        assert a[name].dtype.kind == b[name].dtype.kind, name
        if a[name].dtype.kind == "f":
            np.testing.assert_array_equal(np.asarray(a[name]), np.asarray(b[name]))
        else:
            assert list(a[name]) == list(b[name]), name
    if suffix != ".csv":  # CSV keeps the metadata as comment lines
        assert b.meta.get("run_id", b.meta.get("RUN_ID")) == "run-1"
    if suffix in (".ecsv", ".csv", ".fits"):  # the same bytes as one write
        assert one.read_bytes() == streamed.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([one.name, streamed.name])


def test_wrong_row_count_or_columns_leave_no_file(tmp_path):
    out = tmp_path / "flags.ecsv"
    with pytest.raises(ValueError, match="6 rows written, 7 expected"):
        with TableWriter(out, 7) as writer:
            writer.write(block(0, 6))
    other = block(6, 2)
    other["n_chunks"] = other["n_chunks"].astype(float)
    with pytest.raises(ValueError, match="other columns"):
        with TableWriter(out, 8) as writer:
            writer.write(block(0, 6))
            writer.write(other)
    assert list(tmp_path.iterdir()) == []


def test_unknown_suffix_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="unknown suffix"):
        TableWriter(tmp_path / "x.txt", 1)
