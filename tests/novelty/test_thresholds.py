"""Thresholds from the catalog's own scores (trimmed percentile) and per-class rates."""

import numpy as np
import pytest

from rnngmm.novelty.thresholds import (catalog_thresholds, check_contamination,
                                       flag_counts_by_class, rates_from_counts,
                                       thin_thresholds)

PERCENTILES = (80.0, 95.0, 99.0)


def contaminated(rng, n_clean=19800, n_anomalous=200, anomaly_score=40.0):
    clean = rng.normal(0.0, 1.0, n_clean)
    return clean, np.concatenate([clean, np.full(n_anomalous, anomaly_score)])


def test_anomalies_do_not_set_the_threshold():
    rng = np.random.default_rng(0)
    clean, scores = contaminated(rng)
    trimmed = catalog_thresholds(rng.permutation(scores), PERCENTILES, contamination=0.01)
    plain = catalog_thresholds(scores, PERCENTILES, contamination=0.0)
    for p in PERCENTILES:
        assert trimmed[p] == pytest.approx(np.percentile(clean, p), abs=2e-3)
        # About 1 - p/100 of the ordinary objects are flagged, and every anomaly.
        assert np.mean(clean > trimmed[p]) == pytest.approx(1 - p / 100, abs=5e-4)
    # Without the contamination set aside, the 99th percentile threshold is the
    # largest ordinary score: almost no ordinary object would be flagged.
    assert plain[99.0] > np.percentile(clean, 99.9)
    assert np.mean(clean > plain[99.0]) < 1e-3


def test_threshold_ignores_how_extreme_the_anomalies_are():
    rng = np.random.default_rng(1)
    _, near = contaminated(rng, anomaly_score=5.0)
    rng = np.random.default_rng(1)
    _, far = contaminated(rng, anomaly_score=1e9)
    assert catalog_thresholds(near, PERCENTILES, 0.01) == catalog_thresholds(far, PERCENTILES,
                                                                              0.01)


def test_nan_scores_are_ignored_and_known_quantile():
    scores = np.array([np.nan, 3.0, 1.0, 2.0, 4.0, np.nan, 0.0])
    # quantile 0.5 * (1 - 0.2) = 0.4 of [0, 1, 2, 3, 4] is 1.6 (linear interpolation)
    assert catalog_thresholds(scores, [50], contamination=0.2) == {50.0: pytest.approx(1.6)}


@pytest.mark.parametrize("scores, percentiles, contamination, message", [
    ([np.nan], [95], 0.01, "no scored object"),
    ([1.0, 2.0], [100], 0.01, "percentile 100"),
    ([1.0, 2.0], [95], 0.5, "contamination"),
    ([1.0, 2.0], [95], -0.1, "contamination"),
])
def test_bad_input_is_named(scores, percentiles, contamination, message):
    with pytest.raises(ValueError, match=message):
        catalog_thresholds(scores, percentiles, contamination)


def test_check_contamination():
    assert check_contamination("0.05") == 0.05
    assert check_contamination(0) == 0.0
    with pytest.raises(ValueError, match="got 0.6"):
        check_contamination(0.6)


def test_thin_thresholds():
    # 1000 objects, 1 % set aside: 990 ordinary, 9.9 above the 99th percentile.
    assert thin_thresholds(1000, PERCENTILES, 0.01) == [99.0]
    assert thin_thresholds(100000, PERCENTILES, 0.01) == []


def test_flag_counts_and_rates():
    classes = np.array([0, 0, 0, 1, 1, 2])
    scores = np.array([0.1, 0.5, 0.9, 0.95, np.nan, 0.2])
    counts = flag_counts_by_class(classes, scores, {80.0: 0.4, 95.0: 0.92}, n_classes=4)
    np.testing.assert_array_equal(counts, [[3, 2, 1, 0], [2, 1, 0, 0], [0, 1, 0, 0]])
    per_class, overall = rates_from_counts(counts)
    np.testing.assert_allclose(per_class[:, :3], [[2 / 3, 0.5, 0.0], [0.0, 0.5, 0.0]])
    assert np.all(np.isnan(per_class[:, 3])), "a class without objects has no rate"
    np.testing.assert_allclose(overall, [3 / 6, 1 / 6])
    # Counts of blocks add up to the counts of the whole.
    halves = [flag_counts_by_class(classes[s], scores[s], {80.0: 0.4, 95.0: 0.92}, 4)
              for s in (slice(0, 2), slice(2, None))]
    np.testing.assert_array_equal(halves[0] + halves[1], counts)
