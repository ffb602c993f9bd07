"""The reader thread of flag and the streamed output: same results and files
as reading in turn and writing the whole table, within bounded memory."""

import numpy as np
import pytest

from flagging_helpers import FakeScorer, write_catalog
from rnngmm.dist import Dist
from rnngmm.flagging.driver import run_flagging
from rnngmm.flagging.job import FlagSummary, summary_lines
from rnngmm.flagging.table import read_table
from rnngmm.flagging.prefetch import Prefetch
from rnngmm.flagging.sources import CatalogSource
from rnngmm.flagging.stream import stream_results
from test_flagging_driver import CHUNKING, PREPROCESSING, counted, make_job


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    return write_catalog(str(tmp_path_factory.mktemp("catalog")))


def test_prefetch_yields_every_item_in_order_and_reraises():
    with Prefetch(lambda: iter(range(50)), depth=3) as items:
        assert list(items) == list(range(50))

    def failing():
        yield 1
        raise OSError("disk went away")
    with Prefetch(failing, depth=1) as items:
        iterator = iter(items)
        assert next(iterator) == 1
        with pytest.raises(OSError, match="disk went away"):
            next(iterator)


def test_leaving_early_stops_the_reader_thread():
    pulled = []

    def endless():
        n = 0
        while True:
            pulled.append(n)
            yield n
            n += 1
    prefetch = Prefetch(endless, depth=2)
    assert next(iter(prefetch)) == 0
    prefetch.close()
    assert not prefetch._thread.is_alive()
    assert len(pulled) <= 5  # the queue bound, not the whole stream


def test_threaded_stream_equals_reading_in_turn_and_is_bounded(catalog):
    source = CatalogSource(catalog[0], catalog[1], "crts", period_col="period")
    state = {"pulled": 0, "emitted": 0, "max_in_flight": 0}

    def run(prefetch, records):
        out = []
        for rows, results in stream_results(records, FakeScorer(), PREPROCESSING, CHUNKING,
                                            batch_objects=3, prefetch=prefetch):
            out.append((rows, results))
            state["emitted"] += len(rows)
        return out

    plain = run(0, source.iter_records(range(source.n_rows)))
    state.update(pulled=0, emitted=0, max_in_flight=0)
    threaded = run(2, counted(source.iter_records(range(source.n_rows)), state))
    assert state["max_in_flight"] <= (2 + 2) * 3
    assert len(plain) == len(threaded)
    for (rows_a, a), (rows_b, b) in zip(plain, threaded):
        np.testing.assert_array_equal(rows_a, rows_b)
        assert list(a.status) == list(b.status)
        np.testing.assert_array_equal(a.energy, b.energy)
        np.testing.assert_array_equal(a.prob, b.prob)


@pytest.mark.parametrize("suffix", [".ecsv", ".csv", ".fits", ".parquet"])
def test_streamed_output_without_the_whole_table_equals_the_kept_table(tmp_path, catalog,
                                                                       suffix):
    (tmp_path / "a").mkdir()
    kept_job = make_job(tmp_path / "a", out_name=f"flags{suffix}", catalog=catalog,
                        prefetch_batches=0)
    kept = run_flagging(kept_job, Dist())
    summary = FlagSummary((80.0, 95.0, 99.0), ["A", "B", "C"], "class")
    (tmp_path / "b").mkdir()
    streamed_job = make_job(tmp_path / "b", out_name=f"flags{suffix}", catalog=catalog,
                            keep_table=False, summary=summary, prefetch_batches=2)
    assert run_flagging(streamed_job, Dist()) is None
    a, b = read_table(kept_job.out), read_table(streamed_job.out)
    assert len(a) == len(b) == len(kept) == len(catalog[2])
    for name in a.colnames:
        if a[name].dtype.kind == "f":
            np.testing.assert_array_equal(np.asarray(a[name]), np.asarray(b[name]), name)
        else:
            assert list(a[name]) == list(b[name]), name
    assert summary.lines() == summary_lines(kept, (80.0, 95.0, 99.0), ["A", "B", "C"],
                                            "class")
    assert summary.rows == len(catalog[2])
