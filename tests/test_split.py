"""Object-level train/validation split (rnngmm/split.py)."""

import numpy as np
import pytest

from rnngmm.errors import InputError
from rnngmm.split import object_split

#: 50 A, 30 B, 20 C, 6 N (interleaved, so index order says nothing about class).
LABELS = np.array(["A"] * 50 + ["B"] * 30 + ["C"] * 20 + ["N"] * 6)[
    np.random.default_rng(0).permutation(106)]


def _count(labels, indices):
    values, counts = np.unique(labels[indices], return_counts=True)
    return dict(zip(values.tolist(), counts.tolist()))


def test_split_is_stratified_by_class_and_respects_the_fraction():
    parts = object_split(LABELS, validation_fraction=0.3, seed=1, novel_classes=["N"])
    # 100 known objects, 30% held out, in the class proportions 50:30:20
    assert _count(LABELS, parts["validation"]) == {"A": 15, "B": 9, "C": 6}
    assert _count(LABELS, parts["train"]) == {"A": 35, "B": 21, "C": 14}


def test_parts_are_disjoint_sorted_and_cover_every_object():
    parts = object_split(LABELS, validation_fraction=0.25, seed=5, novel_classes=["N"])
    joined = np.concatenate([parts["train"], parts["validation"], parts["novel"]])
    assert sorted(joined.tolist()) == list(range(len(LABELS)))
    for indices in parts.values():
        assert np.all(np.diff(indices) > 0)


def test_novel_classes_are_kept_out_of_training_and_validation():
    parts = object_split(LABELS, validation_fraction=0.2, seed=0, novel_classes=["N", "C"])
    np.testing.assert_array_equal(parts["novel"], np.flatnonzero(np.isin(LABELS, ["N", "C"])))
    assert set(LABELS[parts["train"]]) == {"A", "B"}
    assert set(LABELS[parts["validation"]]) == {"A", "B"}


def test_same_seed_same_split_other_seed_other_split():
    first = object_split(LABELS, validation_fraction=0.2, seed=3)
    again = object_split(list(LABELS), validation_fraction=0.2, seed=3)
    other = object_split(LABELS, validation_fraction=0.2, seed=4)
    for name in first:
        np.testing.assert_array_equal(first[name], again[name])
    assert not np.array_equal(first["validation"], other["validation"])


@pytest.mark.parametrize("fraction, n_validation", [(0.1, 10), (0.2, 20), (0.33, 33), (0.5, 50)])
def test_validation_size_is_the_fraction_of_known_objects_within_rounding(fraction, n_validation):
    parts = object_split(LABELS, validation_fraction=fraction, seed=0, novel_classes=["N"])
    assert abs(len(parts["validation"]) - n_validation) <= 1
    assert len(parts["train"]) + len(parts["validation"]) == 100


def test_zero_fraction_or_a_single_known_object_puts_everything_in_training():
    parts = object_split(LABELS, validation_fraction=0.0, novel_classes=["N"])
    assert len(parts["train"]) == 100 and len(parts["validation"]) == 0
    parts = object_split(["A", "N", "N"], validation_fraction=0.5, novel_classes=["N"])
    np.testing.assert_array_equal(parts["train"], [0])
    assert len(parts["validation"]) == 0
    np.testing.assert_array_equal(parts["novel"], [1, 2])


def test_a_class_with_one_object_does_not_stop_the_split():
    labels = ["A"] * 9 + ["B"]
    parts = object_split(labels, validation_fraction=0.2, seed=0)
    assert len(parts["validation"]) == 2 and len(parts["train"]) == 8


def test_small_many_class_dataset_is_split_or_refused_with_an_input_error():
    # Three classes of two objects: 20% is 2 validation objects, fewer than the
    # classes, which sklearn's stratified split refuses with a bare ValueError.
    labels = ["A", "A", "B", "B", "C", "C"]
    try:
        parts = object_split(labels, validation_fraction=0.2, seed=0)
    except InputError:
        return
    joined = np.concatenate([parts["train"], parts["validation"]])
    assert sorted(joined.tolist()) == list(range(6))
    assert len(parts["validation"]) >= 1
