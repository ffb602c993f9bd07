"""Flagging plumbing on one process with a stand-in model: rows, order,
statuses, streaming bound, shards and resume."""

import os

import numpy as np
import pytest

from flagging_helpers import GARBAGE, FakeNovelty, FakeScorer, write_catalog
from rnngmm.debug import FLAG_FAULT as FAULT_ENV
from rnngmm.dist import Dist
from rnngmm.errors import InputError
from rnngmm.flagging import shards as sh
from rnngmm.flagging.driver import FlagJob, run_flagging
from rnngmm.flagging.table import read_table
from rnngmm.flagging.sources import CatalogSource
from rnngmm.flagging.stream import stream_results
from rnngmm.lightcurves.objects import Chunking, Preprocessing

CHUNKING = Chunking(n_min=10, n_max=50, period_fold=False)
PREPROCESSING = Preprocessing(min_points=10)


def make_job(tmp_path, out_name="flags.ecsv", catalog=None, **options):
    if catalog is None:
        catalog = write_catalog(str(tmp_path))
    catalog_path, lc_dir, _ = catalog
    source = CatalogSource(catalog_path, lc_dir, "crts", id_col="id", period_col="period",
                           pass_through=["vmag", "class"])
    settings = dict(batch_objects=4, shard_objects=7, progress_interval=0.0)
    settings.update(options)
    return FlagJob(source=source, scorer=FakeScorer(), novelty=FakeNovelty(),
                   class_names=["A", "B", "C"], preprocessing=PREPROCESSING, chunking=CHUNKING,
                   out=str(tmp_path / out_name), run_id="test-run", **settings)


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    return write_catalog(str(tmp_path_factory.mktemp("catalog")))


@pytest.fixture(scope="module")
def flagged(tmp_path_factory, catalog):
    tmp_path = tmp_path_factory.mktemp("flagged")
    job = make_job(tmp_path, catalog=catalog)
    table = run_flagging(job, Dist())
    return job, table


def test_one_row_per_catalog_row_in_catalog_order(flagged, catalog):
    job, table = flagged
    ids = catalog[2]
    written = read_table(job.out)
    assert list(written["id"].astype(str)) == ids
    assert len(written) == len(table) == len(ids)
    assert not os.path.exists(sh.parts_dir(job.out)), "parts directory left behind"


def test_garbage_rows_get_reasons_not_crashes(flagged, catalog):
    _, table = flagged
    status = dict(zip(table["id"][:-1], table["status"][:-1]))
    for object_id, reason in GARBAGE.items():
        assert status[object_id].startswith(reason), (object_id, status[object_id])
    duplicate = table[-1]
    assert duplicate["status"].startswith("duplicate catalog id")
    assert duplicate["id"] == catalog[2][0]
    good = [i for i in catalog[2][:-1] if i.isdigit()]
    assert all(status[i] == "ok" for i in good)


def test_result_columns_consistent(flagged):
    _, table = flagged
    ok = table["status"] == "ok"
    prob = np.stack([table["prob_A"], table["prob_B"], table["prob_C"]], axis=1)
    np.testing.assert_allclose(prob[ok].sum(axis=1), 1.0, rtol=1e-9)
    assert np.all(np.isnan(prob[~ok])) and np.all(np.isnan(table["energy"][~ok]))
    names = np.array(["A", "B", "C"])
    assert list(table["predicted_class"][ok]) == list(names[prob[ok].argmax(axis=1)])
    assert np.all(table["predicted_class"][~ok] == "")
    np.testing.assert_allclose(table["class_probability"][ok], prob[ok].max(axis=1))
    assert np.all(table["n_chunks"][ok] >= 1) and np.all(table["n_chunks"][~ok] == 0)
    assert np.any(table["n_chunks"] > 1), "no object was long enough for several chunks"
    for p in (80, 95, 99):
        expected = ok & (np.asarray(table["energy"]) > p / 20)
        assert list(table[f"anomaly_{p}"]) == list(expected)
    assert set(table["period_source"][ok]) == {"catalog", "lomb-scargle"}
    assert table.meta["run_id"] == "test-run"
    assert table.meta["threshold_95"] == pytest.approx(95 / 20)


def test_pass_through_columns(flagged, catalog):
    _, table = flagged
    assert table["vmag"][0] == pytest.approx(14.0)
    assert np.isnan(table["vmag"][-1]), "duplicate row's columns are not the first row's"
    assert table["class"][1] == "B"


def test_batches_and_shards_do_not_change_results(tmp_path, catalog, flagged):
    _, reference = flagged
    other = run_flagging(make_job(tmp_path, catalog=catalog, batch_objects=1,
                                  shard_objects=100), Dist())
    for name in reference.colnames:
        np.testing.assert_array_equal(np.asarray(other[name]), np.asarray(reference[name]),
                                      err_msg=name)


def counted(records, state):
    """``records``, counting in ``state`` the most items pulled and not yet
    ``state["emitted"]``."""
    for item in records:
        state["pulled"] += 1
        state["max_in_flight"] = max(state["max_in_flight"],
                                     state["pulled"] - state["emitted"])
        yield item


def test_reader_holds_at_most_batch_objects(tmp_path, catalog):
    source = CatalogSource(catalog[0], catalog[1], "crts", period_col="period")
    state = {"pulled": 0, "max_in_flight": 0, "emitted": 0}
    scorer = FakeScorer()
    stream = stream_results(counted(source.iter_records(range(source.n_rows)), state), scorer,
                            PREPROCESSING, CHUNKING, batch_objects=5)
    for rows, results in stream:
        assert len(rows) == len(results) <= 5
        state["emitted"] += len(rows)
    assert state["emitted"] == source.n_rows
    assert state["max_in_flight"] <= 5
    assert len(scorer.batches) >= source.n_rows // 5 - 1


def test_failure_then_resume_equals_uninterrupted(tmp_path, catalog, flagged, monkeypatch):
    _, reference = flagged
    job = make_job(tmp_path, catalog=catalog)
    monkeypatch.setenv(FAULT_ENV, "0:raise:2")
    with pytest.raises(RuntimeError, match="injected"):
        run_flagging(job, Dist())
    directory = sh.parts_dir(job.out)
    assert sh.count_shard_files(directory) == 2
    assert not os.path.exists(job.out)
    monkeypatch.delenv(FAULT_ENV)
    job.resume = True
    job.scorer = FakeScorer()
    table = run_flagging(job, Dist())
    for name in reference.colnames:
        np.testing.assert_array_equal(np.asarray(table[name]), np.asarray(reference[name]),
                                      err_msg=name)


def test_resume_scores_only_missing_shards(tmp_path, catalog, monkeypatch):
    job = make_job(tmp_path, catalog=catalog)
    monkeypatch.setenv(FAULT_ENV, "0:raise:3")
    with pytest.raises(RuntimeError):
        run_flagging(job, Dist())
    monkeypatch.delenv(FAULT_ENV)
    seen = []
    original = job.source.iter_records

    def spy(rows):
        seen.extend(int(r) for r in rows)
        return original(rows)

    job.source.iter_records = spy
    job.resume = True
    run_flagging(job, Dist())
    assert seen == list(range(21, job.source.n_rows))


def test_resume_with_other_inputs_is_refused(tmp_path, catalog, monkeypatch):
    job = make_job(tmp_path, catalog=catalog)
    monkeypatch.setenv(FAULT_ENV, "0:raise:1")
    with pytest.raises(RuntimeError):
        run_flagging(job, Dist())
    monkeypatch.delenv(FAULT_ENV)
    changed = make_job(tmp_path, catalog=catalog, shard_objects=5, resume=True)
    with pytest.raises(InputError, match="shard_objects"):
        run_flagging(changed, Dist())


def test_damaged_shard_is_redone(tmp_path, catalog, flagged, monkeypatch):
    _, reference = flagged
    job = make_job(tmp_path, catalog=catalog)
    monkeypatch.setenv(FAULT_ENV, "0:raise:2")
    with pytest.raises(RuntimeError):
        run_flagging(job, Dist())
    monkeypatch.delenv(FAULT_ENV)
    first = sh.shard_path(sh.parts_dir(job.out), sh.plan_shards(job.source.n_rows, 7)[0])
    with open(first, "r+b") as handle:
        handle.truncate(100)
    job.resume = True
    table = run_flagging(job, Dist())
    np.testing.assert_array_equal(np.asarray(table["energy"]), np.asarray(reference["energy"]))
