"""Metric functions of rnngmm.scoring.metrics on hand-computed cases."""

import math

import numpy as np
import pytest

from rnngmm.scoring import metrics


def test_classification_metrics_hand_computed():
    # true:  A A A B B C ; predicted: A A B B A A  (class C never predicted)
    y_true = [0, 0, 0, 1, 1, 2]
    y_pred = [0, 0, 1, 1, 0, 0]
    m = metrics.classification_metrics(y_true, y_pred, ["A", "B", "C"])
    assert m["n"] == 6
    assert m["accuracy"] == pytest.approx(3 / 6)
    # recall A=2/3, B=1/2, C=0 ; precision A=2/4, B=1/2, C=0 (never predicted)
    assert m["per_class"]["A"]["recall"] == pytest.approx(2 / 3)
    assert m["per_class"]["A"]["precision"] == pytest.approx(0.5)
    assert m["per_class"]["B"]["f1"] == pytest.approx(0.5)
    assert m["per_class"]["C"]["precision"] == 0.0
    assert m["per_class"]["C"]["support"] == 1
    assert m["balanced_accuracy"] == pytest.approx((2 / 3 + 1 / 2 + 0) / 3)
    f1_a = 2 * 0.5 * (2 / 3) / (0.5 + 2 / 3)
    assert m["macro_f1"] == pytest.approx((f1_a + 0.5 + 0) / 3)
    assert m["confusion"] == [[2, 1, 0], [1, 1, 0], [1, 0, 0]]


def test_classification_metrics_ignore_absent_classes_in_averages():
    m = metrics.classification_metrics([0, 0, 1], [0, 0, 1], ["A", "B", "C"])
    assert m["accuracy"] == 1.0
    assert m["balanced_accuracy"] == 1.0
    assert m["macro_f1"] == 1.0
    assert m["per_class"]["C"]["support"] == 0


def test_classification_metrics_empty_input_is_nan():
    m = metrics.classification_metrics([], [], ["A", "B"])
    assert m["n"] == 0 and math.isnan(m["accuracy"])


def test_percentile_thresholds_of_a_known_distribution():
    uniform = np.arange(101, dtype=float)  # 0..100: percentile p is exactly p
    t = metrics.percentile_thresholds(uniform, [80, 95, 99])
    assert t == {80.0: 80.0, 95.0: 95.0, 99.0: 99.0}
    rng = np.random.default_rng(1)
    normal = rng.normal(size=200_000)
    t = metrics.percentile_thresholds(normal, [95])
    assert t[95.0] == pytest.approx(1.6449, abs=0.02)


def test_percentile_thresholds_ignore_nan_and_reject_empty():
    assert metrics.percentile_thresholds([np.nan, 1.0, 3.0], [50]) == {50.0: 2.0}
    with pytest.raises(ValueError):
        metrics.percentile_thresholds([np.nan], [50])


def test_percentile_of_scores():
    train = np.arange(1, 101, dtype=float)  # 1..100
    out = metrics.percentile_of_scores(train, [0.5, 50, 100, 1000, np.nan])
    np.testing.assert_allclose(out[:4], [0, 50, 100, 100])
    assert np.isnan(out[4])


def test_detection_at_threshold_hand_computed():
    known = [0.1, 0.2, 0.3, 0.9]        # one false positive above 0.5
    novel = [0.4, 0.6, 0.7, np.nan]     # two true positives; NaN never flagged
    d = metrics.detection_at_threshold(known, novel, 0.5)
    assert d["n_flagged_novel"] == 2 and d["n_flagged_known"] == 1
    assert d["precision"] == pytest.approx(2 / 3)
    assert d["recall"] == pytest.approx(2 / 4)
    assert d["f1"] == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))
    assert d["fpr_known"] == pytest.approx(1 / 4)


def test_detection_strictly_above_threshold_and_nothing_flagged():
    d = metrics.detection_at_threshold([1.0], [1.0], 1.0)
    assert d["precision"] == 0.0 and d["recall"] == 0.0 and d["f1"] == 0.0


def test_ranking_metrics_perfect_inverted_and_tied():
    assert metrics.ranking_metrics([0, 1], [2, 3]) == {"roc_auc": 1.0, "average_precision": 1.0}
    assert metrics.ranking_metrics([2, 3], [0, 1])["roc_auc"] == 0.0
    # known 1,3 ; novel 2,4: pairs novel>known = (2>1),(4>1),(4>3) = 3 of 4
    assert metrics.ranking_metrics([1, 3], [2, 4])["roc_auc"] == pytest.approx(0.75)
    assert math.isnan(metrics.ranking_metrics([], [1.0])["roc_auc"])


def test_novelty_metrics_structure_and_curves():
    m = metrics.novelty_metrics([0.0, 1.0], [2.0, 3.0], {80.0: 0.8, 99.5: 2.5})
    assert m["n_known"] == 2 and m["n_novel"] == 2
    assert list(m["at_percentile"]) == ["80", "99p5"]  # one percentile spelling
    assert m["at_percentile"]["80"]["recall"] == 1.0
    assert m["at_percentile"]["99p5"]["recall"] == 0.5
    c = metrics.curves([0.0, 1.0], [2.0, 3.0])
    assert c["tpr"][-1] == 1.0 and c["fpr"][0] == 0.0
    assert metrics.curves([], [1.0]) is None
