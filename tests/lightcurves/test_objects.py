"""One object from raw photometry to network input (rnngmm/objects.py)."""

import json

import numpy as np
import pytest

from rnngmm.errors import BadLightCurve, InputError
from rnngmm.io.dataset import Dataset, write_dataset
from rnngmm.lightcurves.objects import (MIN_CATALOG_PERIOD, Chunking, Preprocessing, catalog_period_problem,
                            choose_period, chunk_objects, dataset_preprocessing,
                            object_chunks, prepare_object)

TRUE_PERIOD = 3.7


def sinusoid(n=200, period=TRUE_PERIOD, baseline=300.0, seed=0):
    """A well-sampled noisy sinusoid (sorted times, days)."""
    rng = np.random.default_rng(seed)
    time = np.sort(rng.uniform(0.0, baseline, n))
    err = np.full(n, 0.05)
    mag = 15.0 + 0.5 * np.sin(2 * np.pi * time / period) + rng.normal(0, 0.05, n)
    return time, mag, err


# ---------------------------------------------------------------- settings
def test_preprocessing_round_trips_through_a_dict():
    settings = Preprocessing(sigma_clip=4.0, min_points=30, period_source="catalog",
                             min_period=0.1, max_period=500.0, min_catalog_period=0.01)
    assert Preprocessing.from_dict(settings.to_dict()) == settings
    assert json.loads(json.dumps(settings.to_dict())) == settings.to_dict()


def test_preprocessing_from_dict_ignores_unknown_keys_and_defaults_missing_ones():
    settings = Preprocessing.from_dict({"min_points": 7, "catalog": "x.csv", "format": "crts"})
    assert settings == Preprocessing(min_points=7)
    assert Preprocessing.from_dict(None) == Preprocessing()


@pytest.mark.parametrize("changes, message", [
    ({"min_points": 0}, "--min_points must be >= 1 (got 0)"),
    ({"sigma_clip": 0.0}, "--sigma_clip must be > 0 (got 0.0)"),
    ({"period_source": "vsx"}, "--period_source must be one of auto, catalog, lomb-scargle"),
    ({"min_period": 2.0, "max_period": 1.0}, "need 0 < --min_period < --max_period"),
    ({"min_period": 0.0}, "need 0 < --min_period < --max_period"),
    ({"min_catalog_period": -1.0}, "--min_catalog_period must be >= 0 (got -1.0)"),
    ({"min_catalog_period": float("nan")}, "--min_catalog_period must be >= 0 (got nan)"),
])
def test_preprocessing_validate_names_the_bad_setting(changes, message):
    with pytest.raises(InputError) as error:
        Preprocessing(**changes).validate()
    assert str(error.value) == message


def test_valid_preprocessing_validates_to_itself():
    settings = Preprocessing(sigma_clip=3.0)
    assert settings.validate() is settings


def test_chunking_round_trips_and_ignores_older_runs_extra_keys():
    chunking = Chunking(20, 64, True)
    assert Chunking.from_dict(chunking.to_dict()) == chunking
    assert chunking.to_dict() == {"n_min": 20, "n_max": 64, "period_fold": True,
                                  "fold_multiple": 1}
    old = Chunking.from_dict({"n_min": 20.0, "n_max": "64", "sigma_clip": 3})
    assert old == Chunking(20, 64, False)  # runs written before fold_multiple fold at P
    assert isinstance(old.n_min, int) and isinstance(old.n_max, int)
    doubled = Chunking(20, 64, True, 2)
    assert Chunking.from_dict(doubled.to_dict()) == doubled


def test_fold_multiple_folds_at_that_multiple_of_the_period():
    rng = np.random.default_rng(4)
    time = np.sort(rng.uniform(0, 300, 150))
    mag = 15 + 0.3 * np.sin(2 * np.pi * time / 0.8)
    err = np.full_like(time, 0.02)
    doubled = object_chunks(time, mag, err, 0.4, Chunking(20, 200, True, 2))
    at_orbit = object_chunks(time, mag, err, 0.8, Chunking(20, 200, True))
    np.testing.assert_array_equal(doubled.x, at_orbit.x)
    np.testing.assert_array_equal(doubled.supports, at_orbit.supports)
    at_half = object_chunks(time, mag, err, 0.4, Chunking(20, 200, True))
    assert not np.array_equal(doubled.x, at_half.x)


# ---------------------------------------------------------------- the period rule
BASELINE_100 = np.linspace(0.0, 100.0, 11)


@pytest.mark.parametrize("period, reason", [
    ("abc", "catalog period 'abc' is not a number"),
    (None, "catalog period None is not a number"),
    (float("nan"), "no catalog period (nan)"),
    (-2.0, "no catalog period (-2.0)"),
    (0.0, "no catalog period (0.0)"),
    (1e-9, "catalog period 1e-09 d is below 0.001 d"),
    (200.0, "catalog period 200 d is longer than the baseline 100 d"),
])
def test_catalog_period_problem_names_what_is_wrong(period, reason):
    assert catalog_period_problem(period, BASELINE_100) == reason


@pytest.mark.parametrize("period", [0.5, "0.5", 1e-3, 100.0])
def test_usable_catalog_periods_have_no_problem(period):
    assert catalog_period_problem(period, BASELINE_100) is None


def test_long_catalog_period_within_the_baseline_is_kept():
    time = np.linspace(50000.0, 53000.0, 50)  # 3,000 days
    assert catalog_period_problem(1200.0, time) is None
    assert catalog_period_problem(3001.0, time) is not None


def test_min_catalog_period_is_a_parameter():
    assert catalog_period_problem(1e-9, BASELINE_100, min_catalog_period=0.0) is None
    assert catalog_period_problem(0.05, BASELINE_100, min_catalog_period=0.1) == \
        "catalog period 0.05 d is below 0.1 d"


def test_single_epoch_has_zero_baseline():
    assert catalog_period_problem(1.0, np.array([5.0])) == \
        "catalog period 1 d is longer than the baseline 0 d"


def test_choose_period_uses_a_usable_catalog_period():
    time, mag, err = sinusoid()
    period, source, power = choose_period(time, mag, err, 12.5, Preprocessing())
    assert (period, source) == (12.5, "catalog")
    assert np.isnan(power)
    assert choose_period(time, mag, err, 12.5, Preprocessing(), catalog_source="vsx")[1] == "vsx"


@pytest.mark.parametrize("catalog", [float("nan"), 1e-9, 5000.0])
def test_auto_falls_back_to_lomb_scargle_when_the_catalog_is_unusable(catalog):
    time, mag, err = sinusoid()
    period, source, power = choose_period(time, mag, err, catalog, Preprocessing())
    assert source == "lomb-scargle"
    assert period == pytest.approx(TRUE_PERIOD, rel=0.01)
    assert 0.5 < power <= 1.0


def test_catalog_mode_without_a_usable_period_raises():
    time, mag, err = sinusoid()
    with pytest.raises(BadLightCurve) as error:
        choose_period(time, mag, err, float("nan"), Preprocessing(period_source="catalog"))
    assert error.value.reason == "no usable period (no catalog period (nan))"
    with pytest.raises(BadLightCurve) as error:
        choose_period(time, mag, err, 1e-9, Preprocessing(period_source="catalog"))
    assert error.value.reason == "no usable period (catalog period 1e-09 d is below 0.001 d)"


def test_lomb_scargle_mode_ignores_a_usable_catalog_period():
    time, mag, err = sinusoid()
    period, source, _ = choose_period(time, mag, err, 12.5,
                                      Preprocessing(period_source="lomb-scargle"))
    assert source == "lomb-scargle"
    assert period == pytest.approx(TRUE_PERIOD, rel=0.01)


def test_failed_fallback_reason_names_a_rejected_catalog_period_and_lomb_scargle():
    time = np.linspace(0.0, 50.0, 30)
    flat = np.full(30, 15.0)
    err = np.full(30, 0.1)
    with pytest.raises(BadLightCurve) as error:
        choose_period(time, flat, err, 1e-9, Preprocessing())
    assert error.value.reason == ("no usable period (catalog period 1e-09 d is below 0.001 d; "
                                  "Lomb-Scargle: constant magnitudes: no period)")
    with pytest.raises(BadLightCurve) as error:  # a missing catalog period is not news
        choose_period(time, flat, err, float("nan"), Preprocessing())
    assert error.value.reason == "no usable period (Lomb-Scargle: constant magnitudes: no period)"


# ---------------------------------------------------------------- prepare_object
def test_prepare_object_cleans_sorts_and_counts_dropped_points():
    time = np.array([4.0, 1.0, 3.0, np.nan, 2.0, 3.0, 0.0])
    mag = np.array([14.0, 11.0, 13.0, 15.0, 12.0, 13.5, 10.0])
    err = np.full(7, 0.1)
    prepared = prepare_object(time, mag, err, 2.0, Preprocessing(min_points=3))
    np.testing.assert_array_equal(prepared.time, [0.0, 1.0, 2.0, 3.0, 4.0])
    np.testing.assert_array_equal(prepared.mag, [10.0, 11.0, 12.0, 13.0, 14.0])
    assert prepared.dropped == {"non-finite": 1, "duplicate epoch": 1}
    assert (prepared.period, prepared.period_source) == (2.0, "catalog")
    assert np.isnan(prepared.period_power)


def test_prepare_object_counts_points_after_cleaning_against_min_points():
    time, mag, err = sinusoid(n=22)
    mag[:3] = np.nan
    with pytest.raises(BadLightCurve) as error:
        prepare_object(time, mag, err, 2.0, Preprocessing(min_points=20))
    assert error.value.reason == "too few points (19 < min_points=20)"
    assert len(prepare_object(time, mag, err, 2.0, Preprocessing(min_points=19)).time) == 19


def test_prepare_object_applies_sigma_clipping_from_the_settings():
    time, mag, err = sinusoid(n=50)
    mag[10] = 25.0
    kept = prepare_object(time, mag, err, 2.0, Preprocessing())
    clipped = prepare_object(time, mag, err, 2.0, Preprocessing(sigma_clip=5.0))
    assert len(kept.time) == 50 and kept.dropped == {}
    assert len(clipped.time) == 49 and clipped.dropped == {"sigma-clipped": 1}


# ---------------------------------------------------------------- chunking
def test_object_chunks_by_hand():
    chunks = object_chunks([0.0, 1.0, 3.0], [10.0, 12.0, 14.0], [1.0, 1.0, 2.0], 2.0,
                           Chunking(n_min=3, n_max=4))
    std = np.sqrt(8.0 / 3.0)
    assert chunks.x.shape == (1, 4, 2)
    np.testing.assert_allclose(chunks.x[0, :, 0], [0.0, 1.0, 2.0, 0.0])
    np.testing.assert_allclose(chunks.x[0, :, 1], [-2 / std, 0.0, 2 / std, 0.0], rtol=1e-6)
    np.testing.assert_allclose(chunks.weights[0], [1.2, 1.2, 0.6, 0.0], rtol=1e-6)
    np.testing.assert_allclose(chunks.supports[0], [12.0, std, np.log10(2.0)], rtol=1e-6)


def test_object_chunks_does_not_clean_a_prepared_object_again():
    # Points clean() would drop (a repeated epoch, a magnitude of 50) are used as given.
    time = [0.0, 1.0, 1.0, 2.0]
    mag = [10.0, 11.0, 12.0, 50.0]
    chunks = object_chunks(time, mag, [0.1] * 4, 1.5, Chunking(n_min=4, n_max=4))
    assert chunks.mask.sum() == 4
    np.testing.assert_allclose(chunks.x[0, :, 0], [0.0, 1.0, 0.0, 1.0])
    assert chunks.supports[0, 0] == pytest.approx(np.mean(mag))


def test_object_chunks_rejects_fewer_points_than_n_min():
    with pytest.raises(BadLightCurve) as error:
        object_chunks([0.0, 1.0, 2.0], [1.0, 2.0, 3.0], [0.1] * 3, 1.0, Chunking(4, 8))
    assert error.value.reason == "too few points (3 < n_min=4)"


def test_chunk_objects_records_owners_and_reasons():
    five = (np.arange(5.0), np.arange(5.0) + 10, np.full(5, 0.1))
    two = (np.arange(2.0), np.arange(2.0) + 10, np.full(2, 0.1))
    records = [(7, *five, 2.0), (3, *two, 2.0), (9, *five, float("nan"))]
    result = chunk_objects(records, Chunking(n_min=3, n_max=4))
    # five points, n_max 4: two full chunks (0..4 and 1..5)
    np.testing.assert_array_equal(result.object_index, [7, 7])
    assert result.chunks.x.shape == (2, 4, 2)
    assert result.chunks.mask.all()
    assert result.rejects == [(3, "too few points (2 < n_min=3)"),
                              (9, "no usable period (nan)")]


def test_chunk_objects_with_no_chunk_gives_empty_arrays_of_the_right_shape():
    result = chunk_objects([(0, np.arange(2.0), np.ones(2), np.ones(2), 1.0)], Chunking(3, 6))
    assert result.chunks.x.shape == (0, 6, 2)
    assert result.object_index.dtype == np.int64 and len(result.object_index) == 0
    assert result.rejects == [(0, "too few points (2 < n_min=3)")]


# ---------------------------------------------------------------- provenance
def _dataset_with_inputs(path, inputs):
    time, mag, err = sinusoid(n=30)
    write_dataset(path, {"id": ["a"], "label": ["X"], "period": [2.0],
                         "period_source": ["catalog"], "period_power": [np.nan]},
                  [(time, mag, err)], inputs=inputs)
    with Dataset(path) as dataset:
        return dataset.attrs


def test_dataset_preprocessing_reads_the_prepare_settings(tmp_path):
    stored = dict(Preprocessing(sigma_clip=4.0, min_points=30, period_source="catalog",
                                min_period=0.1, max_period=500.0,
                                min_catalog_period=0.02).to_dict(),
                  catalog="/data/catalog.csv", format="crts")
    attrs = _dataset_with_inputs(tmp_path / "new.h5", stored)
    assert dataset_preprocessing(attrs) == Preprocessing(
        sigma_clip=4.0, min_points=30, period_source="catalog", min_period=0.1,
        max_period=500.0, min_catalog_period=0.02)


def test_old_dataset_without_min_catalog_period_gets_the_default(tmp_path):
    attrs = _dataset_with_inputs(tmp_path / "old.h5", {"sigma_clip": 3.0, "min_points": 25,
                                                       "period_source": "auto"})
    settings = dataset_preprocessing(attrs)
    assert settings.min_catalog_period == MIN_CATALOG_PERIOD
    assert (settings.sigma_clip, settings.min_points) == (3.0, 25)


def test_dataset_preprocessing_defaults_without_readable_inputs():
    assert dataset_preprocessing({}) == Preprocessing()
    assert dataset_preprocessing({"inputs": "not json"}) == Preprocessing()
