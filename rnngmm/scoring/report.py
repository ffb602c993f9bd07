"""Writers of the scoring outputs: text + JSON twins, tables, energies, summary.

All files go through :func:`rnngmm.io.atomic.atomic_path`. JSON is standard
(NaN written as ``null``), keys sorted, so two identical results give
byte-identical files.
"""

import csv
import json
import math
import os

import h5py
import numpy as np

from rnngmm.io.atomic import atomic_path

#: Human names of the methods in the reports.
METHOD_TITLES = {
    "network": "RNN-GMM network (gamma / novelty score)",
    "network_energy": "RNN-GMM sample energy (reference, one pooled threshold)",
    "network_class_energy": "RNN-GMM energy ranked within the predicted class",
    "network_class_component_energy": "RNN-GMM best-component energy, per predicted class",
    "network_class_mahalanobis": "RNN-GMM class Mahalanobis, per predicted class",
    "network_class_reconstruction": "RNN-GMM reconstruction error, per predicted class",
    "network_class_max_probability": "RNN-GMM 1 - max class probability, per predicted class",
    "rf_code": "Random forest on network code + supports",
    "rf_features": "Random forest on light-curve features",
    "iforest_features": "Isolation forest on light-curve features",
    "network_component_energy": "RNN-GMM best-component energy (no class weight)",
    "network_mahalanobis": "RNN-GMM class Mahalanobis distance of the code",
    "network_reconstruction": "RNN-GMM reconstruction error",
    "network_max_probability": "RNN-GMM 1 - max class probability",
    "rf_features_max_probability": "Random forest on features: 1 - max probability",
}


def json_ready(value):
    """Nested copy of ``value`` with numpy types as python ones and NaN/inf as None."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        return [json_ready(v) for v in value.tolist()]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def write_json(path, payload):
    """Write ``payload`` as indented, key-sorted standard JSON."""
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        json.dump(json_ready(payload), f, indent=2, sort_keys=True, allow_nan=False)
        f.write("\n")
    return os.fspath(path)


def write_text(path, text):
    """Write a text file atomically."""
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        f.write(text)
    return os.fspath(path)


def _fmt(value, digits=4):
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return f"{value:.{digits}f}"


def classification_text(results, class_names):
    """Plain-text report of classification metrics of several methods.

    Parameters
    ----------
    results : dict
        ``{method: {level: metrics}}`` with ``level`` in ``"chunk"``,
        ``"object"`` and ``metrics`` from
        :func:`rnngmm.scoring.metrics.classification_metrics`.
    class_names : sequence of str
    """
    lines = ["Classification accuracy (known classes, validation objects)", ""]
    lines.append(f"{'method':<46} {'level':<7} {'n':>7} {'accuracy':>9} "
                 f"{'bal.acc':>8} {'macro-F1':>9}")
    for method, levels in results.items():
        for level, m in levels.items():
            lines.append(f"{METHOD_TITLES.get(method, method):<46} {level:<7} {m['n']:>7} "
                         f"{_fmt(m['accuracy']):>9} {_fmt(m['balanced_accuracy']):>8} "
                         f"{_fmt(m['macro_f1']):>9}")
    width = max([len(str(c)) for c in class_names] + [5])
    for method, levels in results.items():
        for level, m in levels.items():
            lines += ["", f"{METHOD_TITLES.get(method, method)} - {level} level",
                      f"  {'class':<{width}} {'precision':>9} {'recall':>7} {'f1':>7} {'support':>8}"]
            for name in class_names:
                c = m["per_class"][str(name)]
                lines.append(f"  {str(name):<{width}} {_fmt(c['precision']):>9} "
                             f"{_fmt(c['recall']):>7} {_fmt(c['f1']):>7} {c['support']:>8}")
    return "\n".join(lines) + "\n"


def novelty_text(results):
    """Plain-text report of novelty-detection metrics of several methods.

    Parameters
    ----------
    results : dict
        ``{"novel_classes": [...], "methods": {method: novelty_metrics}}``
        (see :func:`rnngmm.scoring.metrics.novelty_metrics`), optionally
        ``"note"``.
    """
    lines = ["Novelty detection: novel objects vs known-class validation objects",
             f"novel classes: {', '.join(results.get('novel_classes', [])) or 'none'}",
             "thresholds: percentiles of each method's TRAINING-object scores; "
             "flagged = score > threshold", ""]
    if results.get("note"):
        lines += [f"NOTE: {results['note']}", ""]
    for method, m in results.get("methods", {}).items():
        lines += [f"{METHOD_TITLES.get(method, method)}",
                  f"  known objects {m['n_known']}, novel objects {m['n_novel']}, "
                  f"ROC-AUC {_fmt(m['roc_auc'])}, average precision {_fmt(m['average_precision'])}",
                  f"  {'pct':>5} {'threshold':>12} {'precision':>9} {'recall':>7} "
                  f"{'F1':>7} {'FPR known':>9}"]
        for p, d in m["at_percentile"].items():
            lines.append(f"  {p:>5} {d['threshold']:>12.5g} {_fmt(d['precision']):>9} "
                         f"{_fmt(d['recall']):>7} {_fmt(d['f1']):>7} {_fmt(d['fpr_known']):>9}")
        lines.append("")
    return "\n".join(lines)


def write_confusion_csv(path, confusion, class_names):
    """Raw confusion counts as CSV: header row of predicted classes, one row per true class."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["true\\predicted"] + [str(c) for c in class_names])
        for name, row in zip(class_names, confusion):
            writer.writerow([str(name)] + [int(v) for v in row])
    return os.fspath(path)


def write_object_table(stem, table):
    """Write an astropy ``Table`` as ``<stem>.ecsv`` and ``<stem>.h5``.

    Returns
    -------
    list of str
    """
    paths = []
    for ext, kwargs in (("ecsv", {"format": "ascii.ecsv"}),
                        ("h5", {"format": "hdf5", "path": "objects",
                                "serialize_meta": True})):
        path = f"{os.fspath(stem)}.{ext}"
        with atomic_path(path) as tmp:
            table.write(tmp, overwrite=True, **kwargs)
        paths.append(path)
    return paths


def write_energies(path, groups, attrs=None):
    """Energies (and any per-object arrays) as HDF5, one group per set.

    Parameters
    ----------
    groups : dict
        ``{set name: {array name: 1-d array}}``; string arrays are stored as
        UTF-8.
    attrs : dict, optional
        File attributes (thresholds, provenance); values JSON-encoded when
        not scalar.
    """
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        for key, value in (attrs or {}).items():
            f.attrs[key] = value if np.isscalar(value) else json.dumps(json_ready(value))
        for name, arrays in groups.items():
            g = f.create_group(name)
            for key, values in arrays.items():
                values = np.asarray(values)
                if values.dtype.kind in "OUS":
                    g.create_dataset(key, data=values.astype(str).astype(object),
                                     dtype=h5py.string_dtype("utf-8"))
                else:
                    g.create_dataset(key, data=values)
    return os.fspath(path)


def summary_markdown(*, run_dir, dataset_path, classification, novelty, figures,
                     files, counts):
    """One-page markdown summary linking the figures and the key numbers.

    Parameters
    ----------
    classification : dict
        As for :func:`classification_text`.
    novelty : dict
        As for :func:`novelty_text`.
    figures : dict
        ``{caption: png file name relative to the summary}``.
    files : dict
        ``{description: file name}``.
    counts : dict
        ``{description: number}`` (objects scored, rejected, ...).
    """
    lines = ["# rnngmm scoring summary", "",
             f"- run: `{run_dir}`", f"- dataset: `{dataset_path}`"]
    lines += [f"- {k}: {v}" for k, v in counts.items()]
    lines += ["", "## Classification (object level unless noted)", "",
              "| method | level | accuracy | balanced accuracy | macro-F1 |",
              "|---|---|---|---|---|"]
    for method, levels in classification.items():
        for level, m in levels.items():
            lines.append(f"| {METHOD_TITLES.get(method, method)} | {level} | "
                         f"{_fmt(m['accuracy'], 3)} | {_fmt(m['balanced_accuracy'], 3)} | "
                         f"{_fmt(m['macro_f1'], 3)} |")
    lines += ["", "## Novelty detection", ""]
    if novelty.get("note"):
        lines += [novelty["note"], ""]
    methods = novelty.get("methods", {})
    if methods:
        pcts = list(next(iter(methods.values()))["at_percentile"])
        header = "| method | ROC-AUC | AP | " + " | ".join(f"P/R/F1 @{p}" for p in pcts) + " |"
        lines += [header, "|---" * (3 + len(pcts)) + "|"]
        for method, m in methods.items():
            cells = [f"{_fmt(d['precision'], 2)}/{_fmt(d['recall'], 2)}/{_fmt(d['f1'], 2)}"
                     for d in m["at_percentile"].values()]
            lines.append(f"| {METHOD_TITLES.get(method, method)} | {_fmt(m['roc_auc'], 3)} | "
                         f"{_fmt(m['average_precision'], 3)} | " + " | ".join(cells) + " |")
    lines += ["", "## Figures", ""]
    for caption, name in figures.items():
        lines += [f"### {caption}", "", f"![{caption}]({name})", ""]
    lines += ["## Files", ""]
    lines += [f"- [{desc}]({name})" for desc, name in files.items()]
    return "\n".join(lines) + "\n"
