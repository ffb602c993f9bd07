"""``rnngmm adapt``: fine-tune a trained run's autoencoder on a new catalog.

The new survey's light curves need no labels: the autoencoder stage
continues from the parent run's weights with the reconstruction loss alone,
on the catalog's chunks (by default together with the parent's training
chunks, so the code keeps describing the training cadence that the
estimation network and the mixture are fitted on). The estimation stage and
the mixture are then refit on the LABELLED training data, re-encoded by the
adapted encoder, with the parent's object split, so classes, thresholds and
validation figures stay those of the labelled data.

Nothing here trains: :func:`run_adapt` builds a
:class:`~rnngmm.training.config.TrainConfig` from the parent's
``config.json`` and hands :func:`rnngmm.training.driver.run_training` a
:class:`CatalogAdaptation`, which gives the autoencoder stage its chunks.
"""

import hashlib
import logging
import os
import sys
from collections import Counter
from dataclasses import dataclass, replace

import numpy as np

from rnngmm.errors import InputError
from rnngmm.io.dataset import Dataset, update_digest
from rnngmm.lightcurves.objects import Chunking, Preprocessing, dataset_preprocessing
from rnngmm.rundir import REQUIRED
from rnngmm.split import object_split
from rnngmm.training.data import LabelledChunks, StageChunks, chunk_shard
from rnngmm.rundir import read_json
from rnngmm.training.driver import run_training
from rnngmm.training.config import TrainConfig

log = logging.getLogger(__name__)

#: Autoencoder-stage data of an adaptation: the catalog's chunks with the
#: training ones (default), or the catalog's alone.
MIXES = ("both", "catalog")

#: Cleaning and period settings that change what the network sees.
_CLEANING = ("sigma_clip",)
_PERIODS = ("period_source", "min_period", "max_period", "min_catalog_period")


def preprocessing_conflicts(run, catalog, period_fold):
    """Settings in which a catalog's preparation departs from a run's.

    Parameters
    ----------
    run, catalog : rnngmm.lightcurves.objects.Preprocessing
        The run's (its training dataset's) and the catalog's settings.
    period_fold : bool
        Whether the run folds on the period: only then do the period
        settings shape the network input.

    Returns
    -------
    list of str
        ``"name: run value, catalog value"`` of every conflicting setting.
    """
    names = _CLEANING + (_PERIODS if period_fold else ())
    return [f"{name}: run {getattr(run, name)!r}, catalog {getattr(catalog, name)!r}"
            for name in names if getattr(run, name) != getattr(catalog, name)]


@dataclass
class AdaptConfig:
    """Settings of ``rnngmm adapt`` (see ``rnngmm adapt --help``).

    Settings left at None keep the parent run's value.
    """

    init_from: str
    data: str
    catalog: str
    mix: str = "both"
    nb_epoch: int = 20
    cls_epoch: int = None
    lr: float = None
    batch_size: int = None
    patience: int = None
    time_budget: float = None
    ae_budget_fraction: float = None
    threads: int = None
    log_dir: str = None
    sim_type: str = None
    run_name: str = None
    resume: bool = False

    def validate(self):
        """Raise InputError naming the first unusable input or setting."""
        run = os.fspath(self.init_from)
        if not os.path.isdir(run):
            raise InputError(f"--init_from {run!r}: run directory does not exist")
        for name in REQUIRED:
            if not os.path.isfile(os.path.join(run, name)):
                raise InputError(f"--init_from {run!r} is not a finished run: {name} is "
                                 "missing")
        for flag, path in (("--data", self.data), ("--catalog", self.catalog)):
            if not os.path.isfile(path):
                raise InputError(f"{flag} {path!r} does not exist (a dataset made by "
                                 "'rnngmm prepare')")
        if self.mix not in MIXES:
            raise InputError(f"--mix {self.mix!r}: choose from {', '.join(MIXES)}")
        return self

    def parent_config(self):
        """The parent run's config.json."""
        return read_json(os.path.join(self.init_from, "config.json"))

    def train_config(self):
        """The :class:`TrainConfig` of the adapted run, validated.

        The parent's settings (so the model, the object split and the
        chunking are the parent's), sequential, started from the parent's
        weights, with this command's overrides. The run directory defaults
        to a sibling of the parent's, ``<parent name>_adapt-<catalog name>``.
        """
        parent = TrainConfig.from_run(self.init_from)
        run = os.path.abspath(self.init_from)
        catalog = os.path.splitext(os.path.basename(self.catalog))[0]
        changes = {"data": os.fspath(self.data), "init_from": run, "gmm_on": False,
                   "nb_epoch": self.nb_epoch, "resume": self.resume,
                   "log_dir": self.log_dir or os.path.dirname(os.path.dirname(run)),
                   "sim_type": self.sim_type or os.path.basename(os.path.dirname(run)),
                   "run_name": self.run_name or f"{os.path.basename(run)}_adapt-{catalog}"}
        for name in ("cls_epoch", "lr", "batch_size", "patience", "time_budget",
                     "ae_budget_fraction", "threads"):
            if getattr(self, name) is not None:
                changes[name] = getattr(self, name)
        return replace(parent, **changes).validate()


def _split_differences(split, dataset, parent_split):
    """Parts of the split in which ``split`` (dataset indices) and the parent's
    ``split.json`` (ids) differ, with the number of differing objects."""
    out = {}
    for name in ("train", "validation"):
        mine = {str(dataset.ids[i]) for i in split[name]}
        theirs = {str(i) for i in parent_split.get(name, [])}
        if mine != theirs:
            out[name] = len(mine ^ theirs)
    return out


class CatalogAdaptation:
    """The data source ``run_training`` gets from ``rnngmm adapt``.

    Parameters
    ----------
    config : AdaptConfig
        Validated.
    """

    def __init__(self, config):
        self.config = config
        self.parent = config.parent_config()
        self.parent_split = read_json(os.path.join(config.init_from, "split.json"))
        try:
            # the chunking new objects are scored with (flag), so adapt to those
            self.chunking = Chunking.for_scoring(self.parent["chunking"])
        except (KeyError, TypeError, ValueError):
            raise InputError(f"{os.path.join(config.init_from, 'config.json')} has no "
                             "usable 'chunking' entry") from None
        with Dataset(config.catalog) as catalog:  # before the training data is read
            self.check_catalog(catalog)

    def check_split(self, data, dataset):
        """Raise InputError unless ``data`` has the parent's train/validation objects."""
        differences = _split_differences(data.split, dataset, self.parent_split)
        if differences:
            recorded = (self.parent.get("dataset") or {}).get("path", "?")
            parts = ", ".join(f"{n} {name} objects" for name, n in differences.items())
            raise InputError(f"--data {dataset.path} does not give the object split of "
                             f"--init_from {self.config.init_from} ({parts} differ): pass "
                             f"the labelled dataset that run was trained on ({recorded})")

    def check_catalog(self, catalog):
        """Raise InputError when the catalog was prepared unlike the parent's data."""
        run = Preprocessing.from_dict(self.parent.get("preprocessing") or {})
        conflicts = preprocessing_conflicts(run, dataset_preprocessing(catalog.attrs),
                                            self.chunking.period_fold)
        if conflicts:
            raise InputError(f"--catalog {catalog.path} was prepared with other settings "
                             f"than the run {self.config.init_from} was trained on "
                             f"({'; '.join(conflicts)}): re-run 'rnngmm prepare' on it "
                             "with the run's settings")

    def attach(self, data, collectives, chunking):
        """Chunk the catalog and set ``data.autoencoder``; return config.json entries.

        Parameters
        ----------
        data : rnngmm.training.data.TrainingData
            The labelled training data (this rank's chunks), from ``--data``.
        collectives : rnngmm.training.distributed.Collectives
        chunking : dict
            The adapted run's ``chunking`` entry; it must be the parent's.
            The catalog is chunked as ``flag`` will score it
            (``score_n_min`` when the run has one).
        """
        config = self.config
        with Dataset(config.data) as dataset:
            self.check_split(data, dataset)
        scoring = Chunking.for_scoring(chunking)
        if scoring != self.chunking:
            raise InputError(f"the adapted run's chunking {chunking} is not that of "
                             f"--init_from {config.init_from} ({self.parent['chunking']})")
        seed = int(self.parent["train"].get("seed", 0))
        fraction = float(self.parent["train"].get("validation_fraction", 0.2))
        with Dataset(config.catalog) as catalog:
            # one pseudo-class: an unstratified, seeded object split
            parts = object_split(np.full(len(catalog), "catalog"),
                                 validation_fraction=fraction, seed=seed)
            train = chunk_shard(catalog, parts["train"], collectives, scoring)
            validation = chunk_shard(catalog, parts["validation"], collectives, scoring)
            counts = collectives.allgather(np.array([[len(train.object_index),
                                                      len(validation.object_index)]],
                                                    np.int64))
            rejects = train.rejects + validation.rejects
            if counts[:, 0].sum() == 0:
                reasons = Counter(r for _, r in rejects).most_common(3)
                raise InputError(f"--catalog {catalog.path}: none of its {len(catalog)} "
                                 f"objects gave a chunk with the run's chunking (n_min "
                                 f"{scoring.n_min}, n_max {scoring.n_max}); reasons: "
                                 f"{dict(reasons)}")
            entry = self._catalog_entry(catalog, parts, rejects, collectives)
        catalog_parts = [self._placeholder(train), self._placeholder(validation)]
        autoencoder = self._stage_chunks(data, catalog_parts, collectives)
        data.autoencoder = autoencoder
        entry["autoencoder_chunks"] = {"train": int(sum(autoencoder.train_counts)),
                                       "validation": int(sum(autoencoder.validation_counts)),
                                       "catalog_train": int(counts[:, 0].sum()),
                                       "catalog_validation": int(counts[:, 1].sum())}
        if collectives.dist.is_root:
            log.info(f"adapting to {catalog.path}: {entry['objects']} objects, "
                     f"{entry['train_objects']} train / {entry['validation_objects']} "
                     f"validation, {entry['rejected']} gave no chunk; autoencoder stage "
                     f"on {entry['autoencoder_chunks']['train']} chunks ({config.mix})")
        return {"parent": os.path.abspath(config.init_from), "adapted_catalog": entry}

    @staticmethod
    def _placeholder(chunk_set):
        # The autoencoder stage's loss ignores labels; class 0 stands in.
        return LabelledChunks(chunk_set.chunks, chunk_set.object_index,
                              np.zeros(len(chunk_set.object_index), np.int32))

    def _stage_chunks(self, data, catalog_parts, collectives):
        train, validation = catalog_parts
        if self.config.mix == "both":
            train = data.train.concatenate(train)
            validation = data.validation.concatenate(validation)
        counts = collectives.allgather(np.array([[len(train), len(validation)]], np.int64))
        return StageChunks(train, validation, [int(c) for c in counts[:, 0]],
                           [int(c) for c in counts[:, 1]])

    def _catalog_entry(self, catalog, parts, rejects, collectives):
        digest = None
        if collectives.dist.is_root:  # only rank 0 writes config.json
            digest = update_digest(hashlib.sha256(), catalog).hexdigest()
        return {"path": os.path.abspath(catalog.path),
                "attrs": {k: str(v) for k, v in catalog.attrs.items()},
                "sha256": digest, "mix": self.config.mix, "objects": len(catalog),
                "train_objects": len(parts["train"]),
                "validation_objects": len(parts["validation"]),
                "rejected": len(rejects),
                "reject_reasons": dict(Counter(r for _, r in rejects)),
                "command": " ".join(sys.argv)}


def run_adapt(config):
    """Adapt as ``config`` (an :class:`AdaptConfig`) says; return the exit code."""
    config.validate()
    return run_training(config.train_config(), adaptation=CatalogAdaptation(config))
