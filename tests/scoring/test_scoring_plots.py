"""Figures of rnngmm.scoring.plots are written, non-empty and of the right size."""

import numpy as np
from matplotlib.image import imread

from rnngmm.scoring import metrics, plots


def _check_pair(paths, size_inches=None):
    assert [p.rsplit(".", 1)[1] for p in paths] == ["png", "pdf"]
    for p in paths:
        with open(p, "rb") as f:
            head = f.read(8)
        assert head.startswith(b"\x89PNG" if p.endswith("png") else b"%PDF")
    if size_inches is not None:
        height, width = imread(paths[0]).shape[:2]
        assert (width, height) == (round(size_inches[0] * plots.DPI),
                                   round(size_inches[1] * plots.DPI))


def test_confusion_matrix_png_and_pdf_at_ten_classes(tmp_path):
    names = [f"CLASS_{i:02d}_long" for i in range(10)]
    rng = np.random.default_rng(0)
    cm = rng.integers(0, 50, size=(10, 10))
    for normalise in (True, False):
        paths = plots.plot_confusion_matrix(cm, names, tmp_path / f"cm_{normalise}",
                                            normalise=normalise, title="test")
        _check_pair(paths, plots.confusion_figure_size(10))


def test_confusion_matrix_with_empty_row(tmp_path):
    paths = plots.plot_confusion_matrix([[3, 1], [0, 0]], ["A", "B"], tmp_path / "cm",
                                        normalise=True, title="t")
    _check_pair(paths)


def test_energy_histograms_and_roc_pr(tmp_path):
    rng = np.random.default_rng(0)
    train = rng.normal(size=500)
    energies = {"training": train, "known validation": rng.normal(size=100),
                "novel": rng.normal(3, 1, size=50), "empty": np.array([np.nan])}
    thresholds = metrics.percentile_thresholds(train, [80, 95, 99])
    _check_pair(plots.plot_energy_histograms(energies, thresholds, tmp_path / "e"), (8, 5))
    c = metrics.curves(energies["known validation"], energies["novel"])
    c.update(metrics.ranking_metrics(energies["known validation"], energies["novel"]))
    _check_pair(plots.plot_roc_pr({"network": c, "none": None}, tmp_path / "roc"), (11, 5))


def test_raw_confusion_spanning_decades_uses_log_colours(tmp_path):
    cm = np.array([[3000, 5, 0], [2, 40, 1], [0, 0, 7]])
    paths = plots.plot_confusion_matrix(cm, ["EW", "DSCT", "CEP"], tmp_path / "cm",
                                        normalise=False, title="log")
    _check_pair(paths, plots.confusion_figure_size(3))
