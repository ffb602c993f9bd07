"""Text tables written block by block equal a whole-table write."""

import io

import numpy as np
import pytest
from astropy.table import Table

from rnngmm.io.rejects import RejectsStream, rejects_table
from rnngmm.io.table_stream import TextTableStream


def _table(n, start=0):
    rng = np.random.default_rng(start)
    table = Table({"id": np.array([f"obj {i}" if i % 3 else "" for i in range(start, start + n)], dtype=str),
                   "x": rng.normal(size=n), "k": np.arange(start, start + n),
                   "flag": rng.random(n) > 0.5})
    table["x"][::4] = np.nan
    table.meta["comments"] = ["a comment"]
    table.meta["run"] = "r1"
    return table


@pytest.mark.parametrize("fmt, options", [("ascii.ecsv", {}),
                                          ("ascii.csv", {"comment": "# "})])
def test_blocks_give_the_whole_table_text(fmt, options):
    from astropy.table import vstack
    blocks = [_table(0), _table(5), _table(0, 5), _table(7, 5), _table(1, 12)]
    buffer = io.StringIO()
    stream = TextTableStream(buffer, fmt, **options)
    for block in blocks:
        stream.write(block)
    whole = io.StringIO()
    merged = vstack(blocks)
    merged.meta = blocks[0].meta
    merged.write(whole, format=fmt, **options)
    assert buffer.getvalue() == whole.getvalue()
    assert stream.rows == 13


def test_a_block_with_other_columns_is_refused():
    stream = TextTableStream(io.StringIO(), "ascii.ecsv")
    stream.write(_table(2))
    other = _table(2)
    other["k"] = other["k"].astype(float)
    with pytest.raises(ValueError, match="other columns"):
        stream.write(other)


def test_rejects_merge_catalog_rejects_in_row_order():
    earlier = [(0, "a", "missing id"), (5, "b", "duplicate id"), (40, "c", "bad period")]
    buffer = io.StringIO()
    sink = RejectsStream(TextTableStream(buffer, "ascii.ecsv"), earlier, batch_rows=2)
    sink.add([1, 2], ["x1", "x2"], ["too few points (3 < 20)", "missing file"])
    sink.add([7], ["x7"], ["r"])
    sink.add([], [], [])
    sink.add([9, 30], ["x9", "x30"], ["r", "r"])
    sink.close()
    rows = earlier + [(1, "x1", "too few points (3 < 20)"), (2, "x2", "missing file"),
                      (7, "x7", "r"), (9, "x9", "r"), (30, "x30", "r")]
    rows.sort()
    whole = io.StringIO()
    rejects_table(*zip(*rows)).write(whole, format="ascii.ecsv")
    assert buffer.getvalue() == whole.getvalue()
    assert sink.count == 8


def test_empty_rejects_table_has_its_header():
    buffer = io.StringIO()
    sink = RejectsStream(TextTableStream(buffer, "ascii.ecsv"))
    sink.close()
    table = Table.read(buffer.getvalue(), format="ascii.ecsv")
    assert table.colnames == ["catalog_row", "id", "reason"] and len(table) == 0
