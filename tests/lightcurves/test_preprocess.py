"""Cleaning and chunking on hand-made edge cases."""

import re

import numpy as np
import pytest

from rnngmm.lightcurves.objects import Chunking, chunk_objects, object_chunks
from rnngmm.errors import BadLightCurve
from rnngmm.lightcurves.preprocess import (MAG_RANGE, MAX_MAG_ERROR, check_period, chunk_bounds, clean,
                               make_chunks, phase_fold)


def test_clean_sorts_and_drops_duplicates_keeping_the_first():
    time = [3.0, 1.0, 2.0, 1.0]
    mag = [13.0, 11.0, 12.0, 19.0]
    t, m, e, dropped = clean(time, mag, [0.1] * 4)
    np.testing.assert_array_equal(t, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(m, [11.0, 12.0, 13.0])
    assert dropped == {"duplicate epoch": 1}


def test_clean_drops_nan_inf_and_non_positive_errors():
    t, m, e, dropped = clean([1, 2, 3, 4, np.nan], [1, np.inf, 3, 4, 5],
                             [0.1, 0.1, 0.0, -1, 0.1])
    np.testing.assert_array_equal(t, [1.0])
    assert dropped == {"non-finite": 2, "non-positive error": 2}


def test_clean_single_point_and_empty():
    t, m, e, dropped = clean([5.0], [1.0], [0.1])
    assert len(t) == 1 and dropped == {}
    with pytest.raises(BadLightCurve, match="empty"):
        clean([], [], [])
    with pytest.raises(BadLightCurve, match="no usable points"):
        clean([np.nan], [1.0], [0.1])
    with pytest.raises(BadLightCurve, match="different lengths"):
        clean([1.0, 2.0], [1.0], [0.1])


def test_clean_drops_implausible_magnitudes_and_errors():
    """Fill values (1e30, -99.99 +- 99.99) are dropped and counted; the
    range edges and real extremes (a -26.7 Sun, a 31 mag deep field) stay."""
    mag = [14.0, 1e30, -99.99, 14.1, 99.99, 14.2, -26.7, 31.0, MAG_RANGE[0], MAG_RANGE[1]]
    err = [0.1, 0.1, 99.99, 99.99, 0.1, MAX_MAG_ERROR, 0.1, 0.5, 0.1, 0.1]
    t, m, e, dropped = clean(np.arange(10.0), mag, err)
    np.testing.assert_array_equal(t, [0, 5, 6, 7, 8, 9])
    np.testing.assert_array_equal(m, [14.0, 14.2, -26.7, 31.0, *MAG_RANGE])
    assert dropped == {"implausible magnitude": 3, "implausible error": 1}


def test_clean_of_fill_values_only_lists_the_reasons():
    with pytest.raises(BadLightCurve, match=re.escape(
            "no usable points (implausible magnitude: 3, implausible error: 1)")):
        clean([1.0, 2.0, 3.0, 4.0], [-99.99, 1e30, -1e30, 14.0], [99.99, 0.1, 0.1, 50.0])


def test_implausible_points_do_not_move_the_median_epoch():
    # sentinel rows with a junk epoch far away would otherwise drag the median
    time = np.r_[np.arange(3.0) + 50000.0, np.zeros(4)]
    t, _, _, dropped = clean(time, np.r_[np.full(3, 14.0), np.full(4, -99.99)],
                             np.r_[np.full(3, 0.1), np.full(4, 99.99)])
    np.testing.assert_array_equal(t, [50000.0, 50001.0, 50002.0])
    assert dropped == {"implausible magnitude": 4}


def test_sigma_clip_removes_outliers_but_not_constant_curves():
    mag = np.r_[np.linspace(14, 14.1, 50), 20.0]
    t, m, e, dropped = clean(np.arange(51), mag, np.full(51, 0.01), sigma_clip=5)
    assert m.max() < 15 and dropped == {"sigma-clipped": 1}
    t, m, e, dropped = clean(np.arange(10), np.full(10, 14.0), np.full(10, 0.01), sigma_clip=3)
    assert len(t) == 10 and dropped == {}


def test_float64_times_keep_short_periods():
    time = 2458000.0 + np.array([0.0, 0.001, 0.002])  # 86 s apart
    t, _, _, _ = clean(time.astype(np.float64), [1, 2, 3], [0.1] * 3)
    assert t.dtype == np.float64 and len(np.unique(t)) == 3
    # the same epochs in float32 collapse onto one value
    assert len(np.unique(time.astype(np.float32))) < 3
    chunks = make_chunks(t, np.array([1.0, 2, 3]), np.full(3, 0.1), 0.5, n_min=2, n_max=4)
    np.testing.assert_allclose(chunks.x[0, :3, 0], [0, 0.001, 0.001], rtol=1e-4)


def test_constant_magnitude_standardises_to_zero():
    chunks = make_chunks(np.arange(5.0), np.full(5, 14.0), np.full(5, 0.1), 1.0,
                         n_min=2, n_max=8)
    assert np.all(np.isfinite(chunks.x)) and np.all(chunks.x[0, :, 1] == 0)
    np.testing.assert_allclose(chunks.weights[0, :5], 1.0)
    assert np.all(chunks.weights[0, 5:] == 0)


@pytest.mark.parametrize("n_points, n_max", [(1, 4), (4, 4), (5, 4), (9, 4), (100, 7)])
def test_chunk_bounds_cover_every_point_with_full_chunks(n_points, n_max):
    bounds = chunk_bounds(n_points, 1, n_max)
    covered = np.zeros(n_points, bool)
    for a, b in bounds:
        assert 0 <= a < b <= n_points
        assert b - a == min(n_max, n_points)
        covered[a:b] = True
    assert covered.all()
    assert len(bounds) == -(-n_points // n_max)


def test_chunk_bounds_rejects_short_curves():
    with pytest.raises(BadLightCurve, match="too few points"):
        chunk_bounds(3, 5, 10)


def test_check_period():
    assert check_period("0.5") == 0.5
    for bad in (0, -1, np.nan, np.inf, "x", None):
        with pytest.raises(BadLightCurve):
            check_period(bad)
    with pytest.raises(BadLightCurve, match="longer than the baseline"):
        check_period(10.0, np.array([0.0, 5.0]))


def test_phase_fold_in_unit_interval():
    phase = phase_fold(np.array([2458000.0, 2458000.25, 2458001.0]), 0.5)
    np.testing.assert_allclose(phase, [0, 0.5, 0], atol=1e-9)


def test_chunk_objects_records_rejects_and_owners():
    good = (np.arange(10.0), np.sin(np.arange(10.0)), np.full(10, 0.1))
    records = [(0, *good, 2.0), (1, [1.0], [1.0], [0.1], 2.0), (2, *good, np.nan)]
    result = chunk_objects(records, Chunking(n_min=5, n_max=4))
    np.testing.assert_array_equal(result.object_index, [0, 0, 0])
    assert [i for i, _ in result.rejects] == [1, 2]
    assert len(object_chunks(*good, 2.0, Chunking(n_min=5, n_max=4, period_fold=True))) == 3


def test_clean_drops_implausible_epochs_such_as_a_jd_among_mjds():
    from rnngmm.lightcurves.preprocess import clean
    time = np.array([55000.0, 55001.0, 2455002.0, 55003.0, -2409998.5])
    mag = np.array([12.0, 12.1, 12.2, 12.3, 12.4])
    err = np.full(5, 0.01)
    t, m, e, dropped = clean(time, mag, err)
    assert list(t) == [55000.0, 55001.0, 55003.0]
    assert dropped == {"implausible epoch": 2}


def test_atomic_path_gives_the_umask_mode(tmp_path):
    import os
    from rnngmm.io.atomic import atomic_path
    out = tmp_path / "x.txt"
    with atomic_path(out) as tmp:
        open(tmp, "w").write("hi")
    umask = os.umask(0)
    os.umask(umask)
    assert (out.stat().st_mode & 0o777) == (0o666 & ~umask)
