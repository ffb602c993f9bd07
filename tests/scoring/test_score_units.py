"""Choosing what to score (rnngmm/scoring/score.py) and the shared per-object
result columns (rnngmm/object_table.py)."""

from types import SimpleNamespace

import numpy as np
import pytest

from rnngmm.errors import InputError
from rnngmm.io.dataset import Dataset, write_dataset
from rnngmm.object_table import result_columns
from rnngmm.scoring.score import ScoreConfig, evaluation_plan, split_indices


def _dataset(path, labels):
    n = len(labels)
    time = np.linspace(0.0, 10.0, 25)
    write_dataset(path, {"id": [f"o{i}" for i in range(n)], "label": labels,
                         "period": np.ones(n), "period_source": ["catalog"] * n,
                         "period_power": np.full(n, np.nan)},
                  [(time, np.sin(time) + 15, np.full(25, 0.1))] * n)
    return Dataset(path)


#: The run's own dataset: classes A, B known; C novel; o5 unlabelled; o6 rejected.
OWN_LABELS = ["A", "A", "B", "B", "C", "", "A", "C", "B"]
RUN = SimpleNamespace(class_names=["A", "B"], split={
    "train": ["o0", "o2"], "validation": ["o8", "o1", "o3"], "novel": ["o4", "o7"],
    "unlabelled": ["o5"], "rejected": ["o6"], "seed": 0})


@pytest.fixture
def own(tmp_path):
    with _dataset(tmp_path / "own.h5", OWN_LABELS) as dataset:
        yield dataset


def test_own_dataset_plan_gives_every_object_outside_training_its_role(own):
    indices, roles = evaluation_plan(own, RUN, external=False)
    np.testing.assert_array_equal(indices, [1, 3, 4, 5, 6, 7, 8])
    assert roles.tolist() == ["validation", "validation", "novel", "unlabelled", "excluded",
                              "novel", "validation"]


def test_own_dataset_novel_classes_flag_picks_the_novel_objects_by_label(own):
    no_novel = SimpleNamespace(class_names=RUN.class_names, split=dict(RUN.split, novel=[]))
    indices, _ = evaluation_plan(own, no_novel, external=False)
    assert 4 not in indices and 7 not in indices
    indices, roles = evaluation_plan(own, no_novel, external=False, novel_classes=["C"])
    np.testing.assert_array_equal(indices, [1, 3, 4, 5, 6, 7, 8])
    assert indices[roles == "novel"].tolist() == [4, 7]


def test_a_trained_class_cannot_be_declared_novel(own):
    with pytest.raises(InputError, match=r"--novel_classes \['A'\] were classes of the training"):
        evaluation_plan(own, RUN, external=False, novel_classes=["A", "C"])


def test_external_dataset_roles_known_novel_unlabelled(tmp_path):
    with _dataset(tmp_path / "other.h5", ["B", "C", "", "A", "D"]) as other:
        indices, roles = evaluation_plan(other, RUN, external=True)
        np.testing.assert_array_equal(indices, np.arange(5))
        assert roles.tolist() == ["known", "novel", "unlabelled", "known", "novel"]
        _, roles = evaluation_plan(other, RUN, external=True, novel_classes=["C"])
        # D is neither a class of the run nor a named novel class: in no metric
        assert roles.tolist() == ["known", "novel", "unlabelled", "known", "unlabelled"]


def test_split_indices_are_sorted_and_missing_parts_are_empty(own):
    lookup = split_indices(own, {"validation": ["o8", "o1"], "train": ["o0"]})
    np.testing.assert_array_equal(lookup["validation"], [1, 8])
    np.testing.assert_array_equal(lookup["train"], [0])
    assert len(lookup["rejected"]) == 0 and lookup["rejected"].dtype == np.int64


def test_split_indices_name_an_id_missing_from_the_dataset(own):
    with pytest.raises(InputError) as error:
        split_indices(own, {"validation": ["o1", "gone-42"]})
    assert "1 validation ids of split.json (e.g. 'gone-42')" in str(error.value)
    assert own.path in str(error.value)


# ---------------------------------------------------------------- ScoreConfig
@pytest.fixture
def run_dir(tmp_path):
    for name in ("config.json", "split.json", "model.keras", "gmm.h5"):
        (tmp_path / name).write_text("")
    return str(tmp_path)


def test_score_config_of_a_finished_run_validates(run_dir):
    config = ScoreConfig(run_dir)
    assert config.validate() is config


@pytest.mark.parametrize("changes, message", [
    ({"data": "/no/such/data.h5"}, "--data '/no/such/data.h5' does not exist"),
    ({"percentiles": (0, 95)}, "--percentiles must lie strictly between 0 and 100, got [0, 95]"),
    ({"percentiles": (95, 100)},
     "--percentiles must lie strictly between 0 and 100, got [95, 100]"),
    ({"batch_size": 0}, "--batch_size must be positive, got 0"),
    ({"output": "/tmp/elsewhere"},
     "--output '/tmp/elsewhere' must be a folder name inside the run directory"),
    ({"output": "../up"}, "--output '../up' must be a folder name inside the run directory"),
])
def test_score_config_validate_messages(run_dir, changes, message):
    with pytest.raises(InputError) as error:
        ScoreConfig(run_dir, **changes).validate()
    assert str(error.value) == message


def test_score_config_needs_a_finished_run_directory(run_dir, tmp_path):
    with pytest.raises(InputError, match="is not a directory"):
        ScoreConfig(str(tmp_path / "nothing")).validate()
    (tmp_path / "gmm.h5").unlink()
    with pytest.raises(InputError, match="has no gmm.h5; is it a finished 'rnngmm train' run"):
        ScoreConfig(run_dir).validate()


# ---------------------------------------------------------------- result columns
class StandInNovelty:
    """What result_columns reads of a run's mixture: its novelty score of
    (energy, predicted class), thresholds and percentiles."""

    def __init__(self):
        self.asked, self.classes = [], []

    conditions_on_sampling = False

    def novelty_scores(self, energy, predicted_class, max_probability=None, n_points=None,
                       baseline=None):
        self.classes.append(np.array(predicted_class))
        return np.asarray(energy, np.float64)

    def score_thresholds(self, percentiles):
        return {float(p): {80.0: 5.0, 95.0: 8.0, 99.5: 9.0}[float(p)] for p in percentiles}

    def score_percentile(self, scores):
        self.asked.append(np.array(scores))
        return 10.0 * np.asarray(scores)


def _columns(novelty=None):
    return result_columns(
        status=["ok", "ok", "too few points (3 < n_min=20)", "ok"],
        period=[1.0, 2.0, np.nan, 3.0], period_source=["catalog", "lomb-scargle", "", "catalog"],
        prob=np.array([[0.2, 0.8], [0.6, 0.4], [np.nan, np.nan], [0.5, 0.5]]),
        n_chunks=[2, 1, 0, 3], energy=[5.0, 8.5, np.nan, 9.5], class_names=["EW", "RRab"],
        novelty=novelty or StandInNovelty(), percentiles=[80, 95, 99.5])


def test_result_columns_come_in_the_documented_order():
    assert list(_columns()) == [
        "status", "period", "period_source", "predicted_class", "class_probability",
        "prob_EW", "prob_RRab", "n_chunks", "n_points", "baseline", "energy",
        "energy_percentile", "novelty_score", "anomaly_80", "anomaly_95", "anomaly_99p5"]


def test_predicted_class_is_the_argmax_and_not_ok_rows_are_blank():
    columns = _columns()
    assert columns["predicted_class"].tolist() == ["RRab", "EW", "", "EW"]  # a tie: first class
    np.testing.assert_array_equal(columns["class_probability"], [0.8, 0.6, np.nan, 0.5])
    np.testing.assert_array_equal(columns["prob_EW"], [0.2, 0.6, np.nan, 0.5])
    assert columns["status"].tolist()[2] == "too few points (3 < n_min=20)"
    assert columns["n_chunks"].tolist() == [2, 1, 0, 3]


def test_energy_percentiles_come_from_the_run_for_scored_rows_only():
    novelty = StandInNovelty()
    columns = _columns(novelty)
    np.testing.assert_array_equal(columns["energy_percentile"], [50.0, 85.0, np.nan, 95.0])
    assert len(novelty.asked) == 1
    np.testing.assert_array_equal(novelty.asked[0], [5.0, 8.5, 9.5])
    # the class-fair score is calibrated within each scored row's predicted class
    np.testing.assert_array_equal(novelty.classes[0], [1, 0, 0])


def test_anomaly_flags_are_strictly_above_each_threshold_and_false_when_not_scored():
    columns = _columns()
    assert columns["anomaly_80"].tolist() == [False, True, False, True]   # 5.0 is not > 5.0
    assert columns["anomaly_95"].tolist() == [False, True, False, True]
    assert columns["anomaly_99p5"].tolist() == [False, False, False, True]
    assert columns["anomaly_80"].dtype == bool


def test_result_columns_of_no_rows():
    columns = result_columns(status=[], period=[], period_source=[], prob=np.zeros((0, 2)),
                             n_chunks=[], energy=[], class_names=["EW", "RRab"],
                             novelty=StandInNovelty(), percentiles=[95])
    assert {len(v) for v in columns.values()} == {0}
    assert "anomaly_95" in columns and "prob_RRab" in columns
