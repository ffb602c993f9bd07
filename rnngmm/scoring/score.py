"""The scoring stage: a trained run directory -> metrics, figures, tables.

Flow (``score_run``):

1. every rank loads the run (:func:`rnngmm.rundir.load_run`) and the dataset;
2. the objects to evaluate (and, for the baselines, the training objects)
   are chosen from the run's ``split.json`` or from ``--data`` labels;
3. each rank chunks its contiguous shard of objects with
   :func:`rnngmm.lightcurves.objects.chunk_objects` (the run's chunking) and scores them
   on the one scoring path, :func:`rnngmm.inference.score_chunks`; shards
   are gathered on rank 0 in object order, so 1 and N ranks give the same
   results;
4. rank 0 computes the metrics and baselines and writes everything under
   ``<run_dir>/<out_name>/``.
"""

import logging
import os
import warnings
from dataclasses import dataclass, field

import numpy as np
from astropy.table import Table

from rnngmm.novelty.class_fair import ClassPercentile
from rnngmm.dist import Dist
from rnngmm.errors import InputError
from rnngmm.inference import ChunkScores, aggregate_objects, mean_by_object, score_chunks
from rnngmm.io.dataset import Dataset
from rnngmm.object_table import (OK, describe_columns, percentile_label, result_columns,
                            text_column)
from rnngmm.lightcurves.objects import chunk_objects, dataset_records, observed_sampling
from rnngmm.novelty import alternative_scores as novelty_scores
from rnngmm.scoring import baselines, features, metrics, plots, report
from rnngmm.progress import Progress
from rnngmm.lightcurves.preprocess import Chunks
from rnngmm.rundir import load_run

log = logging.getLogger(__name__)

#: Roles of evaluated objects in the per-object table.
ROLE_VALIDATION = "validation"   # known class, held-out validation object of the run
ROLE_KNOWN = "known"             # known class, from another dataset (--data)
ROLE_NOVEL = "novel"             # class the model never saw
ROLE_UNLABELLED = "unlabelled"   # no label: scored, not in any metric
ROLE_EXCLUDED = "excluded"       # rejected by the run's training preprocessing
KNOWN_ROLES = (ROLE_VALIDATION, ROLE_KNOWN)


@dataclass
class ScoreConfig:
    """Settings of ``rnngmm score`` (see ``rnngmm score --help`` for each).

    Attributes
    ----------
    run_dir : str
        ``keras_logs/<sim_type>/<run_id>`` written by ``rnngmm train``.
    data : str, optional
        Another prepared dataset to score (all its objects).
    novel_classes : sequence of str, optional
        See :func:`evaluation_plan`.
    percentiles : sequence of float
        Percentiles of the training energies used as thresholds.
    output : str
        Output folder, relative to ``run_dir``.
    batch_size : int
        Chunks per forward pass.
    with_baselines : bool
        Also fit and score the random-forest and isolation-forest baselines.
    """

    run_dir: str
    data: str = None
    novel_classes: list = None
    percentiles: tuple = (80.0, 95.0, 99.0)
    output: str = "scoring"
    batch_size: int = 512
    with_baselines: bool = True

    def validate(self):
        """Raise InputError for the first setting that makes scoring pointless."""
        if not os.path.isdir(self.run_dir):
            raise InputError(f"--run_dir {self.run_dir!r} is not a directory")
        for name in ("config.json", "split.json", "model.keras", "gmm.h5"):
            if not os.path.exists(os.path.join(self.run_dir, name)):
                raise InputError(f"--run_dir {self.run_dir!r} has no {name}; "
                                 "is it a finished 'rnngmm train' run?")
        if self.data is not None and not os.path.isfile(self.data):
            raise InputError(f"--data {self.data!r} does not exist")
        if any(not 0 < p < 100 for p in self.percentiles):
            raise InputError(f"--percentiles must lie strictly between 0 and 100, "
                             f"got {list(self.percentiles)}")
        if self.batch_size < 1:
            raise InputError(f"--batch_size must be positive, got {self.batch_size}")
        if os.path.isabs(self.output) or ".." in self.output.split(os.sep):
            raise InputError(f"--output {self.output!r} must be a folder name inside the "
                             "run directory")
        return self


@dataclass
class Inference:
    """Network results of a list of objects (filled on rank 0 only).

    Attributes
    ----------
    indices : ndarray of int64, shape (n,)
        Dataset indices of the objects, in the order asked for.
    reasons : list of str
        ``""`` for chunked objects, else the reason they could not be chunked.
    chunk_position : ndarray of int64, shape (N,)
        Position (into ``indices``) of each chunk's object.
    scores : rnngmm.inference.ChunkScores
        Per chunk: class probabilities, code, mixture input, energy.
    supports : ndarray (N, 3)
        Per chunk: mean magnitude, scale, log period.
    n_points, baseline : ndarray, shape (n,)
        Per object: stored (prepared) points and last minus first epoch (days).
    """

    indices: np.ndarray
    reasons: list = field(default_factory=list)
    chunk_position: np.ndarray = None
    scores: ChunkScores = None
    supports: np.ndarray = None
    n_points: np.ndarray = None
    baseline: np.ndarray = None

    @property
    def n_chunks(self):
        """(n,) chunks per object (0 when rejected)."""
        return np.bincount(self.chunk_position, minlength=len(self.indices)).astype(np.int64)

    @property
    def ok(self):
        """Boolean (n,): objects with at least one chunk."""
        return self.n_chunks > 0

    def object_scores(self):
        """Per-object means: ``(prob (n, K), energy (n,))``, NaN where rejected."""
        k = self.scores.gamma.shape[1]
        prob = np.full((len(self.indices), k), np.nan)
        energy = np.full(len(self.indices), np.nan)
        if len(self.scores):
            means = aggregate_objects(self.scores, self.chunk_position)
            prob[means.objects] = means.prob
            energy[means.objects] = means.energy
        return prob, energy


def infer_objects(run, dataset, indices, dist, batch_size, *, block_objects=2048,
                  label="score"):
    """Chunk and score ``indices`` on the one scoring path, sharded over ranks.

    Each rank works through its shard in blocks of ``block_objects``; rank 0
    logs progress with an ETA (its own rate stands for every rank's).

    Returns
    -------
    Inference or None
        Complete on rank 0; None on the other ranks.
    """
    indices = np.asarray(indices, dtype=np.int64)
    mine = np.asarray(dist.shard(len(indices)), dtype=np.int64)
    progress = Progress(len(indices), interval=10.0, label=label) if dist.is_root else None
    blocks, sampling = [], []
    for start in range(0, len(mine), block_objects):
        block = indices[mine[start:start + block_objects]]
        records = list(dataset_records(dataset, block))
        sampling.extend((i, *observed_sampling(t)) for i, t, _, _, _ in records)
        chunk_set = chunk_objects(records, run.chunking)
        scores = score_chunks(run.model, run.novelty, chunk_set.chunks, batch_size=batch_size)
        blocks.append((chunk_set, scores))
        if progress is not None:
            progress.update(min((start + block_objects) * dist.size, len(indices)))
    # chunk_objects numbers chunks by dataset index; map to position in `indices`
    position_of = {int(i): int(p) for p, i in zip(mine, indices[mine])}
    local = {
        "chunk_position": np.array([position_of[int(i)] for c, _ in blocks
                                    for i in c.object_index], dtype=np.int64),
        "rejects": [(position_of[int(i)], reason) for c, _ in blocks for i, reason in c.rejects],
        "scores": _concatenate_scores([sc for _, sc in blocks], run),
        "supports": np.concatenate([np.zeros((0, 3), np.float32)]
                                   + [c.chunks.supports for c, _ in blocks]),
        "sampling": [(position_of[int(i)], n, b) for i, n, b in sampling],
    }
    parts = dist.gather(local)
    if not dist.is_root:
        return None
    result = Inference(indices)
    result.chunk_position = np.concatenate([p["chunk_position"] for p in parts])
    result.supports = np.concatenate([p["supports"] for p in parts])
    result.scores = _concatenate_scores([p["scores"] for p in parts], run)
    reasons = [""] * len(indices)
    for part in parts:
        for position, reason in part["rejects"]:
            reasons[position] = reason
    result.reasons = reasons
    result.n_points = np.zeros(len(indices), np.int64)
    result.baseline = np.full(len(indices), np.nan)
    for part in parts:
        for position, n, b in part["sampling"]:
            result.n_points[position], result.baseline[position] = n, b
    return result


def _concatenate_scores(parts, run):
    """One :class:`ChunkScores` from several (no part gives zero chunks)."""
    if not parts:
        parts = [score_chunks(run.model, run.novelty, _no_chunks(run.chunking.n_max))]
    return ChunkScores(*(np.concatenate([getattr(p, name) for p in parts])
                         for name in ("gamma", "z", "code", "energy", "recon_error")))


def _no_chunks(n_max):
    return Chunks.concatenate([], n_max)


def evaluation_plan(dataset, run, *, external, novel_classes=None):
    """Which objects to evaluate and in which role.

    Parameters
    ----------
    dataset : Dataset
        The dataset being scored.
    run : LoadedRun
    external : bool
        True when ``dataset`` is not the run's own dataset (``--data``).
    novel_classes : sequence of str, optional
        Run's dataset: objects of these classes outside the training split
        become the novel set (default: the split's ``novel`` objects).
        External dataset: these labels are novel (default: every label not in
        the run's classes).

    Returns
    -------
    indices : ndarray of int64
        Dataset indices to evaluate, sorted. For the run's own dataset: its
        validation, novel, unlabelled and training-rejected objects (so no
        object outside the training set is silently dropped).
    roles : ndarray of str
        One of the ``ROLE_*`` values per index.
    """
    labels = dataset.labels
    class_names = [str(c) for c in run.class_names]
    novel_classes = list(novel_classes or [])
    if external:
        if novel_classes:
            is_novel = np.isin(labels, novel_classes)
        else:
            is_novel = (labels != "") & ~np.isin(labels, class_names)
        roles = np.where(is_novel, ROLE_NOVEL,
                         np.where(np.isin(labels, class_names), ROLE_KNOWN, ROLE_UNLABELLED))
        return np.arange(len(dataset), dtype=np.int64), roles.astype(str)

    trained_on = sorted(set(novel_classes) & set(class_names))
    if trained_on:
        raise InputError(f"--novel_classes {trained_on} were classes of the training set "
                         f"of this run; a novel class must be one the model never saw")
    split = run.split
    lookup = split_indices(dataset, split)
    validation = lookup["validation"]
    if novel_classes:
        novel = np.flatnonzero(np.isin(labels, novel_classes))
        novel = np.setdiff1d(novel, lookup["train"])
        validation = validation[~np.isin(labels[validation], novel_classes)]
    else:
        novel = lookup["novel"]
    parts = [(validation, ROLE_VALIDATION), (novel, ROLE_NOVEL),
             (lookup["unlabelled"], ROLE_UNLABELLED),
             (np.setdiff1d(lookup["rejected"], novel), ROLE_EXCLUDED)]
    indices = np.concatenate([p for p, _ in parts]).astype(np.int64)
    roles = np.concatenate([np.full(len(p), role, dtype="U16") for p, role in parts])
    order = np.argsort(indices, kind="stable")
    return indices[order], roles[order]


def split_indices(dataset, split):
    """Dataset indices of the ids in ``split.json``.

    Returns
    -------
    dict
        ``train, validation, novel, unlabelled, rejected`` -> sorted int64
        indices (empty for parts the file does not list).

    Raises
    ------
    InputError
        If ids of the split are missing from the dataset (it changed since
        training).
    """
    position = {str(i): n for n, i in enumerate(dataset.ids)}
    out = {}
    for name in ("train", "validation", "novel", "unlabelled", "rejected"):
        ids = [str(i) for i in split.get(name, [])]
        missing = [i for i in ids if i not in position]
        if missing:
            raise InputError(f"{len(missing)} {name} ids of split.json (e.g. {missing[0]!r}) "
                             f"are not in dataset {dataset.path!r}; was it re-prepared?")
        out[name] = np.array(sorted(position[i] for i in ids), dtype=np.int64)
    return out


def run_dataset_path(run):
    """Path of the run's training dataset as recorded in config.json."""
    path = (run.config.get("dataset") or {}).get("path")
    if not path:
        raise InputError(f"{run.run_dir}/config.json records no dataset path; pass --data")
    return path


def same_file(a, b):
    """True when two paths name the same existing file."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


def score_run(config, dist=None):
    """Score a run directory; the library entry point of ``rnngmm score``.

    Parameters
    ----------
    config : ScoreConfig
    dist : rnngmm.dist.Dist, optional
        Process topology (default: single process).

    Returns
    -------
    dict or None
        On rank 0: ``{"out_dir", "files": {name: path}, "classification",
        "novelty"}``; None on other ranks.
    """

    config.validate()
    dist = dist or Dist()
    data, novel_classes = config.data, config.novel_classes
    batch_size, with_baselines = config.batch_size, config.with_baselines
    run = load_run(config.run_dir)
    run_data = run_dataset_path(run)
    external = data is not None and not same_file(data, run_data)
    data_path = data if external else run_data
    out_dir = os.path.join(os.fspath(config.run_dir), config.output)
    with Dataset(data_path) as dataset:
        # the plan checks the classes asked for: a refused command leaves no folder
        indices, roles = evaluation_plan(dataset, run, external=external,
                                         novel_classes=novel_classes)
        if dist.is_root:
            os.makedirs(out_dir, exist_ok=True)
            log.info(f"scoring {len(indices)} objects of {data_path} "
                     f"({dist.size} rank{'s' if dist.size > 1 else ''})")
        evaluated = infer_objects(run, dataset, indices, dist, batch_size, label="score")
        eval_labels = dataset.labels[indices]
        eval_ids = dataset.ids[indices]
        eval_periods = (np.asarray(dataset.periods)[indices],
                        np.asarray(dataset.period_sources, dtype=object)[indices])
        eval_features = None
        if with_baselines and dist.is_root:
            eval_features = features.dataset_features(dataset)[indices]

    training = train_features = train_labels = None
    if with_baselines:
        if external and not os.path.exists(run_data):
            if dist.is_root:
                warnings.warn(f"run dataset {run_data!r} not found: baselines skipped")
            with_baselines = False
        else:
            with Dataset(run_data) as train_set:
                train_idx = split_indices(train_set, run.split)["train"]
                if dist.is_root:
                    log.info(f"scoring the {len(train_idx)} training objects for the baselines")
                training = infer_objects(run, train_set, train_idx, dist, batch_size,
                                         label="score (training objects)")
                if dist.is_root:
                    train_labels = train_set.labels[train_idx]
                    train_features = features.dataset_features(train_set)[train_idx]

    if not dist.is_root:
        return None
    log.info("computing metrics and writing results")
    return write_results(
        out_dir=out_dir, run=run, data_path=data_path, ids=eval_ids, labels=eval_labels,
        roles=roles, evaluated=evaluated, percentiles=config.percentiles,
        periods=eval_periods,
        novel_classes=novel_classes,
        baseline_inputs=(training, train_labels, train_features, eval_features)
        if with_baselines else None)


def _label_indices(labels, class_names):
    lookup = {str(c): n for n, c in enumerate(class_names)}
    return np.array([lookup.get(str(lab), -1) for lab in labels], dtype=np.int64)


def write_results(*, out_dir, run, data_path, ids, labels, roles, evaluated, percentiles,
                  periods, novel_classes, baseline_inputs):
    """Compute every metric on rank 0 and write the outputs (see module doc)."""
    class_names = [str(c) for c in run.class_names]
    seed = int(run.split.get("seed", 0))
    y_object = _label_indices(labels, class_names)
    ok = evaluated.ok
    known = np.isin(roles, KNOWN_ROLES) & ok & (y_object >= 0)
    novel = (roles == ROLE_NOVEL) & ok
    object_prob, object_energy = evaluated.object_scores()
    predicted = np.full(len(ids), -1, dtype=np.int64)
    predicted[ok] = np.argmax(object_prob[ok], axis=1)
    chunk_known = known[evaluated.chunk_position]
    chunk_true = y_object[evaluated.chunk_position]

    classification = {"network": {
        "chunk": metrics.classification_metrics(
            chunk_true[chunk_known], np.argmax(evaluated.scores.gamma[chunk_known], axis=1), class_names),
        "object": metrics.classification_metrics(y_object[known], predicted[known], class_names)}}
    # "network" is the run's own novelty score (class-fair by default); the
    # reference energy is reported beside it when the run flags on another.
    object_score = np.full(len(ids), np.nan)
    object_score[ok] = run.novelty.novelty_scores(object_energy[ok], predicted[ok],
                                                  np.max(object_prob[ok], axis=1),
                                                  n_points=evaluated.n_points[ok],
                                                  baseline=evaluated.baseline[ok])
    thresholds = run.novelty.score_thresholds(percentiles)
    own = {"network": (object_score, thresholds)}
    if run.novelty.novelty_score != "energy":
        own["network_energy"] = (object_energy, run.novelty.thresholds_for(percentiles))
    novelty_methods, curves, flag_rates = {}, {}, {}
    for method, (values, cuts) in own.items():
        novelty_methods[method] = metrics.novelty_metrics(values[known], values[novel], cuts)
        curves[method] = _with_ranking(metrics.curves(values[known], values[novel]),
                                       novelty_methods[method])
        # per known class: a known star should not be flagged for its class
        flag_rates[method] = novelty_scores.flag_rates_by_class(
            values[known], cuts, labels[known], class_names)
    extra_columns = {}

    if baseline_inputs is not None:
        training, train_labels, train_features, eval_features = baseline_inputs
        y_train_object = _label_indices(train_labels, class_names)
        train_ok = training.ok & (y_train_object >= 0)
        # RF on the network's code + supports, one row per chunk
        train_chunks = train_ok[training.chunk_position]
        x_train = np.hstack([training.scores.code, training.supports])[train_chunks]
        y_train = y_train_object[training.chunk_position][train_chunks]
        x_eval = np.hstack([evaluated.scores.code, evaluated.supports])
        chunk_prob = baselines.random_forest_probabilities(
            x_train, y_train, x_eval, len(class_names), seed=seed)
        positions, rf_code_prob, _ = mean_by_object(chunk_prob, evaluated.chunk_position)
        rf_code_pred = np.full(len(ids), -1, dtype=np.int64)
        rf_code_pred[positions] = np.argmax(rf_code_prob, axis=1)
        classification["rf_code"] = {
            "chunk": metrics.classification_metrics(
                chunk_true[chunk_known], np.argmax(chunk_prob[chunk_known], axis=1), class_names),
            "object": metrics.classification_metrics(y_object[known], rf_code_pred[known],
                                                      class_names)}
        # RF and isolation forest on light-curve features, one row per object;
        # same objects as the network (those it could chunk)
        rf_feat_prob, train_rf_prob = baselines.random_forest_probabilities(
            train_features[train_ok], y_train_object[train_ok], eval_features,
            len(class_names), seed=seed, with_oob=True)
        rf_feat_pred = np.where(ok, np.argmax(rf_feat_prob, axis=1), -1)
        classification["rf_features"] = {"object": metrics.classification_metrics(
            y_object[known], rf_feat_pred[known], class_names)}
        train_scores, iforest = baselines.isolation_forest_scores(
            train_features[train_ok], eval_features, seed=seed)
        iforest = np.where(ok, iforest, np.nan)
        novelty_methods["iforest_features"] = metrics.novelty_metrics(
            iforest[known], iforest[novel], metrics.percentile_thresholds(train_scores, percentiles))
        curves["iforest_features"] = _with_ranking(
            metrics.curves(iforest[known], iforest[novel]), novelty_methods["iforest_features"])
        # the feature forest's own novelty score: 1 - its max probability
        # (thresholds from the training objects' out-of-bag probabilities)
        rf_novelty = np.where(ok, 1.0 - rf_feat_prob.max(axis=1), np.nan)
        rf_thresholds = metrics.percentile_thresholds(1.0 - train_rf_prob.max(axis=1),
                                                      percentiles)
        novelty_methods["rf_features_max_probability"] = metrics.novelty_metrics(
            rf_novelty[known], rf_novelty[novel], rf_thresholds)
        extra_columns = {
            "rf_code_predicted": _names(rf_code_pred, class_names),
            "rf_features_predicted": _names(rf_feat_pred, class_names),
            "iforest_score": iforest}
        alternatives, alternative_thresholds = alternative_novelty_scores(
            run, evaluated, training, y_train_object, train_ok, percentiles)
        for name, values in alternatives.items():
            method = f"network_{name}"
            novelty_methods[method] = metrics.novelty_metrics(
                values[known], values[novel], alternative_thresholds[name])
            curves[method] = _with_ranking(metrics.curves(values[known], values[novel]),
                                           novelty_methods[method])
            extra_columns[f"score_{name}"] = values
            flag_rates[method] = novelty_scores.flag_rates_by_class(
                values[known], alternative_thresholds[name], labels[known], class_names)

    novelty = {"novel_classes": sorted(set(labels[roles == ROLE_NOVEL].tolist())),
               "thresholds_from": "training-object energies saved in gmm.h5",
               "novelty_score": run.novelty.novelty_score,
               "percentiles": [float(p) for p in percentiles],
               "methods": novelty_methods,
               "known_flag_rate_by_class": flag_rates}
    if not novel.any():
        novelty["note"] = ("no novel objects were scored (train with --novel_classes or "
                           "score with --novel_classes / --data); novelty metrics are n/a")

    files = {}
    files["classification_txt"] = report.write_text(
        os.path.join(out_dir, "classification_accuracy.txt"),
        report.classification_text(classification, class_names))
    files["classification_json"] = report.write_json(
        os.path.join(out_dir, "classification_accuracy.json"),
        {"class_names": class_names, "methods": classification})
    files["novelty_txt"] = report.write_text(
        os.path.join(out_dir, "novel_detection_scores.txt"), report.novelty_text(novelty))
    files["novelty_json"] = report.write_json(
        os.path.join(out_dir, "novel_detection_scores.json"), novelty)

    figures = {}
    for method, levels in classification.items():
        for level, m in levels.items():
            stem = os.path.join(out_dir, f"confusion_{method}_{level}")
            files[f"confusion_{method}_{level}_csv"] = report.write_confusion_csv(
                stem + ".csv", m["confusion"], class_names)
            for normalise, kind in ((True, "normalised"), (False, "raw")):
                paths = plots.plot_confusion_matrix(
                    m["confusion"], class_names, f"{stem}_{kind}", normalise=normalise,
                    title=f"{report.METHOD_TITLES[method]}\n{level} level, {kind}")
                files[f"confusion_{method}_{level}_{kind}"] = paths[0]
                if kind == "normalised" and (level == "object"):
                    figures[f"Confusion matrix: {report.METHOD_TITLES[method]}"] = paths[0]
    known_name = ("known validation" if ROLE_VALIDATION in set(roles[known])
                  else f"known ({os.path.basename(data_path)})")
    energy_sets = {"training": run.novelty.train_energy_,
                   known_name: object_energy[known],
                   "novel": object_energy[novel]}
    energy_thresholds = run.novelty.thresholds_for(percentiles)  # pooled, in energy units
    paths = plots.plot_energy_histograms(
        energy_sets, energy_thresholds, os.path.join(out_dir, "energy_histogram"),
        title="Object energies (mean over chunks)")
    files["energy_histogram"] = figures["Energy histogram"] = paths[0]
    if novel.any() and known.any():
        paths = plots.plot_roc_pr(curves, os.path.join(out_dir, "novelty_roc_pr"))
        files["novelty_roc_pr"] = figures["Novelty ROC and precision-recall"] = paths[0]

    files["energies"] = report.write_energies(
        os.path.join(out_dir, "energies.h5"),
        {"training": {"energy": run.novelty.train_energy_},
         "known": {"id": ids[known], "energy": object_energy[known]},
         "novel": {"id": ids[novel], "energy": object_energy[novel]}},
        attrs={"thresholds": {percentile_label(p): t for p, t in energy_thresholds.items()},
               "aggregation": "mean of chunk energies per object"})

    table = object_table(ids, labels, roles, evaluated, object_prob, object_energy, periods,
                         class_names, run.novelty, percentiles, extra_columns)
    ecsv, h5 = report.write_object_table(os.path.join(out_dir, "objects"), table)
    files["objects_ecsv"], files["objects_h5"] = ecsv, h5

    counts = {"objects evaluated": len(ids), "known-class objects scored": int(known.sum()),
              "novel objects scored": int(novel.sum()),
              "objects that could not be chunked": int((~ok).sum())}
    rel = {k: os.path.relpath(v, out_dir) for k, v in figures.items()}
    listed = {"classification report": "classification_accuracy.txt",
              "novelty report": "novel_detection_scores.txt",
              "per-object table": "objects.ecsv", "energies": "energies.h5"}
    files["summary"] = report.write_text(
        os.path.join(out_dir, "summary.md"),
        report.summary_markdown(run_dir=run.run_dir, dataset_path=data_path,
                                classification=classification, novelty=novelty,
                                figures=rel, files=listed, counts=counts))
    return {"out_dir": out_dir, "files": files, "classification": classification,
            "novelty": novelty}


def object_table(ids, labels, roles, evaluated, probabilities, energy, periods,
                 class_names, novelty, percentiles, extra_columns):
    """Per-object astropy Table: one row per evaluated object.

    Columns: ``id``, ``label``, ``role``, then the result columns shared with
    ``rnngmm flag`` (:func:`rnngmm.object_table.result_columns`), then the
    baselines' columns.
    """
    status = np.array([OK if r == "" else r for r in evaluated.reasons], dtype=object)
    columns = {"id": text_column(ids), "label": text_column(labels),
               "role": text_column(roles)}
    columns.update(result_columns(
        status=status, period=periods[0], period_source=periods[1], prob=probabilities,
        n_chunks=evaluated.n_chunks, energy=energy, class_names=class_names,
        n_points=evaluated.n_points, baseline=evaluated.baseline,
        novelty=novelty, percentiles=percentiles))
    columns.update(extra_columns)
    table = Table(columns)
    table.meta["class_names"] = list(class_names)
    describe_columns(table, novelty.novelty_score, novelty.conditions_on_sampling)
    table.meta["energy_percentile"] = table["energy_percentile"].description
    return table


def alternative_novelty_scores(run, evaluated, training, y_train_object, train_ok,
                               percentiles):
    """The scores of :mod:`rnngmm.novelty.alternative_scores` for the evaluated
    objects, and thresholds from the same scores of the training objects.

    Returns
    -------
    scores : dict of str to ndarray (n_evaluated,)
    thresholds : dict of str to dict of float to float
    """
    def per_object(inference, mahalanobis):
        n = len(inference.indices)
        prob = np.full((n, len(run.class_names)), np.nan)
        code = np.full((n, inference.scores.code.shape[1]), np.nan)
        if len(inference.scores):
            means = aggregate_objects(inference.scores, inference.chunk_position)
            prob[means.objects], code[means.objects] = means.prob, means.code
        scores = novelty_scores.object_scores(
            chunk_z=inference.scores.z, chunk_recon=inference.scores.recon_error,
            chunk_position=inference.chunk_position, n_objects=n, object_prob=prob,
            object_code=code, novelty=run.novelty, mahalanobis=mahalanobis)
        if run.novelty.novelty_score != "class_energy":  # else it is "network" itself
            energy = np.full(n, np.nan)
            if len(inference.scores):
                energy[means.objects] = means.energy
            scores["energy"] = energy
        predicted = np.argmax(np.nan_to_num(prob, nan=-1.0), axis=1)
        return scores, code, predicted

    _, train_code, _ = per_object(training, None)
    mahalanobis = novelty_scores.ClassMahalanobis().fit(train_code[train_ok],
                                                        y_train_object[train_ok])
    train_scores, _, train_predicted = per_object(training, mahalanobis)
    scores, _, predicted = per_object(evaluated, mahalanobis)
    thresholds = {name: metrics.percentile_thresholds(train_scores[name][train_ok],
                                                      percentiles)
                  for name in scores}
    # Class-fair variants: each score ranked within the predicted class.
    for name in novelty_scores.CLASS_FAIR:
        if name not in scores:
            continue
        usable = train_ok & np.isfinite(train_scores[name])
        ranking = ClassPercentile().fit(train_scores[name][usable],
                                             train_predicted[usable])
        scores[f"class_{name}"] = ranking.transform(scores[name], predicted)
        thresholds[f"class_{name}"] = ranking.thresholds(percentiles)
    scores.pop("energy", None)
    thresholds.pop("energy", None)
    return scores, thresholds


def _names(indices, class_names):
    return np.array([class_names[i] if i >= 0 else "" for i in indices], dtype=str)


def _with_ranking(curve, summary):
    if curve is None:
        return None
    return dict(curve, roc_auc=summary["roc_auc"], average_precision=summary["average_precision"])
