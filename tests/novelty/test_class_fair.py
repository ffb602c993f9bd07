"""The class-fair calibration: every class flagged at the nominal rate."""

import numpy as np
import pytest

from rnngmm.novelty.class_fair import ClassPercentile


def _two_classes(rng):
    # class 1 sits far higher than class 0 (a rare class charged for its weight)
    scores = np.concatenate([rng.normal(0.0, 1.0, 2000), rng.normal(5.0, 1.0, 200)])
    classes = np.repeat([0, 1], [2000, 200])
    return scores, classes


def test_each_class_is_flagged_at_the_nominal_rate():
    rng = np.random.default_rng(0)
    scores, classes = _two_classes(rng)
    calibration = ClassPercentile().fit(scores, classes)
    fresh, fresh_classes = _two_classes(np.random.default_rng(1))
    calibrated = calibration.transform(fresh, fresh_classes)
    threshold = calibration.thresholds([95])[95.0]
    for k in (0, 1):
        rate = np.mean(calibrated[fresh_classes == k] > threshold)
        assert 0.02 < rate < 0.09, (k, rate)
    # one pooled threshold would flag most of class 1
    pooled = np.percentile(scores, 95)
    assert np.mean(fresh[fresh_classes == 1] > pooled) > 0.3


def test_monotone_within_a_class_and_beyond_its_range():
    calibration = ClassPercentile().fit(np.arange(20.0), np.zeros(20, int))
    values = calibration.transform([-1.0, 0.0, 9.5, 19.0, 25.0, 40.0], np.zeros(6, int))
    assert values[0] == 0.0 and values[3] == 1.0
    assert np.all(np.diff(values) > 0)
    assert values[4] > 1.0
    np.testing.assert_allclose(calibration.percentile(values)[3:], 100.0)


def test_small_classes_fall_back_to_the_pooled_distribution_and_nan_stays_nan():
    scores = np.concatenate([np.arange(100.0), [500.0, 501.0]])
    classes = np.concatenate([np.zeros(100, int), [1, 1]])
    calibration = ClassPercentile(min_objects=10).fit(scores, classes)
    assert 1 not in calibration.sorted_
    pooled = calibration.transform([50.0], [1])
    assert pooled[0] == pytest.approx(51 / 102)
    assert np.isnan(calibration.transform([np.nan], [0])[0])
    # a class never seen in training also uses the pooled distribution
    assert calibration.transform([50.0], [7])[0] == pytest.approx(51 / 102)


def test_bad_training_scores_are_refused():
    with pytest.raises(ValueError, match="finite"):
        ClassPercentile().fit([1.0, np.nan], [0, 0])
    with pytest.raises(ValueError, match="same length"):
        ClassPercentile().fit([1.0, 2.0], [0])
