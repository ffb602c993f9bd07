"""End-to-end tests of ``rnngmm score`` on a tiny trained run."""

import json
import os

import numpy as np
import pytest
from astropy.table import Table
from matplotlib.image import imread

from fixtures_runs import TINY_NOVEL_CLASS
from helpers import mpirun, run_cli
from rnngmm.io.dataset import Dataset, write_dataset
from rnngmm.novelty.mixture import GMMNovelty
from rnngmm.scoring import plots

pytestmark = pytest.mark.slow

JSON_OUTPUTS = ("classification_accuracy.json", "novel_detection_scores.json")


@pytest.fixture(scope="module")
def scored(tiny_run_dir):
    """Output folder of one default ``rnngmm score`` of the tiny run."""
    assert run_cli("score", "--run_dir", tiny_run_dir, "--output", "scoring_test") == 0
    return tiny_run_dir / "scoring_test"


def _split(run_dir):
    with open(run_dir / "split.json") as f:
        return json.load(f)


def test_all_outputs_written_and_non_empty(scored):
    expected = ["classification_accuracy.txt", "novel_detection_scores.txt", "summary.md",
                "objects.ecsv", "objects.h5", "energies.h5", "energy_histogram.png",
                "energy_histogram.pdf", "novelty_roc_pr.png", "novelty_roc_pr.pdf",
                *JSON_OUTPUTS]
    for method, level in (("network", "chunk"), ("network", "object"), ("rf_code", "object"),
                          ("rf_features", "object")):
        expected += [f"confusion_{method}_{level}.csv",
                     f"confusion_{method}_{level}_normalised.png",
                     f"confusion_{method}_{level}_raw.pdf"]
    for name in expected:
        assert (scored / name).stat().st_size > 0, name
    height, width = imread(scored / "confusion_network_object_normalised.png").shape[:2]
    w, h = plots.confusion_figure_size(8)
    assert (width, height) == (round(w * plots.DPI), round(h * plots.DPI))
    assert not [n for n in os.listdir(scored) if n.endswith(".tmp")]


def test_reports_contain_network_and_baselines(scored):
    with open(scored / "classification_accuracy.json") as f:
        classification = json.load(f)
    assert set(classification["methods"]) == {"network", "rf_code", "rf_features"}
    assert set(classification["methods"]["network"]) == {"chunk", "object"}
    net = classification["methods"]["network"]["object"]
    assert 0 <= net["accuracy"] <= 1 and net["n"] > 0
    assert sum(map(sum, net["confusion"])) == net["n"]
    with open(scored / "novel_detection_scores.json") as f:
        novelty = json.load(f)
    assert novelty["novel_classes"] == [TINY_NOVEL_CLASS]
    for method in ("network", "iforest_features"):
        m = novelty["methods"][method]
        assert set(m["at_percentile"]) == {"80", "95", "99"}
        assert 0 <= m["roc_auc"] <= 1
    text = (scored / "novel_detection_scores.txt").read_text()
    assert "ROC-AUC" in text and "Isolation forest" in text


def test_thresholds_come_from_saved_training_energies(scored, tiny_run_dir):
    detector = GMMNovelty.load(tiny_run_dir / "gmm.h5")
    with open(scored / "novel_detection_scores.json") as f:
        novelty = json.load(f)
    assert novelty["novelty_score"] == detector.novelty_score == "class_energy_msp"
    # the run's class-fair score: calibrated thresholds p / 100 ...
    for p, d in novelty["methods"]["network"]["at_percentile"].items():
        assert d["threshold"] == pytest.approx(float(p) / 100)
    # ... and the reference energy beside it, on the saved training energies
    for p, d in novelty["methods"]["network_energy"]["at_percentile"].items():
        assert d["threshold"] == pytest.approx(np.percentile(detector.train_energy_, float(p)),
                                               rel=1e-12)


def test_object_table_has_one_row_per_scored_object(scored, tiny_run_dir):
    split = _split(tiny_run_dir)
    expected = set()
    for part in ("validation", "novel", "unlabelled", "rejected"):
        expected |= set(split.get(part, []))
    for ext in ("ecsv", "h5"):
        table = Table.read(scored / f"objects.{ext}")
        assert len(table) == len(expected)
        assert set(table["id"]) == expected
        assert not set(table["id"]) & set(split["train"])
    table = Table.read(scored / "objects.ecsv")
    class_names = table.meta["class_names"]
    ok = table["status"] == "ok"
    probs = np.stack([table[f"prob_{c}"] for c in class_names], axis=1)
    np.testing.assert_allclose(probs[ok].sum(axis=1), 1, atol=1e-5)
    assert np.all(table["n_chunks"][ok] > 0)
    assert np.all((table["energy_percentile"][ok] >= 0) & (table["energy_percentile"][ok] <= 100))
    assert set(table["role"][table["label"] == TINY_NOVEL_CLASS]) == {"novel"}


def test_scoring_twice_gives_identical_json(scored, tiny_run_dir):
    assert run_cli("score", "--run_dir", tiny_run_dir, "--output", "scoring_again") == 0
    for name in JSON_OUTPUTS:
        assert (scored / name).read_bytes() == (tiny_run_dir / "scoring_again" / name).read_bytes()


def test_data_flag_scores_every_object_and_reports_rejects(tiny_run_dir, tmp_path):
    with open(tiny_run_dir / "config.json") as f:
        source = json.load(f)["dataset"]["path"]
    with Dataset(source) as ds:
        n = len(ds)
        curves = [ds.lightcurve(i) for i in range(n)]
        objects = {"id": list(ds.ids), "label": list(ds.labels), "period": list(ds.periods),
                   "period_source": list(ds.period_sources),
                   "period_power": list(ds.period_powers)}
    # one object too short to chunk, one of an unseen class, one unlabelled
    t = np.linspace(0, 50, 3)
    curves.append((t, np.full(3, 12.0), np.full(3, 0.1)))
    for key, value in (("id", "TOO-SHORT"), ("label", "CEPH"), ("period", 1.0),
                       ("period_source", "catalog"), ("period_power", np.nan)):
        objects[key].append(value)
    objects["label"][0] = ""
    other = tmp_path / "other.h5"
    write_dataset(other, objects, curves)
    assert run_cli("score", "--run_dir", tiny_run_dir, "--data", other,
                   "--output", "scoring_other", "--no_baselines") == 0
    table = Table.read(tiny_run_dir / "scoring_other" / "objects.ecsv")
    assert len(table) == n + 1
    row = table[table["id"] == "TOO-SHORT"][0]
    assert row["status"].startswith("too few points") and row["n_chunks"] == 0  # same status as flag
    assert np.isnan(row["energy"])
    assert table["role"][0] == "unlabelled"
    assert set(table["role"][table["label"] == TINY_NOVEL_CLASS]) == {"novel"}


@pytest.mark.parametrize("flags", [
    ("--run_dir", "does/not/exist"),
    ("--percentiles", "0", "95"),
    ("--novel_classes", "CEPH"),          # a training class cannot be novel
    ("--output", "../escape"),
])
def test_bad_flags_exit_2(tiny_run_dir, flags, capsys):
    argv = ["score"] + (["--run_dir", str(tiny_run_dir)] if flags[0] != "--run_dir" else [])
    output = [] if flags[0] == "--output" else ["--output", "scoring_refused"]
    assert run_cli(*argv, *flags, *output) == 2
    assert "error" in capsys.readouterr().err
    # a refused command writes nothing, not even an empty output folder
    assert not (tiny_run_dir / "scoring_refused").exists()


@pytest.mark.mpi
def test_two_ranks_equal_one(scored, tiny_run_dir):
    result = mpirun(2, "-m", "rnngmm.cli", "score", "--run_dir", tiny_run_dir,
                    "--output", "scoring_mpi2", timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    for name in JSON_OUTPUTS:
        with open(scored / name) as a, open(tiny_run_dir / "scoring_mpi2" / name) as b:
            _assert_close(json.load(a), json.load(b), name)
    one = Table.read(scored / "objects.ecsv")
    two = Table.read(tiny_run_dir / "scoring_mpi2" / "objects.ecsv")
    assert list(one["id"]) == list(two["id"]) and list(one["status"]) == list(two["status"])
    assert list(one["predicted_class"]) == list(two["predicted_class"])
    np.testing.assert_allclose(one["energy"], two["energy"], rtol=1e-6)


def _assert_close(one, two, where):
    """Equal structure and strings, floats equal to 1e-6 (ranks batch chunks differently)."""
    if isinstance(one, dict):
        assert set(one) == set(two), where
        for key in one:
            _assert_close(one[key], two[key], f"{where}/{key}")
    elif isinstance(one, list):
        assert len(one) == len(two), where
        for n, (a, b) in enumerate(zip(one, two)):
            _assert_close(a, b, f"{where}[{n}]")
    elif isinstance(one, float):
        assert two == pytest.approx(one, rel=1e-6, abs=1e-9), where
    else:
        assert one == two, where
