"""Training inputs: object split, chunking, per-rank epoch batches, tf.data.

Preparing and chunking one object lives in :mod:`rnngmm.lightcurves.objects` (shared with
scoring and flagging); the dataset's objects are already cleaned, so they are
only chunked here; this module decides WHICH objects and chunks each rank sees and in
what order.

Each rank reads and chunks only its own objects: the training and validation
objects, in dataset order, are cut into blocks of ``SHARD_BLOCK_OBJECTS``
that go round robin to the ranks (:func:`rank_objects`), so no rank holds
more than about its ``1/size`` share of the chunks. The batches of an epoch
are drawn from the rank's own chunks (:func:`epoch_batches`): a pure
function of ``(seed, epoch, rank, size)``, so a resumed run replays exactly
the batches an uninterrupted run would, for the same number of ranks.
"""

import json
from collections import Counter
from dataclasses import dataclass

import numpy as np

from rnngmm.lightcurves.objects import Chunking, chunk_objects, dataset_records
from rnngmm.errors import InputError
from rnngmm.lightcurves.preprocess import Chunks
from rnngmm.split import object_split


@dataclass
class LabelledChunks:
    """Chunks with their object (dataset index) and integer class label."""

    chunks: Chunks
    object_index: np.ndarray
    labels: np.ndarray

    def __len__(self):
        return len(self.labels)

    def take(self, indices):
        """The chunks at ``indices`` (numpy fancy indexing)."""
        c = self.chunks
        return LabelledChunks(Chunks(c.x[indices], c.weights[indices], c.supports[indices]),
                              self.object_index[indices], self.labels[indices])

    def concatenate(self, other):
        """These chunks followed by ``other``'s."""
        return LabelledChunks(Chunks.concatenate([self.chunks, other.chunks],
                                                 self.chunks.x.shape[1]),
                              np.concatenate([self.object_index, other.object_index]),
                              np.concatenate([self.labels, other.labels]))


@dataclass
class StageChunks:
    """Chunks the autoencoder stage trains on in place of the labelled ones
    (``rnngmm adapt``: the new catalog's light curves, with the training ones).

    Attributes
    ----------
    train, validation : LabelledChunks
        THIS rank's chunks; their labels are placeholders (the stage's loss is
        the reconstruction error alone).
    train_counts, validation_counts : list of int
        Chunks of every rank, in rank order.
    """

    train: LabelledChunks
    validation: LabelledChunks
    train_counts: list
    validation_counts: list


@dataclass
class TrainingData:
    """Everything the training loop needs from the dataset.

    Attributes
    ----------
    class_names : list of str
        Known classes; a chunk's label is an index into this list.
    train, validation : LabelledChunks
        THIS rank's chunks (all of them in a one-rank run).
    split : dict of ndarray
        Dataset indices: ``train``, ``validation`` (objects that gave chunks),
        ``novel``, ``rejected`` (gave no chunk), ``unlabelled``; the same on
        every rank.
    rejects : list of (int, str)
        ``(dataset index, reason)`` of every known-class object without chunks.
    train_counts, validation_counts : list of int, optional
        Chunks of every rank, in rank order (default: this rank's only).
    train_labels : ndarray of int32, optional
        Labels of every rank's training chunks (default: this rank's), for
        class weights.
    autoencoder : StageChunks, optional
        What the "autoencoder" stage trains on instead of ``train`` and
        ``validation`` (None: the same chunks as every stage).
    estimation_extra : callable, optional
        ``estimation_extra(model, train, collectives) -> LabelledChunks``:
        chunks ADDED to this rank's training chunks in the "estimation"
        stage, made once with the frozen autoencoder by
        :meth:`add_estimation_chunks` (``train --reobserve_from``,
        :class:`rnngmm.training.reobserve.Reobservation`); the validation
        chunks stay as they are.
    estimation : StageChunks, optional
        What the "estimation" stage trains on, once made.
    """

    class_names: list
    train: LabelledChunks
    validation: LabelledChunks
    split: dict
    rejects: list
    train_counts: list = None
    validation_counts: list = None
    train_labels: np.ndarray = None
    autoencoder: StageChunks = None
    estimation_extra: object = None
    estimation: StageChunks = None

    def __post_init__(self):
        if self.train_counts is None:
            self.train_counts = [len(self.train)]
        if self.validation_counts is None:
            self.validation_counts = [len(self.validation)]
        if self.train_labels is None:
            self.train_labels = np.asarray(self.train.labels)

    def stage_chunks(self, stage):
        """``(train, validation, train_counts, validation_counts)`` of ``stage``."""
        source = self
        if stage == "autoencoder" and self.autoencoder:
            source = self.autoencoder
        elif stage == "estimation" and self.estimation:
            source = self.estimation
        return (source.train, source.validation, source.train_counts,
                source.validation_counts)

    def add_estimation_chunks(self, model, collectives):
        """Make :attr:`estimation` from :attr:`estimation_extra` (once; every rank
        calls it at the start of the estimation stage)."""
        if self.estimation_extra is None or self.estimation is not None:
            return
        extra = self.estimation_extra(model, self.train, collectives)
        train = self.train.concatenate(extra)
        counts = collectives.allgather(np.array([len(train)], np.int64))
        self.estimation = StageChunks(train, self.validation, [int(c) for c in counts],
                                      list(self.validation_counts))


def resolve_classes(labels, novel_classes, num_classes=None):
    """Known class names of a dataset, checked against the flags.

    Raises
    ------
    InputError
        If a novel class does not occur, no known class remains, or
        ``num_classes`` disagrees with the number of known classes.
    """
    present = sorted(str(label) for label in set(labels) - {""})
    missing = [c for c in novel_classes if c not in present]
    if missing:
        raise InputError(f"--novel_classes {missing} not among the dataset's labels {present}")
    class_names = [c for c in present if c not in set(novel_classes)]
    if not class_names:
        raise InputError("no known (non-novel, labelled) class left to train on")
    if num_classes is not None and num_classes != len(class_names):
        raise InputError(f"--num_classes {num_classes} but the dataset has "
                         f"{len(class_names)} known classes {class_names}")
    return class_names


def _encode_rejects(rejects):
    return json.dumps([[int(i), str(r)] for i, r in rejects]).encode("utf-8")


def _decode_rejects(payload):
    return [(int(i), r) for i, r in json.loads(payload.decode("utf-8"))]


#: Objects per block when the training objects are dealt to the ranks.
SHARD_BLOCK_OBJECTS = 64


def rank_objects(indices, rank, size, block_objects=None):
    """The objects of ``indices`` that ``rank`` of ``size`` reads and chunks.

    The sorted ``indices`` are cut into blocks of ``block_objects`` (default:
    ``SHARD_BLOCK_OBJECTS``, fewer when that would leave a rank fewer than 4
    blocks); block ``b`` belongs to rank ``b % size``. The rank's objects are
    returned in the order they have in ``indices``. Every object belongs to
    exactly one rank, and the assignment depends only on ``indices``,
    ``rank`` and ``size``.
    """
    indices = np.asarray(indices, dtype=np.int64)
    if block_objects is None:
        block_objects = max(1, min(SHARD_BLOCK_OBJECTS, len(indices) // (4 * size)))
    ordered = np.sort(indices)
    owner = (np.arange(len(ordered)) // block_objects) % size
    return indices[np.isin(indices, ordered[owner == rank])]


def chunk_shard(dataset, indices, collectives, chunking):
    """Chunk this rank's share (:func:`rank_objects`) of ``indices`` of ``dataset``.

    ``chunking`` is a :class:`rnngmm.lightcurves.objects.Chunking`. Returns a
    :class:`rnngmm.lightcurves.objects.ChunkSet` of this rank's chunks; its ``rejects``
    (objects without chunks) are gathered from every rank. The union over
    the ranks is the one-rank result, whatever the number of ranks.
    """
    dist = collectives.dist
    mine = rank_objects(indices, dist.rank, dist.size)
    part = chunk_objects(dataset_records(dataset, mine), chunking)
    rejects = collectives.allgather_object_list(part.rejects, _encode_rejects,
                                                _decode_rejects)
    return type(part)(part.chunks, part.object_index.astype(np.int64), rejects)


def load_training_data(dataset, collectives, *, n_min, n_max, period_fold=False,
                       fold_multiple=1, novel_classes=(), validation_fraction=0.2,
                       seed=0, num_classes=None, excluded=()):
    """Split a prepared dataset by object and chunk its train/validation objects.

    Parameters
    ----------
    dataset : rnngmm.io.dataset.Dataset
    collectives : rnngmm.training.distributed.Collectives
    n_min, n_max, period_fold, fold_multiple
        Chunking options (see :class:`rnngmm.lightcurves.objects.Chunking`).
    novel_classes : sequence of str
        Kept out of training and validation entirely.
    validation_fraction, seed
        Stratified object split (:func:`rnngmm.split.object_split`).
    num_classes : int, optional
        Checked against the number of known classes.
    excluded : sequence of (int, str)
        ``(dataset index, reason)`` of objects removed by catalog cuts before
        the split; they are reported with the rejects.

    Returns
    -------
    TrainingData
    """
    labels = np.asarray(dataset.labels).astype(str)
    class_names = resolve_classes(labels, list(novel_classes), num_classes)
    excluded = [(int(i), str(r)) for i, r in excluded]
    usable = labels != ""
    usable[[i for i, _ in excluded]] = False
    labelled = np.flatnonzero(usable)
    parts = object_split(labels[labelled], validation_fraction=validation_fraction,
                         seed=seed, novel_classes=novel_classes)
    train_idx, val_idx, novel_idx = (labelled[parts[k]] for k in ("train", "validation", "novel"))
    if len(train_idx) == 0:
        raise InputError("no training objects after the split")
    wanted = np.concatenate([train_idx, val_idx])
    chunk_set = chunk_shard(dataset, wanted, collectives, Chunking(n_min, n_max, period_fold,
                                                                      fold_multiple))
    code = {name: i for i, name in enumerate(class_names)}
    chunk_labels = np.array([code[labels[i]] for i in chunk_set.object_index], np.int32)
    everything = LabelledChunks(chunk_set.chunks, chunk_set.object_index, chunk_labels)
    in_train = np.isin(chunk_set.object_index, train_idx)
    train, validation = everything.take(in_train), everything.take(~in_train)
    counts = collectives.allgather(np.array([[len(train), len(validation)]], np.int64))
    train_counts = [int(c) for c in counts[:, 0]]
    if sum(train_counts) == 0:
        raise InputError(f"no training object gave a chunk (n_min={n_min}); "
                         f"reasons: {dict(Counter(r for _, r in chunk_set.rejects))}")
    rejects = sorted(chunk_set.rejects + [(i, r) for i, r in excluded if labels[i] != ""])
    rejected = np.array([i for i, _ in rejects], np.int64)
    split = {"train": np.setdiff1d(train_idx, rejected),
             "validation": np.setdiff1d(val_idx, rejected),
             "novel": novel_idx, "rejected": rejected,
             "unlabelled": np.flatnonzero(labels == "")}
    return TrainingData(class_names, train, validation, split, rejects,
                        train_counts=train_counts,
                        validation_counts=[int(c) for c in counts[:, 1]],
                        train_labels=collectives.allgather(train.labels))


def epoch_batches(counts, batch_size, *, seed, epoch, rank=0):
    """This rank's batches of epoch ``epoch``: an int array (steps, batch) of
    indices into the rank's own training chunks.

    The shuffle: rank ``r`` of ``size = len(counts)`` ranks permutes its own
    ``counts[r]`` chunks with ``numpy.random.default_rng([seed, epoch, r,
    size])`` (``[seed, epoch]`` in a one-rank run). Every rank takes the same
    number of equally sized batches, ``min(counts) // batch`` with ``batch =
    min(batch_size, min(counts))``, so the per-step gradient allreduce calls
    match on all ranks; a rank's remaining chunks sit the epoch out (a
    different random remainder each epoch). The result is deterministic for
    a given number of ranks; runs on different numbers of ranks see the same
    chunks per epoch in other batches.

    Parameters
    ----------
    counts : int or sequence of int
        Training chunks of every rank, in rank order (an int: one rank).
    batch_size : int
    seed, epoch, rank : int

    Raises
    ------
    InputError
        If a rank has no training chunk.
    """
    counts = [int(counts)] if np.ndim(counts) == 0 else [int(c) for c in counts]
    size = len(counts)
    fewest = min(counts)
    if fewest == 0:
        raise InputError(f"{sum(counts)} training chunks cannot be shared by {size} ranks "
                         f"(chunks per rank: {counts}); use fewer ranks")
    key = [seed, epoch] if size == 1 else [seed, epoch, rank, size]
    order = np.random.default_rng(key).permutation(counts[rank])
    batch = min(batch_size, fewest)
    steps = fewest // batch
    return order[:steps * batch].reshape(steps, batch)


def as_inputs(part):
    """The model's input dict and labels of a :class:`LabelledChunks` (or of
    :class:`rnngmm.training.cached.CachedChunks`)."""
    if hasattr(part, "inputs"):
        return part.inputs(), part.labels
    c = part.chunks
    return {"x": c.x, "weights": c.weights, "supports": c.supports}, part.labels


def train_dataset(part, batches, start_step=0, augment=None):
    """tf.data of the rows of ``batches`` (output of :func:`epoch_batches`) from
    ``start_step`` on.

    ``augment(chunks) -> chunks`` (e.g. seeded by the epoch) is applied to the
    WHOLE epoch's chunks before the resumed steps are cut off, so a resumed
    epoch sees exactly the augmentation an uninterrupted one would.
    """
    import tensorflow as tf
    selected = part.take(np.asarray(batches).ravel())
    if augment is not None and hasattr(selected, "chunks"):
        selected = LabelledChunks(augment(selected.chunks), selected.object_index,
                                  selected.labels)
    batch = np.shape(batches)[1]
    selected = selected.take(np.arange(start_step * batch, len(selected)))
    inputs, labels = as_inputs(selected)
    ds = tf.data.Dataset.from_tensor_slices((inputs, labels))
    return ds.batch(batch).prefetch(2)


def eval_dataset(part, batch_size):
    """tf.data of ``part`` in order (for evaluation and prediction)."""
    import tensorflow as tf
    inputs, labels = as_inputs(part)
    return tf.data.Dataset.from_tensor_slices((inputs, labels)).batch(batch_size).prefetch(2)
