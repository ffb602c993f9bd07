"""``--novelty_score class_energy_msp`` from ``rnngmm train`` through flag and score."""

import json

import numpy as np
import pytest

from fixtures_runs import TINY_NOVEL_CLASS, TINY_TRAIN_FLAGS
from flagging_helpers import flag_args
from helpers import run_cli
from rnngmm.flagging.table import read_table
from rnngmm.novelty.mixture import GMMNovelty

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def msp_run_dir(small_dataset, tmp_path_factory):
    log_dir = tmp_path_factory.mktemp("msp_run_logs")
    assert run_cli("train", "--data", small_dataset, *TINY_TRAIN_FLAGS,
                   "--novel_classes", TINY_NOVEL_CLASS, "--novelty_score", "class_energy_msp",
                   "--log_dir", log_dir, "--sim_type", "test", "--run_name", "msp") == 0
    return log_dir / "test" / "msp"


def test_flags_are_the_combined_score_above_its_class_thresholds(msp_run_dir, new_catalog,
                                                                 tmp_path):
    novelty = GMMNovelty.load(msp_run_dir / "gmm.h5")
    assert novelty.novelty_score == "class_energy_msp"
    assert len(novelty.train_max_probability_) == len(novelty.train_energy_)
    out = tmp_path / "flags.ecsv"
    assert run_cli(*flag_args(msp_run_dir, new_catalog, out)) == 0
    table = read_table(str(out))
    assert table.meta["novelty_score"] == "class_energy_msp"
    assert "doubt" in table.meta["novelty_score_description"]
    names = list(table.meta["class_names"])
    scored = np.asarray(table["status"] == "ok")
    prob = np.stack([np.asarray(table[f"prob_{c}"], float) for c in names], axis=1)[scored]
    energy = np.asarray(table["energy"], float)[scored]
    scores = novelty.novelty_scores(energy, prob.argmax(axis=1), prob.max(axis=1))
    for p in (80, 95, 99):
        threshold = novelty.score_thresholds([p])[float(p)]
        assert table.meta[f"threshold_{p}"] == pytest.approx(threshold)
        assert list(np.asarray(table[f"anomaly_{p}"])[scored]) == list(scores > threshold)
    np.testing.assert_allclose(np.asarray(table["energy_percentile"], float)[scored],
                               novelty.score_percentile(scores))


def test_score_reports_the_combined_score_and_its_parts(msp_run_dir):
    assert run_cli("score", "--run_dir", msp_run_dir) == 0
    with open(msp_run_dir / "scoring" / "novel_detection_scores.json") as f:
        novelty = json.load(f)
    assert novelty["novelty_score"] == "class_energy_msp"
    methods = novelty["methods"]
    # the run's score, the reference energy and the two parts calibrated alone
    assert {"network", "network_energy", "network_class_energy",
            "network_class_max_probability"} <= set(methods)
    for p, d in methods["network"]["at_percentile"].items():
        assert d["threshold"] == pytest.approx(float(p) / 100)
