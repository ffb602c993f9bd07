"""Pure parts of :mod:`rnngmm.report.job` and :mod:`rnngmm.report.figures`: row
selection, neighbours, and per-object problems that become pages.

The chunk inversion is tested in ``tests/decoder/test_reconstruction.py``, the
flag table's metadata in ``tests/flagging/test_table.py``."""

import re

import numpy as np
import pytest
from astropy.table import Table

from rnngmm.decoder.reconstruction import ChunkPoints
from rnngmm.errors import InputError
from rnngmm.lightcurves.objects import Chunking
from rnngmm.report.figures import table_info
from rnngmm.report.job import (ReportObject, load_object, neighbours_of, select_rows,
                               write_report)


def _table(with_codes=True):
    table = Table()
    table["id"] = ["a", "b", "c", "d", "b", "e"]
    table["status"] = ["ok", "ok", "ok", "too few points (3 < 20)", "duplicate catalog id",
                       "ok"]
    table["period"] = [1.0, 2.0, 3.0, np.nan, np.nan, 5.0]
    table["predicted_class"] = ["X", "Y", "X", "", "", "Y"]
    table["prob_X"] = [0.9, 0.2, 0.6, np.nan, np.nan, 0.3]
    table["prob_Y"] = [0.1, 0.8, 0.4, np.nan, np.nan, 0.7]
    table["energy"] = [1.0, 5.0, 3.0, np.nan, 99.0, 4.0]
    table["energy_percentile"] = [10.0, 99.0, 60.0, np.nan, np.nan, 90.0]
    table["anomaly_95"] = [False, True, False, False, False, False]
    table["mean_mag"] = [12.0, 13.0, 14.0, 15.0, 16.0, 17.0]
    if with_codes:
        codes = np.array([[0, 0], [5, 5], [0.1, 0.2], [np.nan, np.nan], [np.nan, np.nan],
                          [4, 5.5]])
        table["code_0"], table["code_1"] = codes[:, 0], codes[:, 1]
    table.meta.update({"run_dir": "/x/run", "threshold_95": 4.5, "class_names": ["X", "Y"]})
    return table


def test_top_n_are_scored_rows_by_energy_once_per_id():
    table = _table()
    assert select_rows(table, n=3) == [1, 5, 2]  # the unscored duplicate (99) is skipped
    assert select_rows(table, n=50) == [1, 5, 2, 0]
    assert select_rows(table, ids=["d", "b", "a"]) == [3, 1, 0]
    with pytest.raises(InputError, match="'zz'"):
        select_rows(table, ids=["a", "zz"])
    with pytest.raises(InputError, match="--n"):
        select_rows(table, n=0)


def test_top_n_follow_the_score_the_flags_use_not_the_energy():
    """A sparse star has the highest energy; the run's (conditioned) novelty
    score, which the flags use, ranks another star first."""
    table = Table({"id": ["sparse", "odd", "plain"], "status": ["ok"] * 3,
                   "energy": [50.0, 20.0, 10.0], "energy_percentile": [60.0, 100.0, 10.0],
                   "novelty_score": [0.6, 1.7, 0.1], "anomaly_95": [False, True, False]})
    assert select_rows(table, n=2) == [1, 0]
    # a table written before the novelty_score column: the percentile first,
    # energies only between equal percentiles
    del table["novelty_score"]
    table["energy_percentile"] = [100.0, 100.0, 10.0]
    assert select_rows(table, n=3) == [0, 1, 2]
    table["energy_percentile"] = [60.0, 100.0, 10.0]
    assert select_rows(table, n=3) == [1, 0, 2]


def test_page_thresholds_are_labelled_in_the_unit_of_the_score():
    table = _table()
    table.meta["novelty_score"] = "class_energy"
    info = table_info(table)
    assert info["score_name"] == "class_energy"


def test_neighbours_exclude_the_object_itself():
    table = _table()
    found = neighbours_of(table, [1, 0, 3], k=2)
    assert [n.object_id for n in found[1]] == ["e", "c"]
    assert found[1][0].predicted_class == "Y" and found[1][0].distance > 0
    assert [n.object_id for n in found[0]][0] == "c"
    assert isinstance(found[3], str) and "not scored" in found[3]
    no_codes = neighbours_of(_table(with_codes=False), [1], k=2)
    assert "--with_code" in no_codes[1]


def test_neighbours_are_those_of_rnngmm_similar():
    from rnngmm import latent
    table = _table()
    found = neighbours_of(table, [1, 0], k=2)
    catalog = latent.catalog_codes(table)
    own = [list(catalog.rows).index(row) for row in (1, 0)]
    similar = latent.neighbour_table(table, catalog, ["b", "a"], catalog.codes[own], 3,
                                     self_rows=own)
    for q, row in enumerate((1, 0)):
        mine = similar[similar["query_id"] == ["b", "a"][q]][1:]  # rank 1: the object
        assert [n.object_id for n in found[row]] == list(mine["neighbour_id"])
        np.testing.assert_array_equal([n.distance for n in found[row]], mine["distance"])


def test_importing_the_job_imports_no_model_stack_and_no_matplotlib():
    import subprocess
    import sys
    code = ("import sys, rnngmm.report.job; print(sorted(m for m in ('keras', 'tensorflow', "
            "'matplotlib', 'sklearn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == "[]"  # the CLI imports the job to build its parser


def test_unreadable_light_curves_become_pages(tmp_path):
    table = _table()
    info = table_info(table)
    assert info["flags"] == [("anomaly_95", 4.5)] and info["other"] == ["mean_mag"]
    unread = load_object(ReportObject("b", 1, {"period": 2.0}), "light-curve file not found",
                         run=None, preprocessing=None, chunking=Chunking(20, 32))
    assert "not found" in unread.problem
    time = 55000.0 + np.arange(40.0)
    drawn = ReportObject("a", 0, {"status": "ok", "prob_X": 0.9, "prob_Y": 0.1,
                                  "predicted_class": "X", "energy": 1.0,
                                  "energy_percentile": 10.0, "anomaly_95": False},
                         time=time, mag=12 + np.sin(time), err=np.full(40, 0.05), period=6.3,
                         reconstruction=[ChunkPoints(time, 12 + np.sin(time),
                                                     12 + 0.9 * np.sin(time))],
                         neighbours="no code columns")
    paths = write_report([drawn, unread], tmp_path / "r.pdf", ["X", "Y"], info)
    assert [p.split("/")[-1] for p in paths] == ["r.pdf", "r_001.png", "r_002.png"]
    assert len(re.findall(rb"/Type\s*/Page\b", (tmp_path / "r.pdf").read_bytes())) == 2
    sheet = write_report([drawn, unread], tmp_path / "sheet.png", ["X", "Y"], info)
    assert sheet == [str(tmp_path / "sheet.png")]
    assert not list(tmp_path.glob(".*tmp*"))
