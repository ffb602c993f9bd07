"""Reference copies for the sampling-conditioned score (rnngmm/training/sampling_reference.py)
and a run trained with ``--sampling_reference`` end to end."""

import numpy as np
import pytest

from fixtures_runs import TINY_TRAIN_FLAGS
from helpers import run_cli
from rnngmm.io.dataset import Dataset
from rnngmm.lightcurves.objects import Preprocessing
from rnngmm.training.sampling_reference import copy_records, period_search_of


def test_copies_follow_their_source_and_record_their_sampling(small_dataset):
    with Dataset(small_dataset) as dataset:
        indices = np.arange(3)
        records, n_points, baseline = copy_records(dataset, indices, seed=1)
        sources = list(dataset.iter_lightcurves(indices))
        periods = dataset.periods[indices]
    assert [r[0] for r in records] == list(range(len(records)))
    assert len(records) > 3 * 5  # every source gives several thinned and windowed copies
    for (k, t, m, e, p), n, b in zip(records, n_points, baseline):
        assert len(t) == n and b == pytest.approx(t[-1] - t[0]) and n >= 20
        assert p in periods  # catalog periods: copies keep their source's
    first = records[0]
    np.testing.assert_array_equal(first[1], sources[0][1])  # the whole object comes first


def test_runs_that_search_their_periods_search_the_copies_too(small_dataset):
    assert period_search_of(Preprocessing()) is None
    search = period_search_of(Preprocessing(period_source="lomb-scargle"))
    assert search is not None
    with Dataset(small_dataset) as dataset:
        records, _, _ = copy_records(dataset, [0], seed=1, search=search)
        catalog = dataset.periods[0]
    searched = [r[4] for r in records[1:]]
    assert np.all(np.isfinite(searched)) and any(p != catalog for p in searched)


@pytest.mark.slow
def test_a_conditioned_run_flags_sparse_known_stars_at_about_the_nominal_rate(
        small_dataset, tmp_path):
    """Trained with --sampling_reference: its gmm.h5 holds the reference, its
    predictions carry n_points and baseline, and thinned copies of its own
    training stars are not flagged wholesale at p80 (unconditioned they are
    ranked against whole stars)."""
    import rnngmm
    code = run_cli("train", "--data", small_dataset, *TINY_TRAIN_FLAGS, "--score_n_min", "20",
                   "--novelty_score", "class_energy", "--sampling_reference",
                   "--log_dir", tmp_path, "--sim_type", "test", "--run_name", "conditioned")
    assert code == 0
    run = rnngmm.load_run(tmp_path / "test" / "conditioned")
    assert run.novelty.conditions_on_sampling
    with Dataset(small_dataset) as dataset:
        curves = [(t, m, e, dataset.periods[i]) for i, t, m, e in
                  dataset.iter_lightcurves(np.arange(len(dataset)))]
    rng = np.random.default_rng(0)
    thinned = []
    for t, m, e, p in curves:
        keep = np.sort(rng.choice(len(t), 25, replace=False))
        thinned.append((t[keep], m[keep], e[keep], p))
    table = run.predict(thinned, percentiles=(80,))
    ok = np.asarray(table["status"]) == "ok"
    assert ok.mean() > 0.9 and np.all(np.asarray(table["n_points"])[ok] == 25)
    assert np.all(np.isfinite(np.asarray(table["baseline"])[ok]))
    rate = np.mean(np.asarray(table["anomaly_80"])[ok])
    print(f"p80 flag rate of 25-point copies: conditioned {rate:.3f}")
    assert 0.05 < rate < 0.4  # about the nominal 0.2 (its own training stars, thinned)
    assert "observed alike" in table["novelty_score"].description
