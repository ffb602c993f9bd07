"""Novelty scores conditioned on the sampling (rnngmm.novelty.sampling)."""

import numpy as np
import pytest

from rnngmm.novelty.mixture import GMMNovelty
from rnngmm.novelty.sampling import (SamplingPercentile, point_band, reference_copies,
                                     sampling_cell)


def test_cells_split_points_and_baselines():
    cells = sampling_cell([20, 29, 30, 300, 300], [100.0, 100.0, 100.0, 100.0, 3000.0])
    assert cells[0] == cells[1] != cells[2]
    assert cells[3] != cells[4]


def test_reference_copies_are_sparser_or_shorter_than_the_source():
    rng = np.random.default_rng(0)
    t = np.sort(rng.uniform(0, 3000, 250))
    m, e = np.sin(t), np.full(250, 0.1)
    copies = reference_copies(t, m, e, rng)
    assert len(copies) == 11 + 3  # every thinned count below 250, three windows
    for ct, cm, ce in copies:
        assert len(ct) == len(cm) == len(ce) >= 20 and set(ct) <= set(t)
        assert len(ct) < 250 or ct[-1] - ct[0] < 3000
    assert reference_copies(t[:15], m[:15], e[:15], rng) == []


def test_known_objects_are_flagged_at_the_nominal_rate_in_every_cell():
    """A score that grows with sparseness: unconditioned, sparse objects are all
    flagged; conditioned, every cell flags about 5 % at p = 95."""
    rng = np.random.default_rng(1)
    n_points = rng.choice([25, 60, 300], size=30000)
    baseline = np.full(30000, 3000.0)
    classes = rng.integers(0, 3, 30000)
    score = rng.normal(size=30000) + 100.0 / n_points  # sparse = higher
    reference = SamplingPercentile().fit(score, classes, n_points, baseline)
    rng2 = np.random.default_rng(2)
    new_points = rng2.choice([25, 60, 300], size=9000)
    new_classes = rng2.integers(0, 3, 9000)
    new_score = rng2.normal(size=9000) + 100.0 / new_points
    conditioned = reference.transform(new_score, new_classes, new_points, np.full(9000, 3000.))
    for n in (25, 60, 300):
        rate = np.mean(conditioned[new_points == n] > 0.95)
        assert 0.03 < rate < 0.07, (n, rate)
    assert np.mean(new_score[new_points == 25] > np.percentile(score[n_points == 300], 95)) > 0.9


def test_sparse_cell_without_enough_class_copies_uses_the_cell():
    reference = SamplingPercentile(min_objects=5).fit(
        np.arange(10.0), [0] * 8 + [1] * 2, [25] * 10, [100.0] * 10)
    assert (1, int(sampling_cell(25, 100.0))) not in reference.sorted_
    assert (1, -1 - int(point_band(25))) not in reference.sorted_
    np.testing.assert_allclose(reference.transform([4.0], [1], [25], [100.0]), [0.5])
    assert np.isnan(reference.transform([np.nan], [0], [25], [100.0]))[0]


def test_an_empty_cell_borrows_its_band_of_points_before_other_classes():
    """Denser than any training copy within its baseline (a 190-point object
    over 1000 days): ranked among its class's 190-point copies of longer
    baselines, not among sparse copies or other classes."""
    rng = np.random.default_rng(5)
    long_dense = rng.normal(0.0, 1.0, 200)       # class 0, 190 points, 3000 d
    other_class = rng.normal(50.0, 1.0, 200)     # class 1, same cell
    sparse = rng.normal(10.0, 1.0, 200)          # class 0, 25 points, 1000 d
    reference = SamplingPercentile().fit(
        np.r_[long_dense, other_class, sparse], [0] * 200 + [1] * 200 + [0] * 200,
        [190] * 400 + [25] * 200, [3000.0] * 400 + [1000.0] * 200)
    value = reference.transform([2.0], [0], [190], [1000.0])[0]
    assert value == pytest.approx(np.mean(long_dense <= 2.0))


def test_reference_round_trips_through_arrays():
    rng = np.random.default_rng(3)
    ref = SamplingPercentile().fit(rng.normal(size=500), rng.integers(0, 2, 500),
                                   rng.choice([25, 200], 500), rng.uniform(100, 3000, 500))
    back = SamplingPercentile.from_arrays(ref.to_arrays())
    args = (rng.normal(size=50), rng.integers(0, 2, 50), rng.choice([25, 200], 50),
            rng.uniform(100, 3000, 50))
    np.testing.assert_array_equal(back.transform(*args), ref.transform(*args))


def _mixture(score="class_energy"):
    rng = np.random.default_rng(4)
    z = rng.normal(size=(400, 3))
    gamma = np.eye(2)[rng.integers(0, 2, 400)] * 0.9 + 0.05
    return GMMNovelty(novelty_score=score).fit(z, gamma), z, gamma


def test_conditioned_mixture_needs_sampling_and_saves_it(tmp_path):
    mixture, z, gamma = _mixture()
    energy = mixture.energy(z)
    classes = np.argmax(gamma, axis=1)
    n_points = np.full(len(z), 40)
    baseline = np.full(len(z), 1000.0)
    plain = mixture.novelty_scores(energy, classes)
    mixture.set_sampling_reference(plain, classes, n_points, baseline)
    assert mixture.conditions_on_sampling
    with pytest.raises(ValueError, match="n_points"):
        mixture.novelty_scores(energy, classes)
    conditioned = mixture.novelty_scores(energy, classes, n_points=n_points, baseline=baseline)
    assert np.mean(conditioned > 0.95) == pytest.approx(0.05, abs=0.02)
    np.testing.assert_array_equal(
        mixture.novelty_scores(energy, classes, conditioned=False), plain)
    mixture.save(tmp_path / "gmm.h5")
    back = GMMNovelty.load(tmp_path / "gmm.h5")
    np.testing.assert_array_equal(
        back.novelty_scores(energy, classes, n_points=n_points, baseline=baseline), conditioned)
    assert back.score_thresholds([95]) == {95.0: 0.95}


def test_energy_runs_conditioned_use_percentile_thresholds():
    mixture, z, gamma = _mixture("energy")
    assert mixture.score_thresholds([95])[95.0] != 0.95
    energy = mixture.energy(z)
    mixture.set_sampling_reference(energy, np.argmax(gamma, 1), np.full(len(z), 300),
                                   np.full(len(z), 3000.0))
    assert mixture.score_thresholds([95]) == {95.0: 0.95}
