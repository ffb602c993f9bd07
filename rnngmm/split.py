"""Object-level train/validation split (never chunk-level: chunks of one star
must not sit on both sides)."""

import numpy as np
from sklearn.model_selection import train_test_split


def object_split(labels, *, validation_fraction=0.2, seed=0, novel_classes=()):
    """Stratified, seeded split of object indices.

    Parameters
    ----------
    labels : array_like of str
        One class label per object.
    validation_fraction : float
        Fraction of known-class objects held out for validation.
    seed : int
        Seed of the split.
    novel_classes : sequence of str
        Classes kept out of training and validation entirely.

    Returns
    -------
    dict
        ``{"train": idx, "validation": idx, "novel": idx}``, sorted int arrays.
    """
    labels = np.asarray(labels).astype(str)
    novel = np.isin(labels, list(novel_classes))
    known = np.flatnonzero(~novel)
    if validation_fraction <= 0 or len(known) < 2:
        train, validation = known, np.zeros(0, np.int64)
    else:
        known_labels = labels[known]
        _, counts = np.unique(known_labels, return_counts=True)
        n_validation = int(np.ceil(validation_fraction * len(known)))
        # Stratifying needs two objects per class and room for every class
        # on both sides; small or many-class datasets are split at random.
        feasible = (counts.min() >= 2 and n_validation >= len(counts)
                    and len(known) - n_validation >= len(counts))
        stratify = known_labels if feasible else None
        train, validation = train_test_split(known, test_size=validation_fraction,
                                             random_state=seed, stratify=stratify)
    return {"train": np.sort(train), "validation": np.sort(validation),
            "novel": np.flatnonzero(novel)}
