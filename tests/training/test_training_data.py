"""Training inputs: object split, chunking, per-rank epoch batches."""

import numpy as np
import pytest

from rnngmm.dist import Dist
from rnngmm.errors import InputError
from rnngmm.io.dataset import Dataset
from rnngmm.class_frequencies import balanced_class_weights
from rnngmm.training.data import epoch_batches, load_training_data, rank_objects, resolve_classes
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


def test_epoch_batches_take_equal_steps_from_each_ranks_own_chunks():
    counts = [40, 34, 37]
    ranks = [epoch_batches(counts, 10, seed=1, epoch=4, rank=r) for r in range(3)]
    assert {b.shape for b in ranks} == {(3, 10)}
    for rank, batches in enumerate(ranks):
        flat = batches.ravel()
        assert len(np.unique(flat)) == len(flat) and flat.max() < counts[rank]
    # each rank shuffles with its own key: not the same order
    assert not np.array_equal(ranks[0], ranks[2])


def test_epoch_batches_depend_only_on_seed_epoch_rank_and_size():
    a = epoch_batches(50, 8, seed=1, epoch=2)
    assert np.array_equal(a, epoch_batches(50, 8, seed=1, epoch=2))
    assert not np.array_equal(a, epoch_batches(50, 8, seed=1, epoch=3))
    assert not np.array_equal(a, epoch_batches(50, 8, seed=2, epoch=2))
    # one rank: the key is (seed, epoch), as before shards existed
    assert np.array_equal(a.ravel(), np.random.default_rng([1, 2]).permutation(50)[:48])
    two = epoch_batches([50, 60], 8, seed=1, epoch=2, rank=1)
    assert np.array_equal(two, epoch_batches([50, 60], 8, seed=1, epoch=2, rank=1))
    assert np.array_equal(two.ravel(),
                          np.random.default_rng([1, 2, 1, 2]).permutation(60)[:48])


def test_epoch_batches_small_shard_and_a_rank_without_chunks():
    assert epoch_batches([7, 3], 100, seed=0, epoch=0, rank=0).shape == (1, 3)
    with pytest.raises(InputError, match="cannot be shared by 2 ranks"):
        epoch_batches([4, 0], 4, seed=0, epoch=0, rank=0)


def test_rank_objects_deal_blocks_round_robin():
    indices = np.array([9, 3, 7, 1, 5, 11, 13])
    mine = [rank_objects(indices, r, 2, block_objects=2) for r in range(2)]
    # sorted: 1 3 | 5 7 | 9 11 | 13 -> rank 0: 1 3 9 11, rank 1: 5 7 13 (in input order)
    assert mine[0].tolist() == [9, 3, 1, 11] and mine[1].tolist() == [7, 5, 13]
    assert rank_objects(indices, 0, 1).tolist() == indices.tolist()
    # default blocks: at least 4 per rank when there are enough objects
    assert len(rank_objects(np.arange(40), 1, 2)) == 20


class _FakeCollectives:
    """Rank ``rank`` of ``size`` whose gathers return what every rank would send
    (each rank's contribution is computed by running the same code for it)."""

    def __init__(self, rank, size, gathered):
        from rnngmm.dist import Dist
        self.dist = Dist(rank=rank, size=size)
        self.gathered = gathered

    def allgather(self, array):
        return self.gathered.pop(0)

    def allgather_object_list(self, items, encode, decode):
        return self.gathered.pop(0)


def test_two_ranks_hold_disjoint_shards_whose_union_is_the_one_rank_data(sim_path):
    """Rank 0 and rank 1 chunk different objects; together they hold exactly
    the one-rank chunks (and both see the same split and rejects)."""
    from rnngmm.lightcurves.objects import Chunking
    from rnngmm.training.data import chunk_shard
    one, _ = _load(sim_path)
    with Dataset(sim_path) as dataset:
        wanted = np.concatenate([one.split["train"], one.split["validation"],
                                 [i for i, _ in one.rejects]])
        parts = [chunk_shard(dataset, wanted, _FakeCollectives(r, 2, [[]]),
                             Chunking(20, 32, False)) for r in range(2)]
    objects = [set(p.object_index) for p in parts]
    assert objects[0] and objects[1] and not objects[0] & objects[1]
    union_index = np.concatenate([p.object_index for p in parts])
    union_x = np.concatenate([p.chunks.x for p in parts])
    single = np.concatenate([one.train.object_index, one.validation.object_index])
    single_x = np.concatenate([one.train.chunks.x, one.validation.chunks.x])
    a, b = np.argsort(union_index, kind="stable"), np.argsort(single, kind="stable")
    np.testing.assert_array_equal(union_index[a], single[b])
    np.testing.assert_array_equal(union_x[a], single_x[b])


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
