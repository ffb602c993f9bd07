"""Figures of the scoring stage: confusion matrices, energy histograms, ROC/PR.

Every figure is written twice, as ``<stem>.png`` and ``<stem>.pdf``, through
:func:`rnngmm.io.atomic.atomic_path`. Figures use a fixed size (no tight
bounding box) and constrained layout, so a PNG is exactly
``figsize * DPI`` pixels and labels do not overlap.
"""

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import LogNorm, Normalize  # noqa: E402

from rnngmm.io.atomic import atomic_path  # noqa: E402
from rnngmm.object_table import percentile_label  # noqa: E402

#: Resolution of the PNG files.
DPI = 100


def confusion_figure_size(n_classes):
    """(width, height) in inches that keeps ``n_classes`` labels readable."""
    side = float(np.clip(2.0 + 0.6 * n_classes, 5.0, 14.0))
    return side + 1.2, side


def save_figure(fig, stem):
    """Write ``fig`` to ``<stem>.png`` and ``<stem>.pdf`` and close it.

    Returns
    -------
    list of str
        The two paths written.
    """
    paths = []
    for ext in ("png", "pdf"):
        path = f"{os.fspath(stem)}.{ext}"
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=ext, dpi=DPI)
        paths.append(path)
    plt.close(fig)
    return paths


def plot_confusion_matrix(confusion, class_names, stem, *, normalise, title):
    """Heat map of a confusion matrix with class names on both axes.

    Parameters
    ----------
    confusion : array_like, shape (K, K)
        Raw counts; rows are true classes, columns predicted classes.
    class_names : sequence of str
    stem : str
        Output path without extension.
    normalise : bool
        Divide each row by its total (recall on the diagonal); rows with no
        objects stay zero.
    title : str

    Returns
    -------
    list of str
        Paths written.
    """
    counts = np.asarray(confusion, dtype=np.float64)
    k = len(class_names)
    if counts.shape != (k, k):
        raise ValueError(f"confusion matrix {counts.shape} does not match {k} classes")
    if normalise:
        totals = counts.sum(axis=1, keepdims=True)
        values = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
        vmax, cbar_label = 1.0, "fraction of true class"
    else:
        values = counts
        vmax, cbar_label = max(counts.max(), 1.0), "objects"
    positive = counts[counts > 0]
    log_colours = not normalise and len(positive) and vmax >= 100 * positive.min()
    if log_colours:  # counts span decades: log colour scale, empty cells white
        norm = LogNorm(vmin=positive.min(), vmax=vmax)
        cmap = plt.get_cmap("Blues").with_extremes(bad="white", under="white")
        cbar_label += " (log scale)"
        shown = np.ma.masked_less_equal(values, 0)
    else:
        norm, cmap, shown = Normalize(vmin=0, vmax=vmax), plt.get_cmap("Blues"), values
    fig, ax = plt.subplots(figsize=confusion_figure_size(k), layout="constrained")
    image = ax.imshow(shown, cmap=cmap, norm=norm)
    fig.colorbar(image, ax=ax, label=cbar_label, shrink=0.8)
    ax.set_xticks(np.arange(k), labels=class_names, rotation=45, ha="right",
                  rotation_mode="anchor")
    ax.set_yticks(np.arange(k), labels=class_names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    fontsize = float(np.clip(14 - 0.6 * k, 6, 11))
    for i in range(k):
        for j in range(k):
            text = f"{values[i, j]:.2f}" if normalise else f"{int(counts[i, j])}"
            colour = "white" if values[i, j] > 0 and norm(values[i, j]) > 0.6 else "black"
            ax.text(j, i, text, ha="center", va="center", color=colour, fontsize=fontsize)
    return save_figure(fig, stem)


def plot_energy_histograms(energies, thresholds, stem, *, title="Object energies",
                           xlabel="energy (higher = more anomalous)"):
    """Overlaid histograms of several energy sets with thresholds marked.

    Parameters
    ----------
    energies : dict
        ``{label: 1-d array}``, e.g. training, known validation and novel;
        NaN values and empty sets are skipped.
    thresholds : dict
        ``{percentile: energy}``, drawn as labelled vertical lines.
    stem : str
    title, xlabel : str

    Returns
    -------
    list of str
    """
    finite = {label: np.asarray(v, np.float64)[np.isfinite(v)] for label, v in energies.items()}
    finite = {label: v for label, v in finite.items() if len(v)}
    pooled = np.concatenate(list(finite.values())) if finite else np.zeros(0)
    fig, ax = plt.subplots(figsize=(8, 5), layout="constrained")
    if len(pooled):
        lo, hi = np.percentile(pooled, [0, 100])
        lo = min([lo] + list(thresholds.values()))
        hi = max([hi] + list(thresholds.values()))
        if hi <= lo:
            hi = lo + 1.0
        bins = np.linspace(lo, hi, 50)
        for label, values in finite.items():
            ax.hist(values, bins=bins, histtype="step", linewidth=1.6, density=True,
                    label=f"{label} (n={len(values)})")
    ax.set_yscale("log")
    styles = ["--", "-.", ":", (0, (5, 1))]
    for n, (p, t) in enumerate(sorted(thresholds.items())):
        ax.axvline(t, color="0.3", linestyle=styles[n % len(styles)], linewidth=1.2,
                   label=f"{percentile_label(p)}th pct of training: {t:.3g}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density (log)")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper right")
    return save_figure(fig, stem)


def plot_roc_pr(curves_by_method, stem, *, title="Novel vs known"):
    """ROC and precision-recall curves of one or more scoring methods.

    Parameters
    ----------
    curves_by_method : dict
        ``{method: dict}`` where each dict has ``fpr, tpr, precision, recall``
        arrays and optionally ``roc_auc`` / ``average_precision`` for the
        legend (see :func:`rnngmm.scoring.metrics.curves`); None entries are
        skipped.
    stem : str

    Returns
    -------
    list of str
    """
    fig, (roc_ax, pr_ax) = plt.subplots(1, 2, figsize=(11, 5), layout="constrained")
    for method, c in curves_by_method.items():
        if c is None:
            continue
        auc = c.get("roc_auc")
        ap = c.get("average_precision")
        roc_ax.plot(c["fpr"], c["tpr"], label=method + (f" (AUC {auc:.3f})" if auc is not None else ""))
        pr_ax.plot(c["recall"], c["precision"], label=method + (f" (AP {ap:.3f})" if ap is not None else ""))
    roc_ax.plot([0, 1], [0, 1], color="0.6", linestyle=":", linewidth=1)
    roc_ax.set_xlabel("false-positive rate (known flagged)")
    roc_ax.set_ylabel("true-positive rate (novel flagged)")
    roc_ax.set_title(f"ROC: {title}")
    pr_ax.set_xlabel("recall (novel)")
    pr_ax.set_ylabel("precision (novel)")
    pr_ax.set_title(f"Precision-recall: {title}")
    for ax in (roc_ax, pr_ax):
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=9, loc="lower right" if ax is roc_ax else "lower left")
    return save_figure(fig, stem)
