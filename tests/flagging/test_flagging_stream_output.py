"""The flag table written block by block equals the table written whole."""

import numpy as np
import pytest
from astropy.table import Table, vstack

from rnngmm.errors import InputError
from rnngmm.flagging.output import TableWriter, column_widths, output_format, write_table
from rnngmm.flagging.table import read_table


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


def all_widths(parts, suffix):
    """Text widths over every block, as the flag driver finds them first."""
    widths = {}
    for part in parts:
        for name, width in (column_widths(part, output_format(f"x{suffix}")) or {}).items():
            widths[name] = max(widths.get(name, 1), width)
    return widths


@pytest.mark.parametrize("suffix", [".ecsv", ".csv", ".fits", ".parquet", ".h5"])
def test_blocks_read_back_as_the_whole_table(tmp_path, suffix):
    parts = blocks()
    whole = vstack(parts)
    whole.meta = parts[0].meta
    one = tmp_path / f"whole{suffix}"
    write_table(whole, one)
    streamed = tmp_path / f"streamed{suffix}"
    with TableWriter(streamed, len(whole), widths=all_widths(parts, suffix)) as writer:
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


def write_hdf5_both_ways(parts, directory):
    """``whole.h5`` written by astropy at once, ``streamed.h5`` block by block."""
    whole = vstack(parts)
    whole.meta = parts[0].meta
    one, streamed = directory / "whole.h5", directory / "streamed.h5"
    whole.write(one, format="hdf5", path="flags", serialize_meta=True)
    with TableWriter(streamed, len(whole), widths=all_widths(parts, ".h5")) as writer:
        for part in parts:
            writer.write(part)
    return one, streamed


def test_hdf5_blocks_are_appended_to_one_table(tmp_path):
    """The streamed HDF5 table is one dataset of the whole table's row type
    (text as UTF-8 bytes of the widest value of all blocks), with astropy's
    metadata, readable by plain astropy."""
    import h5py
    parts = blocks()
    for part in parts:  # "é" is two bytes: HDF5 widths are bytes, not characters
        part["id"] = [f"{v}{'é' * (len(v) % 4)}" for v in part["id"]]
    one, streamed = write_hdf5_both_ways(parts, tmp_path)
    with h5py.File(one, "r") as a, h5py.File(streamed, "r") as b:
        assert a["flags"].dtype == b["flags"].dtype
        assert b["flags"].dtype["id"].itemsize == max(len(v.encode()) for v in
                                                          vstack(parts)["id"])
        for name in a["flags"].dtype.names:
            np.testing.assert_array_equal(a["flags"][name], b["flags"][name], err_msg=name)
        np.testing.assert_array_equal(a["flags.__table_column_meta__"][()],
                                      b["flags.__table_column_meta__"][()])
    back = Table.read(streamed, path="flags")
    assert back["period"].unit == "d" and back.meta["thresholds"] == {"95": 2.5}


def test_hdf5_masked_columns_are_streamed_as_astropy_writes_them(tmp_path):
    """Masked columns (as score or similar may write) become value and mask
    columns, as in astropy's own HDF5 write, block after block."""
    from astropy.table import MaskedColumn
    parts = blocks()
    for part in parts:
        n = len(part)
        part["note"] = MaskedColumn(part["note"], mask=np.arange(n) % 3 == 0)
        part["period"] = MaskedColumn(part["period"], mask=np.arange(n) % 2 == 0)
    one, streamed = write_hdf5_both_ways(parts, tmp_path)
    a, b = Table.read(one, path="flags"), Table.read(streamed, path="flags")
    for name in ("note", "period"):
        np.testing.assert_array_equal(a[name].mask, b[name].mask, err_msg=name)
        np.testing.assert_array_equal(a[name].filled(0), b[name].filled(0), err_msg=name)
    assert b["period"].unit == "d"


def test_hdf5_block_wider_than_the_widths_or_of_other_type_leaves_no_file(tmp_path):
    out = tmp_path / "flags.h5"
    first, wide = block(0, 5), block(5, 3)
    wide["status"] = ["a status longer than every status of the first block", "ok", "ok"]
    with pytest.raises(ValueError, match="wider than the"):
        with TableWriter(out, 8, widths=column_widths(first, "hdf5")) as writer:
            writer.write(first)
            writer.write(wide)
    other = block(5, 3)
    other["n_chunks"] = other["n_chunks"].astype(float)
    with pytest.raises(ValueError, match="other column"):
        with TableWriter(out, 8, widths=all_widths([first, other], ".h5")) as writer:
            writer.write(first)
            writer.write(other)
    assert list(tmp_path.iterdir()) == []


def test_hdf5_killed_while_writing_leaves_only_a_temporary(tmp_path):
    """SIGKILL after two of four blocks: no file at the output path, only a
    .tmp, which already holds those blocks' rows (they were appended, not
    collected)."""
    import h5py
    import subprocess
    import sys
    from helpers import REPO_ROOT
    out = tmp_path / "flags.h5"
    script = (
        "import os, signal, sys\n"
        "sys.path.insert(0, 'tests/flagging')\n"
        "from test_flagging_stream_output import all_widths, blocks\n"
        "from rnngmm.flagging.output import TableWriter\n"
        "parts = blocks()\n"
        f"with TableWriter({str(out)!r}, 23, widths=all_widths(parts, '.h5')) as writer:\n"
        "    for k, part in enumerate(parts):\n"
        "        writer.write(part)\n"
        "        if k == 1:\n"
        "            writer._handle.flush()\n"
        "            os.kill(os.getpid(), signal.SIGKILL)\n")
    killed = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=120)
    assert killed.returncode == -9, killed.stderr
    left = list(tmp_path.iterdir())
    assert len(left) == 1 and left[0].name.endswith(".tmp") and not out.exists(), left
    with h5py.File(left[0], "r") as f:
        assert list(f["flags"]["n_chunks"]) == list(vstack(blocks()[:2])["n_chunks"])
