"""Pure parts of :mod:`rnngmm.report.job`: the chunk inversion, row selection,
neighbours, and per-object problems that become pages."""

import re

import numpy as np
import pytest
from astropy.table import Table

from rnngmm.report.job import (ChunkPoints, ReportObject, chunk_layout, invert_chunk,
                                   load_object, neighbours_of, select_rows, table_info,
                                   table_meta, write_report)
from rnngmm.errors import InputError
from rnngmm.lightcurves.objects import Chunking, object_chunks
from rnngmm.lightcurves.preprocess import clean, phase_fold


def _light_curve(n=150, seed=3, period=0.731):
    rng = np.random.default_rng(seed)
    time = 56000.0 + np.sort(rng.uniform(0, 700, n))  # MJD: float64 matters
    mag = 13.0 + 0.5 * np.sin(2 * np.pi * time / period) + rng.normal(0, 0.05, n)
    err = rng.uniform(0.02, 0.08, n)
    time, mag, err, _ = clean(time, mag, err)
    return time, mag, err, period


@pytest.mark.parametrize("period_fold", [False, True])
def test_chunks_invert_to_the_cleaned_points(period_fold):
    time, mag, err, period = _light_curve()
    chunking = Chunking(n_min=20, n_max=40, period_fold=period_fold)
    chunks = object_chunks(time, mag, err, period, chunking)
    positions, order, bounds = chunk_layout(time, period, chunking)
    assert len(bounds) == len(chunks) > 1  # several chunks, the last ones overlapping
    if period_fold:
        np.testing.assert_array_equal(positions, phase_fold(time, period)[order])
    else:
        np.testing.assert_array_equal(order, np.arange(len(time)))
    covered = np.zeros(len(time), bool)
    for c, (start, stop) in enumerate(bounds):
        back = invert_chunk(chunks.x[c], chunks.weights[c], chunks.supports[c],
                            origin=positions[start])
        points = order[start:stop]
        covered[points] = True
        assert len(back.position) == stop - start
        # lags are float32: about 1e-7 relative per lag, summed over the chunk
        np.testing.assert_allclose(back.position, positions[start:stop], rtol=0,
                                   atol=1e-3 if not period_fold else 1e-6)
        if period_fold:
            np.testing.assert_allclose(back.position, phase_fold(time, period)[points],
                                       rtol=0, atol=1e-6)
        else:
            np.testing.assert_allclose(back.position, time[points], rtol=0, atol=1e-3)
        np.testing.assert_allclose(back.mag, mag[points], rtol=0, atol=1e-5)
        assert back.reconstruction is None
    assert covered.all()


def test_a_padded_chunk_inverts_only_its_real_points_and_the_reconstruction():
    time, mag, err, period = _light_curve(n=25)
    chunks = object_chunks(time, mag, err, period, Chunking(n_min=10, n_max=32))
    assert len(chunks) == 1 and (chunks.weights[0] == 0).sum() == 32 - len(time)
    rebuilt = chunks.x[0, :, 1] * 0.5  # a decoder output in standardised units
    back = invert_chunk(chunks.x[0], chunks.weights[0], chunks.supports[0],
                        origin=time[0], reconstruction=rebuilt)
    mean, std = float(chunks.supports[0, 0]), float(chunks.supports[0, 1])
    assert len(back.position) == len(back.reconstruction) == len(time)
    np.testing.assert_allclose(back.reconstruction, (mag - mean) * 0.5 + mean, atol=1e-5)
    np.testing.assert_allclose(back.position, time, rtol=0, atol=1e-4)


def test_a_constant_chunk_inverts_to_its_constant_magnitude():
    time = 55000.0 + np.arange(30.0)
    mag = np.full(30, 12.5)
    chunks = object_chunks(time, mag, np.full(30, 0.01), 3.0, Chunking(20, 40))
    back = invert_chunk(chunks.x[0], chunks.weights[0], chunks.supports[0], origin=time[0])
    np.testing.assert_allclose(back.mag, mag)


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


def test_neighbours_exclude_the_object_itself():
    table = _table()
    found = neighbours_of(table, [1, 0, 3], k=2)
    assert [n.object_id for n in found[1]] == ["e", "c"]
    assert found[1][0].predicted_class == "Y" and found[1][0].distance > 0
    assert [n.object_id for n in found[0]][0] == "c"
    assert isinstance(found[3], str) and "not scored" in found[3]
    no_codes = neighbours_of(_table(with_codes=False), [1], k=2)
    assert "--with_code" in no_codes[1]


def test_table_meta_reads_fits_and_csv_spellings():
    table = Table({"id": ["a"]})
    table.meta.update({"RUN_DIR": "/r", "PREPROCESSING": '{"min_points": 5}'})
    assert table_meta(table, "run_dir") == "/r"
    assert table_meta(table, "preprocessing") == {"min_points": 5}
    csv = Table({"id": ["a"]})
    csv.meta["comments"] = ["run_id: tiny", 'class_names: ["A", "B"]']
    assert table_meta(csv, "class_names") == ["A", "B"]
    assert table_meta(csv, "missing", 3) == 3


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
