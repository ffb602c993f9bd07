"""Writers of the scoring outputs (rnngmm/scoring/report.py)."""

import json

import h5py
import numpy as np
from astropy.table import Table

from rnngmm.scoring import report

NAN = float("nan")
CLASSIFICATION = {"network": {"object": {
    "n": 4, "accuracy": 0.75, "balanced_accuracy": 0.5, "macro_f1": NAN,
    "per_class": {"EW": {"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2},
                  "RRab": {"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 2}},
    "confusion": [[1, 1], [0, 2]]}}}


def _detection(threshold, precision, recall, f1, fpr):
    return {"threshold": threshold, "precision": precision, "recall": recall, "f1": f1,
            "fpr_known": fpr, "n_flagged_known": 1, "n_flagged_novel": 1}


NOVELTY = {"novel_classes": ["RCB", "YSO"], "methods": {"network": {
    "n_known": 10, "n_novel": 4, "roc_auc": 0.9, "average_precision": 0.8,
    "at_percentile": {"80": _detection(3.0, 0.0, 0.0, 0.0, 0.2),
                      "95": _detection(12.3456789, 0.5, 0.25, 1 / 3, 0.1)}}}}


def test_classification_text_has_a_summary_row_and_per_class_rows():
    lines = report.classification_text(CLASSIFICATION, ["EW", "RRab"]).splitlines()
    assert lines[0] == "Classification accuracy (known classes, validation objects)"
    assert lines[2].split() == ["method", "level", "n", "accuracy", "bal.acc", "macro-F1"]
    assert lines[3].startswith("RNN-GMM network (gamma / novelty score)")
    assert lines[3].split()[-5:] == ["object", "4", "0.7500", "0.5000", "n/a"]
    assert lines[5] == "RNN-GMM network (gamma / novelty score) - object level"
    assert lines[6].split() == ["class", "precision", "recall", "f1", "support"]
    assert lines[7].split() == ["EW", "1.0000", "0.5000", "0.6667", "2"]
    assert lines[8].split() == ["RRab", "0.5000", "1.0000", "0.6667", "2"]
    assert len(lines) == 9


def test_classification_text_keeps_an_unknown_method_name():
    text = report.classification_text({"my_method": CLASSIFICATION["network"]}, ["EW", "RRab"])
    assert "my_method - object level" in text


def test_novelty_text_lists_classes_ranking_and_each_percentile():
    lines = report.novelty_text(NOVELTY).splitlines()
    assert lines[1] == "novel classes: RCB, YSO"
    assert lines[4] == "RNN-GMM network (gamma / novelty score)"
    assert lines[5] == ("  known objects 10, novel objects 4, ROC-AUC 0.9000, "
                        "average precision 0.8000")
    assert lines[6].split() == ["pct", "threshold", "precision", "recall", "F1", "FPR", "known"]
    assert lines[7].split() == ["80", "3", "0.0000", "0.0000", "0.0000", "0.2000"]
    assert lines[8].split() == ["95", "12.346", "0.5000", "0.2500", "0.3333", "0.1000"]


def test_novelty_text_without_novel_objects_shows_the_note():
    text = report.novelty_text({"novel_classes": [], "methods": {},
                                "note": "no novel objects were scored"})
    assert "novel classes: none" in text
    assert "NOTE: no novel objects were scored" in text


def test_json_is_standard_sorted_and_byte_identical(tmp_path):
    payload = {"b": np.float32(0.5), "a": [np.int64(3), NAN, np.inf], 5: "x",
               "c": np.array([1.0, 2.0]), "d": np.bool_(True), "e": (1, 2)}
    first = report.write_json(tmp_path / "one.json", payload)
    report.write_json(tmp_path / "two.json", payload)
    text = (tmp_path / "one.json").read_text()
    assert first == str(tmp_path / "one.json")
    assert json.loads(text) == {"5": "x", "a": [3, None, None], "b": 0.5, "c": [1.0, 2.0],
                                "d": True, "e": [1, 2]}
    assert "NaN" not in text and "Infinity" not in text
    assert text.index('"5"') < text.index('"a"') < text.index('"b"')
    assert text == (tmp_path / "two.json").read_text()


def test_write_text_and_confusion_csv(tmp_path):
    assert report.write_text(tmp_path / "t.txt", "hello\n") == str(tmp_path / "t.txt")
    assert (tmp_path / "t.txt").read_text() == "hello\n"
    report.write_confusion_csv(tmp_path / "c.csv", np.array([[1, 1], [0, 2]]), ["EW", "RRab"])
    assert (tmp_path / "c.csv").read_text().splitlines() == [
        "true\\predicted,EW,RRab", "EW,1,1", "RRab,0,2"]


def test_summary_markdown_links_numbers_figures_and_files():
    text = report.summary_markdown(
        run_dir="runs/r1", dataset_path="data/d.h5", classification=CLASSIFICATION,
        novelty=NOVELTY, figures={"Energy histogram": "energy_histogram.png"},
        files={"novelty report": "novel_detection_scores.txt"},
        counts={"objects evaluated": 12})
    lines = text.splitlines()
    assert lines[0] == "# rnngmm scoring summary"
    for line in ["- run: `runs/r1`", "- dataset: `data/d.h5`", "- objects evaluated: 12",
                 "| RNN-GMM network (gamma / novelty score) | object | 0.750 | 0.500 | n/a |",
                 "| method | ROC-AUC | AP | P/R/F1 @80 | P/R/F1 @95 |",
                 "|---|---|---|---|---|",
                 "| RNN-GMM network (gamma / novelty score) | 0.900 | 0.800 | 0.00/0.00/0.00 | "
                 "0.50/0.25/0.33 |",
                 "### Energy histogram", "![Energy histogram](energy_histogram.png)",
                 "- [novelty report](novel_detection_scores.txt)"]:
        assert line in lines, line


def test_summary_markdown_shows_the_novelty_note():
    text = report.summary_markdown(run_dir="r", dataset_path="d", classification={},
                                   novelty={"note": "novelty metrics are n/a"},
                                   figures={}, files={}, counts={})
    assert "novelty metrics are n/a" in text
    assert "P/R/F1" not in text


def test_energies_file_holds_groups_utf8_ids_and_json_attributes(tmp_path):
    path = report.write_energies(
        tmp_path / "e.h5",
        {"training": {"energy": np.array([1.0, 2.0])},
         "known": {"id": np.array(["a", "é"]), "energy": [3.0, 4.0]}},
        attrs={"thresholds": {"95": np.float64(2.5)}, "aggregation": "mean"})
    with h5py.File(path, "r") as f:
        np.testing.assert_array_equal(f["training/energy"][()], [1.0, 2.0])
        assert f["known/id"].asstr()[()].tolist() == ["a", "é"]
        assert json.loads(f.attrs["thresholds"]) == {"95": 2.5}
        assert f.attrs["aggregation"] == "mean"


def test_object_table_is_written_as_ecsv_and_hdf5(tmp_path):
    table = Table({"id": ["a", "b"], "energy": [1.5, np.nan]})
    table.meta["class_names"] = ["EW"]
    ecsv, h5 = report.write_object_table(tmp_path / "objects", table)
    for path, kwargs in ((ecsv, {}), (h5, {"path": "objects"})):
        back = Table.read(path, **kwargs)
        assert back["id"].tolist() == ["a", "b"]
        assert back["energy"][0] == 1.5 and np.isnan(back["energy"][1])
        assert back.meta["class_names"] == ["EW"]
