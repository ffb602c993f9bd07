"""``rnngmm generate``: a run's training objects re-observed at a catalog's cadence.

For N training objects of the run (of the given classes; classes balanced:
N is split evenly between them, and a class's objects are used in a random
order, each once before any is used again), a sampling pattern (epochs and
errors) is taken from a random object of the catalog dataset, the object's
code is decoded at those epochs (:mod:`rnngmm.decoder.reobserve`), and noise from the
pattern's errors is added. Patterns come from catalog objects with at least
the run's scoring ``n_min`` points (``--min_points`` to go lower). The result is written in the format of
``rnngmm prepare`` (:func:`rnngmm.io.dataset.write_dataset`), so ``train``,
``score`` and ``flag`` read it as they read any dataset:

- ``label`` is the source object's class; ``period`` and ``period_source``
  are the source's; times and errors are the pattern's;
- ``id`` is ``synthetic<serial>:<source id>@<pattern id>``, and the extra
  columns ``source_id``, ``pattern_id``, ``source_chunk`` name both;
- the root attribute ``inputs`` (JSON) records the run, the source dataset,
  the pattern catalog, the seed and the counts under ``"generated"``, next to
  the catalog's preprocessing settings (the synthetic objects stand for
  objects of that catalog).

Under mpirun the synthetic objects are dealt to the ranks in contiguous
blocks and rank 0 writes them all; every random choice of synthetic object
``j`` comes from ``numpy.random.default_rng([seed, 1, j])`` (the choice of
sources from ``[seed, 0]``), so the file does not depend on the number of
ranks.
"""

import dataclasses
import logging
import os
from dataclasses import dataclass

import numpy as np

from rnngmm.dist import Dist
from rnngmm.errors import BadLightCurve, InputError
from rnngmm.io.dataset import Dataset, write_dataset
from rnngmm.lightcurves.objects import Chunking, dataset_preprocessing, object_chunks
from rnngmm.lightcurves.preprocess import Chunks
from rnngmm.decoder.reobserve import eligible_patterns, read_patterns, reobserve_chunks, synthetic_id
from rnngmm.rundir import load_run

log = logging.getLogger(__name__)


@dataclass
class GenerateConfig:
    """Settings of ``rnngmm generate`` (see ``rnngmm generate --help``).

    Attributes
    ----------
    run_dir : str
        A finished run directory.
    times_from : str
        Prepared dataset whose objects lend their sampling patterns.
    output : str
        The synthetic dataset (``.h5``) to write.
    n : int
        Synthetic objects to write.
    data : str, optional
        The run's training dataset (default: the path its config.json records).
    classes : list of str, optional
        Classes of the source objects (default: every class of the run).
    seed : int
    batch_size : int
        Chunks per forward pass.
    min_points : int, optional
        Fewest points of a sampling pattern (default: the run's scoring
        ``n_min``; lower values make objects the run itself does not score,
        e.g. for a head or a forest trained with a lower ``--n_min``).
    """

    run_dir: str
    times_from: str
    output: str
    n: int
    data: str = None
    classes: list = None
    seed: int = 0
    batch_size: int = 512
    min_points: int = None

    def validate(self):
        """Raise InputError naming the first unusable setting."""
        if not os.path.isdir(self.run_dir):
            raise InputError(f"--run_dir {self.run_dir!r} is not a directory")
        for flag, path in (("--times_from", self.times_from), ("--data", self.data)):
            if path is not None and not os.path.isfile(path):
                raise InputError(f"{flag} {path!r} does not exist; make it with "
                                 "'rnngmm prepare'")
        if self.n < 1:
            raise InputError(f"--n must be >= 1 (got {self.n})")
        if self.batch_size < 1:
            raise InputError(f"--batch_size must be >= 1 (got {self.batch_size})")
        if self.min_points is not None and self.min_points < 2:
            raise InputError(f"--min_points must be >= 2 (got {self.min_points})")
        inputs = [p for p in (self.times_from, self.data) if p]
        if any(os.path.abspath(self.output) == os.path.abspath(p) for p in inputs):
            raise InputError(f"--output {self.output!r} would overwrite an input")
        folder = os.path.dirname(os.path.abspath(self.output))
        if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
            raise InputError(f"--output {self.output!r}: {folder!r} is not a writable "
                             "directory")
        return self


def balanced_plan(members, n, rng):
    """Source objects of ``n`` synthetic objects, classes balanced.

    Parameters
    ----------
    members : dict of str to ndarray of int
        Candidate source objects of each class, in the order the classes
        share ``n`` (the first ``n % K`` classes get one more).
    n : int
    rng : numpy.random.Generator

    Returns
    -------
    labels : list of str
    sources : ndarray of int64
        ``n`` source objects, class by class; within a class each object is
        used once, in a random order, before any is used again.
    """
    classes = list(members)
    labels, sources = [], []
    for k, name in enumerate(classes):
        count = n // len(classes) + (1 if k < n % len(classes) else 0)
        pool = np.asarray(members[name], np.int64)
        rounds = -(-count // len(pool)) if count else 0
        order = np.concatenate([rng.permutation(pool) for _ in range(rounds)]
                               + [np.zeros(0, np.int64)])[:count]
        sources.append(order)
        labels += [name] * count
    return labels, np.concatenate(sources) if sources else np.zeros(0, np.int64)


def training_sources(dataset, split, classes):
    """Dataset indices of the run's training objects of each class.

    Raises
    ------
    InputError
        When the dataset holds none of the run's training objects, or none of
        a requested class.
    """
    position = {str(i): n for n, i in enumerate(dataset.ids)}
    train = np.array(sorted(position[i] for i in split.get("train", []) if i in position),
                     np.int64)
    if len(train) == 0:
        raise InputError(f"{dataset.path} holds none of the run's training objects "
                         "(split.json); pass the dataset the run was trained on as --data")
    labels = np.asarray(dataset.labels)[train]
    members = {c: train[labels == c] for c in classes}
    empty = [c for c, m in members.items() if len(m) == 0]
    if empty:
        raise InputError(f"no training object of class(es) {empty} in {dataset.path}")
    return members


def _chosen_classes(config, run):
    classes = list(dict.fromkeys(config.classes or run.class_names))
    unknown = [c for c in classes if c not in run.class_names]
    if unknown:
        raise InputError(f"--class {' '.join(unknown)}: not a class of run {run.run_id} "
                         f"(its classes: {' '.join(run.class_names)})")
    return classes


def _source_chunks(dataset, indices, chunking):
    """Chunks of each source object (they passed training's chunking)."""
    out = {}
    for i, t, m, e in dataset.iter_lightcurves(np.unique(indices)):
        try:
            out[i] = object_chunks(t, m, e, dataset.periods[i], chunking)
        except BadLightCurve as exc:
            raise InputError(f"training object {dataset.ids[i]!r} of {dataset.path} gives "
                             f"no chunk with the run's chunking ({exc.reason}): is --data "
                             "the dataset the run was trained on?") from None
    return out


def synthesise(run, dataset, catalog, sources, serials, eligible, seed, batch_size=512,
               pattern_chunking=None):
    """Synthetic light curves of the synthetic objects ``serials``.

    Parameters
    ----------
    run : rnngmm.rundir.LoadedRun
    dataset, catalog : rnngmm.io.dataset.Dataset
        The training dataset and the pattern catalog.
    sources : ndarray of int
        Source object of EVERY synthetic object (dataset indices).
    serials : ndarray of int
        The synthetic objects to make here (a rank's share).
    eligible : ndarray of int
        Catalog objects that may lend their pattern.
    seed : int
    batch_size : int
    pattern_chunking : rnngmm.lightcurves.objects.Chunking, optional
        How patterns are cut (default: the run's scoring chunking).

    Returns
    -------
    list of dict
        One record per serial: ``serial``, ``source``, ``pattern``,
        ``source_chunk``, ``curve`` (time, mag, err).
    """
    train_chunking = Chunking.from_dict(run.config["chunking"])
    chunks = _source_chunks(dataset, sources[serials], train_chunking)
    records, rngs, picked = [], [], []
    for serial in serials:
        rng = np.random.default_rng([seed, 1, int(serial)])
        source = int(sources[serial])
        pattern = int(eligible[rng.integers(len(eligible))])
        chunk = int(rng.integers(len(chunks[source])))
        records.append({"serial": int(serial), "source": source, "pattern": pattern,
                        "source_chunk": chunk})
        rngs.append(rng)
        c = chunks[source]
        picked.append(Chunks(c.x[chunk:chunk + 1], c.weights[chunk:chunk + 1],
                             c.supports[chunk:chunk + 1]))
    patterns = read_patterns(catalog, [r["pattern"] for r in records])
    curves = reobserve_chunks(run.model, Chunks.concatenate(picked, train_chunking.n_max),
                              [dataset.periods[r["source"]] for r in records],
                              [patterns[r["pattern"]] for r in records], rngs,
                              pattern_chunking or run.chunking, batch_size=batch_size)
    for record, curve in zip(records, curves):
        record["curve"] = curve
    return records


def run_generate(config, dist=None):
    """Write the synthetic dataset ``config`` describes; a summary on rank 0.

    Parameters
    ----------
    config : GenerateConfig
        Validated settings.
    dist : rnngmm.dist.Dist, optional
        Ranks of the job (default: one process).

    Returns
    -------
    dict or None
        On rank 0: ``output``, ``n``, ``per_class`` (objects per class),
        ``patterns`` (distinct pattern objects used), ``longer_than_baseline``
        (objects whose period exceeds their pattern's time span).
    """
    dist = dist or Dist()
    run = load_run(config.run_dir)
    classes = _chosen_classes(config, run)
    data_path = config.data or (run.config.get("dataset") or {}).get("path")
    if not data_path or not os.path.isfile(data_path):
        raise InputError(f"the run's training dataset {data_path!r} is not there: pass "
                         "it as --data")
    with Dataset(data_path) as dataset, Dataset(config.times_from) as catalog:
        members = training_sources(dataset, run.split, classes)
        labels, sources = balanced_plan(members, config.n,
                                        np.random.default_rng([config.seed, 0]))
        chunking = run.chunking
        if config.min_points is not None:
            chunking = dataclasses.replace(chunking, n_min=int(config.min_points))
        eligible = eligible_patterns(catalog.lengths, chunking.n_min,
                                     catalog=f"--times_from {config.times_from}")
        mine = dist.shard(config.n)
        records = synthesise(run, dataset, catalog, sources, mine, eligible, config.seed,
                             config.batch_size, chunking)
        parts = dist.gather(records)
        if not dist.is_root:
            return None
        records = [r for part in parts for r in part]
        summary = _write(config, run, dataset, catalog, records, labels, data_path, chunking)
    log.info(f"wrote {summary['n']} synthetic objects to {config.output} "
             f"({summary['patterns']} sampling patterns of {config.times_from}); per class: "
             + ", ".join(f"{c} {k}" for c, k in summary["per_class"].items()))
    if chunking.n_min < run.chunking.n_min:
        log.warning(f"--min_points {chunking.n_min} is below the run's n_min "
                    f"{run.chunking.n_min}: the run does not score synthetic objects with "
                    "fewer points")
    if summary["longer_than_baseline"]:
        log.warning(f"{summary['longer_than_baseline']} synthetic objects have a period "
                    "longer than their pattern's time span (a survey would not find it)")
    return summary


def _write(config, run, dataset, catalog, records, labels, data_path, chunking):
    records = sorted(records, key=lambda r: r["serial"])
    ids = [synthetic_id(r["serial"], dataset.ids[r["source"]], catalog.ids[r["pattern"]])
           for r in records]
    objects = {"id": ids, "label": [labels[r["serial"]] for r in records],
               "period": np.array([dataset.periods[r["source"]] for r in records], np.float64),
               "period_source": [dataset.period_sources[r["source"]] for r in records],
               "period_power": np.full(len(records), np.nan)}
    extra = {"source_id": np.array([dataset.ids[r["source"]] for r in records], object),
             "pattern_id": np.array([catalog.ids[r["pattern"]] for r in records], object),
             "source_chunk": np.array([r["source_chunk"] for r in records], np.int64)}
    spans = np.array([r["curve"][0][-1] - r["curve"][0][0] for r in records])
    per_class = {c: labels.count(c) for c in dict.fromkeys(labels)}
    generated = {"run_dir": os.path.abspath(run.run_dir), "run_id": run.run_id,
                 "source": os.path.abspath(data_path),
                 "times_from": os.path.abspath(config.times_from), "seed": config.seed,
                 "n": len(records), "classes": list(per_class), "per_class": per_class,
                 "pattern_chunking": chunking.to_dict()}
    # The synthetic objects stand for objects of the catalog: its preprocessing.
    inputs = {**dataset_preprocessing(catalog.attrs).to_dict(), "generated": generated}
    write_dataset(config.output, objects, [r["curve"] for r in records], extra=extra,
                  inputs=inputs)
    return {"output": config.output, "n": len(records), "per_class": per_class,
            "patterns": len({r["pattern"] for r in records}),
            "longer_than_baseline": int(np.sum(objects["period"] > spans))}
