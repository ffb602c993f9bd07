"""Leave-one-class-out (LOCO) novelty experiment.

For each class ``c``: train a model with ``c`` held out entirely
(``rnngmm train --novel_classes c``), score known-vs-``c`` with
:func:`rnngmm.scoring.score.score_run`, and write ``<results_dir>/<c>.json``.
:func:`gather_results` then collects the per-class JSON files (written by one
local loop or by the tasks of a SLURM job array) into one table with the
mean over classes, as ECSV and markdown.

Training calls the library entry point of ``rnngmm train``
(:func:`rnngmm.training.driver.run_training`) with a
:class:`~rnngmm.training.config.TrainConfig`, in this process, so a task
launched with several ranks (``srun``/``mpirun``) trains with Horovod exactly
like ``rnngmm train``; scoring calls :func:`rnngmm.scoring.score.score_run`.
"""

import dataclasses
import glob
import json
import logging
import os
import re

import numpy as np
from astropy.table import Table

from rnngmm.errors import InputError
from rnngmm.io.atomic import atomic_path
from rnngmm.object_table import percentile_label
from rnngmm.scoring.report import METHOD_TITLES, json_ready, write_json, write_text
from rnngmm.training.driver import run_training
from rnngmm.dist import Dist
from rnngmm.scoring.score import ScoreConfig, score_run
from rnngmm.io.dataset import Dataset

#: Exit code of ``rnngmm train`` when it stopped on a signal after checkpointing.
EXIT_PREEMPTED = 75

#: Novelty methods reported in the LOCO table, in column order.
TABLE_METHODS = ("network", "network_component_energy", "network_mahalanobis",
                 "network_reconstruction", "network_max_probability",
                 "rf_features_max_probability", "iforest_features")
#: Short column titles of the markdown table.
SHORT_TITLES = {"network": "energy", "network_component_energy": "component energy",
                "network_mahalanobis": "Mahalanobis", "network_reconstruction": "recon",
                "network_max_probability": "1-max p", "rf_features_max_probability":
                "RF 1-max p", "iforest_features": "iforest"}

log = logging.getLogger(__name__)


def safe_name(label):
    """A file-system-safe version of a class label (``HADS/DSCT -> HADS_DSCT``)."""
    name = re.sub(r"[^A-Za-z0-9._+-]+", "_", str(label)).strip("._")
    return name or "class"


def run_name_for(label):
    """Run directory name of the model trained without ``label``."""
    return f"loco_{safe_name(label)}"


def result_path(results_dir, label):
    """Per-class result JSON of ``label``."""
    return os.path.join(os.fspath(results_dir), f"{safe_name(label)}.json")


def run_is_complete(run_dir):
    """True when a run directory holds a finished model and mixture."""
    return all(os.path.exists(os.path.join(run_dir, name))
               for name in ("config.json", "split.json", "model.keras", "gmm.h5"))


def has_checkpoints(run_dir):
    """True when an interrupted run left checkpoints to resume from."""
    return bool(glob.glob(os.path.join(run_dir, "checkpoints", "*")))


def train_held_out(label, train_config, *, run_name=None, on_epoch=None):
    """Train (or resume, or reuse) the model that never sees class ``label``.

    Parameters
    ----------
    label : str
        Held-out class.
    train_config : rnngmm.training.config.TrainConfig
        The training settings; its ``novel_classes`` and ``run_name`` are set
        here, and the run goes to ``<log_dir>/<sim_type>/<run_name>``.
    run_name : str, optional
        Default ``loco_<label>`` (:func:`run_name_for`).
    on_epoch : callable, optional
        Per-epoch callback of :func:`rnngmm.training.driver.run_training`
        (the pruning of ``rnngmm tune``).

    Returns
    -------
    run_dir : str
    exit_code : int
        0 when the run is complete; the training's code otherwise
        (e.g. 75 after a SLURM preemption signal).
    """
    run_name = run_name or run_name_for(label)
    run_dir = os.path.join(train_config.log_dir, train_config.sim_type, run_name)
    if run_is_complete(run_dir):
        return run_dir, 0
    config = dataclasses.replace(train_config, novel_classes=[str(label)], run_name=run_name,
                                 resume=train_config.resume or has_checkpoints(run_dir))
    _clear_keras_session()
    code = int(run_training(config.validate(), on_epoch=on_epoch) or 0)
    if code == 0 and not run_is_complete(run_dir):
        raise InputError(f"training finished but {run_dir} is incomplete")
    return run_dir, code


def _clear_keras_session():
    """Free the previous model's graph before training the next one."""
    try:
        import keras
        keras.backend.clear_session()
    except ImportError:  # pragma: no cover - keras is a hard dependency of train
        pass


def class_result(label, run_dir, scored):
    """The per-class LOCO record from a :func:`score_run` result."""
    novelty = scored["novelty"]
    network = scored["classification"]["network"]["object"]
    return {
        "held_out": str(label), "run_dir": os.fspath(run_dir),
        "novelty_score": novelty.get("novelty_score"),
        "percentiles": novelty["percentiles"],
        "novelty": novelty["methods"],
        "classification_network_object": {k: network[k] for k in
                                          ("n", "accuracy", "balanced_accuracy", "macro_f1")},
    }


def run_one_class(label, *, train_config, results_dir, percentiles=(80, 95, 99),
                  batch_size=512, with_baselines=True, overwrite=False, dist=None):
    """Train without ``label``, score known-vs-``label``, write its result JSON.

    ``train_config`` (a :class:`~rnngmm.training.config.TrainConfig`) names
    the dataset and every training setting.

    Returns
    -------
    int
        Exit code: 0 done (or already done), otherwise the train code.
    """
    dist = dist or Dist()
    out = result_path(results_dir, label)
    if os.path.exists(out) and not overwrite:
        if dist.is_root:
            log.info(f"{label}: {out} exists, skipped (pass --overwrite to redo)")
        return 0
    check_classes_in_dataset([label], train_config.data)
    run_dir, code = train_held_out(label, train_config)
    if code != 0:
        return code
    result = score_held_out(label, run_dir, percentiles=percentiles, batch_size=batch_size,
                            with_baselines=with_baselines, dist=dist)
    if dist.is_root:
        os.makedirs(results_dir, exist_ok=True)
        write_json(out, result)
        log.info(f"{label}: wrote {out}")
    return 0


def score_held_out(label, run_dir, *, percentiles=(80, 95, 99), batch_size=512,
                   with_baselines=True, dist=None):
    """Score the finished run trained without ``label``: known validation
    objects vs the held-out class (every rank takes part; the scoring outputs
    go to ``<run_dir>/scoring``).

    Returns
    -------
    dict or None
        The per-class record of :func:`class_result` on rank 0; None elsewhere.
    """
    dist = dist or Dist()
    # Rank 0 writes model.keras and gmm.h5 last: no rank may load the run before.
    dist.barrier()
    scored = score_run(ScoreConfig(run_dir, percentiles=tuple(percentiles),
                                   batch_size=batch_size, with_baselines=with_baselines), dist)
    return class_result(label, run_dir, scored) if dist.is_root else None


def dataset_classes(data):
    """Sorted distinct non-empty labels of a prepared dataset."""
    with Dataset(data) as dataset:
        return sorted(set(dataset.labels.tolist()) - {""})


def check_classes_in_dataset(labels, data):
    """InputError naming the first of ``labels`` that is not a label of ``data``."""
    classes = dataset_classes(data)
    for label in labels:
        if str(label) not in classes:
            raise InputError(f"class {label!r} is not a label of {data!r}; labels: {classes}")


def read_results(results_dir):
    """Every per-class result JSON of ``results_dir``, sorted by class.

    Raises
    ------
    InputError
        If there is none, or one cannot be read.
    """
    paths = sorted(glob.glob(os.path.join(os.fspath(results_dir), "*.json")))
    results = []
    for path in paths:
        try:
            with open(path) as f:
                content = json.load(f)
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: not a readable LOCO result ({exc})") from None
        if isinstance(content, dict) and "held_out" in content and "novelty" in content:
            results.append(content)
    if not results:
        raise InputError(f"no LOCO result JSON files in {results_dir!r}")
    return sorted(results, key=lambda r: r["held_out"])


def results_table(results):
    """One row per held-out class plus a final ``mean`` row.

    Columns: ``held_out, n_known, n_novel``, then per method in
    :data:`TABLE_METHODS` (when present) ``<method>_auroc``, ``<method>_ap``
    and ``<method>_{precision,recall,f1,fpr}_<p>`` for each percentile, and
    the network's object-level ``accuracy`` and ``macro_f1``.

    Returns
    -------
    astropy.table.Table
    """
    percentiles = [percentile_label(p) for p in results[0]["percentiles"]]
    methods = [m for m in TABLE_METHODS if all(m in r["novelty"] for r in results)]
    columns = {"held_out": [r["held_out"] for r in results],
               "n_known": [r["novelty"]["network"]["n_known"] for r in results],
               "n_novel": [r["novelty"]["network"]["n_novel"] for r in results]}
    for method in methods:
        columns[f"{method}_auroc"] = [_num(r["novelty"][method]["roc_auc"]) for r in results]
        columns[f"{method}_ap"] = [_num(r["novelty"][method]["average_precision"])
                                   for r in results]
        for p in percentiles:
            for key, short in (("precision", "precision"), ("recall", "recall"),
                               ("f1", "f1"), ("fpr_known", "fpr")):
                columns[f"{method}_{short}_{p}"] = [
                    _num(r["novelty"][method]["at_percentile"].get(p, {}).get(key))
                    for r in results]
    columns["network_accuracy"] = [_num(r["classification_network_object"]["accuracy"])
                                   for r in results]
    columns["network_macro_f1"] = [_num(r["classification_network_object"]["macro_f1"])
                                   for r in results]
    table = Table(columns)
    mean_row = {"held_out": "mean", "n_known": -1, "n_novel": -1}
    for name in table.colnames[3:]:
        values = np.asarray(table[name], dtype=np.float64)
        mean_row[name] = float(np.nanmean(values)) if np.isfinite(values).any() else np.nan
    table.add_row(mean_row)
    table.meta["percentiles"] = percentiles
    table.meta["methods"] = methods
    table.meta["note"] = ("novelty: held-out class vs known-class validation objects; "
                          "thresholds at percentiles of training scores; "
                          "n_known/n_novel of the mean row are -1")
    return table


def _num(value):
    return np.nan if value is None else float(value)


def markdown_table(table):
    """Markdown rendering of :func:`results_table` (AUROC and P/R/F1 per method)."""
    percentiles = table.meta["percentiles"]
    methods = table.meta["methods"]
    header = ["held-out class", "known", "novel"]
    for method in methods:
        title = SHORT_TITLES.get(method, method)
        header.append(f"{title} AUROC")
        header += [f"{title} P/R/F1 @{p}" for p in percentiles]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in table:
        mean = row["held_out"] == "mean"
        cells = [f"**{row['held_out']}**" if mean else str(row["held_out"]),
                 "" if mean else str(row["n_known"]), "" if mean else str(row["n_novel"])]
        for method in methods:
            cells.append(_cell(row[f"{method}_auroc"], mean))
            cells += [
                "/".join(_fmt(row[f"{method}_{k}_{p}"]) for k in ("precision", "recall", "f1"))
                for p in percentiles]
        lines.append("| " + " | ".join(cells) + " |")
    legend = ", ".join(f"{SHORT_TITLES.get(m, m)} = {METHOD_TITLES.get(m, m)}"
                       for m in methods)
    return ("# Leave-one-class-out novelty detection\n\n" + "\n".join(lines) +
            f"\n\n{legend}. Thresholds are percentiles of the training objects' scores.\n")


def _fmt(value):
    return "n/a" if not np.isfinite(value) else f"{value:.2f}"


def _cell(value, bold):
    text = "n/a" if not np.isfinite(value) else f"{value:.3f}"
    return f"**{text}**" if bold and text != "n/a" else text


def gather_results(results_dir, output_stem=None):
    """Collect per-class results into ``<stem>.ecsv``, ``<stem>.md`` and ``<stem>.json``.

    Parameters
    ----------
    results_dir : str
    output_stem : str, optional
        Default ``<results_dir>/loco_table``.

    Returns
    -------
    table : astropy.table.Table
    paths : list of str
    """
    results = read_results(results_dir)
    table = results_table(results)
    stem = output_stem or os.path.join(os.fspath(results_dir), "loco_table")
    ecsv = f"{stem}.ecsv"
    with atomic_path(ecsv) as tmp:
        table.write(tmp, format="ascii.ecsv", overwrite=True)
    md = write_text(f"{stem}.md", markdown_table(table))
    mean = {name: table[-1][name] for name in table.colnames[3:]}
    js = write_json(f"{stem}.json", {"classes": [r["held_out"] for r in results],
                                     "mean": json_ready(mean), "per_class": results})
    return table, [ecsv, md, js]
