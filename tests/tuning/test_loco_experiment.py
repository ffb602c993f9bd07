"""Leave-one-class-out experiment: gather maths and a tiny end-to-end loop."""

import json

import numpy as np
import pytest
from astropy.table import Table

from fixtures_runs import TINY_TRAIN_FLAGS
from helpers import run_cli
from rnngmm.errors import InputError
from rnngmm.tuning import loco_experiment as loco


def _result(label, auroc, f1_95, iforest_auroc=0.5):
    def method(auc, f1):
        return {"n_known": 10, "n_novel": 4, "roc_auc": auc, "average_precision": auc,
                "at_percentile": {p: {"threshold": 1.0, "precision": 0.5, "recall": 0.5,
                                      "f1": f1, "fpr_known": 0.1}
                                  for p in ("80", "95")}}
    return {"held_out": label, "run_dir": f"runs/{label}", "percentiles": [80.0, 95.0],
            "novelty": {"network": method(auroc, f1_95),
                        "iforest_features": method(iforest_auroc, None)},
            "classification_network_object": {"n": 10, "accuracy": 0.8,
                                              "balanced_accuracy": 0.7, "macro_f1": 0.6}}


def test_gather_table_mean_and_files(tmp_path):
    for label, auc, f1 in (("RRAB", 0.9, 0.4), ("HADS/DSCT", 0.7, 0.8)):
        with open(loco.result_path(tmp_path, label), "w") as f:
            json.dump(_result(label, auc, f1), f)
    (tmp_path / "notes.json").write_text('{"unrelated": 1}')
    table, paths = loco.gather_results(tmp_path)
    assert list(table["held_out"]) == ["HADS/DSCT", "RRAB", "mean"]
    assert table["network_auroc"][-1] == pytest.approx(0.8)
    assert table["network_f1_95"][-1] == pytest.approx(0.6)
    assert np.isnan(table["iforest_features_f1_95"][-1])    # all null -> NaN, not 0
    assert table["network_macro_f1"][-1] == pytest.approx(0.6)
    on_disk = Table.read(paths[0])
    assert len(on_disk) == 3 and on_disk.colnames == table.colnames
    md = open(paths[1]).read()
    assert "| **mean** |" in md and "HADS/DSCT" in md and "**0.800**" in md
    # gathering again ignores its own loco_table.json
    assert len(loco.gather_results(tmp_path)[0]) == 3


def test_gather_without_results_is_an_error(tmp_path):
    with pytest.raises(InputError):
        loco.gather_results(tmp_path)
    assert run_cli("loco", "gather", "--results_dir", tmp_path / "missing") == 2


def test_safe_names():
    assert loco.safe_name("HADS/DSCT") == "HADS_DSCT"
    assert loco.run_name_for("Cep-II") == "loco_Cep-II"


def test_bad_flags(small_dataset, tmp_path):
    common = ["--data", small_dataset, "--results_dir", tmp_path]
    assert run_cli("loco", "run", *common) == 2                      # no class given
    assert run_cli("loco", "run", "--held_out", "NOPE", *common,
                   "--train_args", " ".join(TINY_TRAIN_FLAGS)) == 2  # not a label
    assert run_cli("loco", "run", "--held_out", "RCB", *common,
                   "--train_args", "--novel_classes X") == 2
    assert run_cli("loco", "run", "--class_index", "99", *common) == 2


@pytest.mark.slow
def test_local_loop_two_classes_then_rerun_skips(small_dataset, tmp_path, capsys):
    results = tmp_path / "results"
    flags = ["--data", small_dataset, "--results_dir", results, "--log_dir", tmp_path / "logs",
             "--train_args", " ".join(TINY_TRAIN_FLAGS), "--percentiles", "80", "95"]
    assert run_cli("loco", "all", "--classes", "RCB", "CEPH", *flags) == 0
    for label in ("RCB", "CEPH"):
        with open(results / f"{label}.json") as f:
            r = json.load(f)
        assert r["held_out"] == label
        assert r["novelty"]["network"]["n_novel"] > 0
        assert 0 <= r["novelty"]["network"]["roc_auc"] <= 1
        assert set(r["novelty"]["network"]["at_percentile"]) == {"80", "95"}
        assert "iforest_features" in r["novelty"]
        run_config = json.load(open(tmp_path / "logs" / "loco" / f"loco_{label}" / "config.json"))
        assert run_config["train"]["novel_classes"] == [label]
        assert label not in run_config["class_names"]
    table = Table.read(results / "loco_table.ecsv")
    assert list(table["held_out"]) == ["CEPH", "RCB", "mean"]
    # a SLURM array task for a finished class does nothing
    capsys.readouterr()
    assert run_cli("loco", "run", "--class_index", "1", "--classes", "RCB", "CEPH", *flags) == 0
    assert "skipped" in capsys.readouterr().out
