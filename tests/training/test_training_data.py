"""Training inputs: object split, chunking, per-rank epoch batches."""

import numpy as np
import pytest

from rnngmm.dist import Dist
from rnngmm.errors import InputError
from rnngmm.io.dataset import Dataset
from rnngmm.training.data import balanced_class_weights, epoch_batches, load_training_data, resolve_classes
from rnngmm.training.distributed import Collectives
from training_sim import write_sim_dataset


@pytest.fixture(scope="module")
def sim_path(tmp_path_factory):
    return write_sim_dataset(tmp_path_factory.mktemp("sim") / "sim.h5", short=3)


def _load(path, **kw):
    options = dict(n_min=20, n_max=32, validation_fraction=0.25, seed=3)
    options.update(kw)
    with Dataset(path) as dataset:
        return load_training_data(dataset, Collectives(Dist()), **options), dataset.ids


def test_epoch_batches_shard_disjointly_with_equal_steps():
    ranks = [epoch_batches(103, 10, seed=1, epoch=4, rank=r, size=3) for r in range(3)]
    assert {b.shape for b in ranks} == {(3, 10)}
    flat = np.concatenate([b.ravel() for b in ranks])
    assert len(np.unique(flat)) == len(flat)


def test_epoch_batches_depend_only_on_seed_and_epoch():
    a = epoch_batches(50, 8, seed=1, epoch=2)
    assert np.array_equal(a, epoch_batches(50, 8, seed=1, epoch=2))
    assert not np.array_equal(a, epoch_batches(50, 8, seed=1, epoch=3))
    assert not np.array_equal(a, epoch_batches(50, 8, seed=2, epoch=2))


def test_epoch_batches_small_shard_and_too_few_chunks():
    assert epoch_batches(7, 100, seed=0, epoch=0, rank=1, size=2).shape == (1, 3)
    with pytest.raises(InputError, match="cannot be shared"):
        epoch_batches(1, 4, seed=0, epoch=0, rank=0, size=2)


def test_split_is_by_object_and_rejects_are_reported(sim_path):
    data, ids = _load(sim_path)
    assert data.class_names == ["EW", "LPV", "RRab"]
    train_objects = set(data.train.object_index)
    val_objects = set(data.validation.object_index)
    assert train_objects and val_objects and not train_objects & val_objects
    assert train_objects == set(data.split["train"])
    # every object of the sample has 40 points -> 2 chunks of 32
    assert len(data.train) == 2 * len(train_objects)
    rejected = {str(ids[i]) for i, _ in data.rejects}
    assert rejected == {"short-000", "short-001", "short-002"}
    assert all("too few points" in reason for _, reason in data.rejects)
    # labels follow the objects' classes
    for label, obj in zip(data.train.labels, data.train.object_index):
        assert data.class_names[label] == str(ids[obj]).split("-")[0]


def test_novel_classes_kept_out(sim_path):
    data, ids = _load(sim_path, novel_classes=["LPV"])
    assert data.class_names == ["EW", "RRab"]
    used = set(data.train.object_index) | set(data.validation.object_index)
    assert not any(str(ids[i]).startswith("LPV") for i in used)
    assert {str(ids[i]) for i in data.split["novel"]} == {f"LPV-{i:03d}" for i in range(12)}


def test_excluded_objects_are_reported(sim_path):
    data, ids = _load(sim_path, excluded=[(0, "class_prob 0.2 < 0.5 (--class_prob)")])
    assert 0 not in set(data.train.object_index) | set(data.validation.object_index)
    assert (0, "class_prob 0.2 < 0.5 (--class_prob)") in data.rejects


def test_class_checks():
    assert resolve_classes(np.array(["b", "a", "", "a"]), []) == ["a", "b"]
    with pytest.raises(InputError, match="num_classes 3"):
        resolve_classes(np.array(["a", "b"]), [], num_classes=3)
    with pytest.raises(InputError, match="novel_classes"):
        resolve_classes(np.array(["a", "b"]), ["c"])
    with pytest.raises(InputError, match="no known"):
        resolve_classes(np.array(["a", ""]), ["a"])


def test_balanced_class_weights_give_every_class_equal_total_weight():
    labels = np.array([0] * 6 + [1] * 3 + [2] * 1)
    weights = balanced_class_weights(labels, 4)
    totals = np.bincount(labels, minlength=4) * np.array(weights)
    np.testing.assert_allclose(totals[:3], totals[0])
    np.testing.assert_allclose(np.mean(np.array(weights)[labels]), 1.0)
    assert weights[3] == 1.0  # a class without chunks
