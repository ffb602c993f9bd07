"""Random-subset augmentation: the subset is standardised as the chunk path would."""

import numpy as np
import pytest

from rnngmm.lightcurves.preprocess import make_chunks
from rnngmm.training.augment import random_subsets


def test_a_cut_chunk_equals_the_chunk_of_its_points():
    rng = np.random.default_rng(0)
    time = np.sort(rng.uniform(0, 100, 60))
    mag = 15 + np.sin(time) + rng.normal(0, 0.05, 60)
    err = rng.uniform(0.02, 0.1, 60)
    chunks = make_chunks(time, mag, err, 3.0, n_min=10, n_max=80)
    cut = random_subsets(chunks, np.random.default_rng(5), min_points=20, probability=1.0)
    n = int((cut.weights[0] > 0).sum())
    assert 20 <= n < 60
    # the kept points, recovered from their de-standardised magnitudes
    raw = cut.x[0, :n, 1] * cut.supports[0, 1] + cut.supports[0, 0]
    keep = np.array([np.argmin(np.abs(mag - value)) for value in raw])
    assert np.all(np.diff(keep) > 0)
    direct = make_chunks(time[keep], mag[keep], err[keep], 3.0, n_min=10, n_max=80)
    np.testing.assert_allclose(cut.x[0], direct.x[0], atol=1e-4)
    np.testing.assert_allclose(cut.weights[0], direct.weights[0], rtol=1e-4)
    np.testing.assert_allclose(cut.supports[0], direct.supports[0], rtol=1e-5)


def test_probability_zero_changes_nothing_and_short_chunks_stay_whole():
    rng = np.random.default_rng(1)
    time = np.sort(rng.uniform(0, 10, 15))
    chunks = make_chunks(time, np.sin(time), np.full(15, 0.1), 2.0, n_min=5, n_max=20)
    same = random_subsets(chunks, np.random.default_rng(0), probability=0.0)
    np.testing.assert_array_equal(same.x, chunks.x)
    short = random_subsets(chunks, np.random.default_rng(0), min_points=20, probability=1.0)
    np.testing.assert_array_equal(short.weights, chunks.weights)


def test_a_resumed_epoch_sees_the_same_augmentation():
    from rnngmm.lightcurves.preprocess import Chunks
    from rnngmm.training.data import LabelledChunks, epoch_batches, train_dataset
    from rnngmm.training.loop import TrainOptions, _augmenter
    rng = np.random.default_rng(2)
    parts = []
    for _ in range(24):
        time = np.sort(rng.uniform(0, 50, 40))
        parts.append(make_chunks(time, np.sin(time), np.full(40, 0.1), 2.0, n_min=5, n_max=40))
    chunks = Chunks.concatenate(parts, 40)
    data = LabelledChunks(chunks, np.arange(24), np.zeros(24, np.int32))
    options = TrainOptions(stages=[("joint", 1)], augment_min_points=10, seed=3)
    batches = epoch_batches(24, 4, seed=3, epoch=0)
    whole = list(train_dataset(data, batches, 0, _augmenter(options, 0, 0)))
    resumed = list(train_dataset(data, batches, 2, _augmenter(options, 0, 0)))
    assert len(whole) == 6 and len(resumed) == 4
    for (a, _), (b, _) in zip(whole[2:], resumed):
        np.testing.assert_array_equal(a["x"].numpy(), b["x"].numpy())
    assert not np.array_equal(whole[0][0]["weights"].numpy(),
                              train_dataset(data, batches)  # unaugmented
                              .take(1).get_single_element()[0]["weights"].numpy())


@pytest.mark.slow
def test_sparse_objects_are_scored_by_a_run_trained_for_them(small_dataset, small_sample,
                                                             tmp_path):
    from fixtures_runs import TINY_TRAIN_FLAGS
    from helpers import run_cli
    from rnngmm import load_run
    from rnngmm.io.readers import read_lightcurve
    assert run_cli("train", "--data", small_dataset, *TINY_TRAIN_FLAGS, "--log_dir", tmp_path,
                   "--sim_type", "test", "--run_name", "sparse", "--augment_min_points", "12",
                   "--score_n_min", "12") == 0
    run = load_run(tmp_path / "test" / "sparse")
    assert run.chunking.n_min == 12 and run.config["chunking"]["n_min"] == 20
    time, mag, err = read_lightcurve(small_sample / "lightcurves" / "ASASSN-SIM-00001.csv",
                                     "asassn", filter="V")
    keep = np.sort(np.random.default_rng(0).choice(len(time), 15, replace=False))
    result = run.predict(time[keep], mag[keep], err[keep], period=2.0148)
    assert result["status"][0] == "ok" and result["n_chunks"][0] == 1


def test_sparse_copies_cut_every_chunk_once_and_do_not_depend_on_the_chunk_order():
    from rnngmm.lightcurves.preprocess import Chunks
    from rnngmm.training.augment import SparseCopies, chain_extras
    from rnngmm.training.data import LabelledChunks
    rng = np.random.default_rng(2)
    parts = []
    for _ in range(3):
        time = np.sort(rng.uniform(0, 100, 70))
        parts.append(make_chunks(time, 15 + np.sin(time), np.full(70, 0.05), 3.0,
                                 n_min=10, n_max=80))
    train = LabelledChunks(Chunks.concatenate(parts, 80), np.array([7, 3, 9]),
                           np.array([0, 1, 0], np.int32))
    copies = SparseCopies(min_points=20, seed=1)(None, train)
    assert len(copies) == 3
    lengths = (copies.chunks.weights > 0).sum(axis=1)
    assert np.all((lengths >= 20) & (lengths < 70))
    np.testing.assert_array_equal(np.sort(copies.object_index), [3, 7, 9])
    # seeded per object: the same object gets the same copy in another order
    reordered = SparseCopies(min_points=20, seed=1)(None, train.take([2, 0, 1]))
    first = {int(o): w for o, w in zip(copies.object_index, copies.chunks.weights)}
    for obj, weights in zip(reordered.object_index, reordered.chunks.weights):
        np.testing.assert_array_equal(weights, first[int(obj)])
    # chained extras add the chunks of each
    both = chain_extras([SparseCopies(20, seed=1), None, SparseCopies(20, seed=2)])
    assert len(both(None, train)) == 6
    assert chain_extras([None]) is None
