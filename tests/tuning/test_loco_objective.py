"""The leave-one-class-out objective of ``rnngmm tune``: flags, folds, pruning."""

import json

import numpy as np
import pytest

from helpers import run_cli

optuna = pytest.importorskip("optuna")

from rnngmm.dist import Dist  # noqa: E402
from rnngmm.errors import InputError  # noqa: E402
from rnngmm.tuning import study as studies  # noqa: E402
from rnngmm.tuning.config import TuneConfig  # noqa: E402
from rnngmm.tuning.loco import loco_metrics, run_folds  # noqa: E402
from rnngmm.tuning.objective import EpochReporter  # noqa: E402

SEARCH = {"lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True}}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from training_sim import write_sim_dataset
    return write_sim_dataset(tmp_path_factory.mktemp("loco_data") / "d.h5")


def space_file(tmp_path, fixed, search=None, name="space"):
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"fixed": {"time_budget": 1, **fixed},
                                "search": search or SEARCH}))
    return str(path)


def test_loco_flags_name_the_problem(tmp_path, data):
    study = str(tmp_path / "s.journal")
    space = space_file(tmp_path, {"data": str(data)})
    config = TuneConfig(study=study, space=space, objective="loco_auroc",
                        loco_classes=["RRab", "EW"]).validate()
    assert config.is_loco and not TuneConfig(study=study, space=space).is_loco
    for changes, message in [
        ({"loco_classes": ["RRab", "EW", "LPV"]},
         "--loco_classes takes at most 2 classes .* got 3: RRab EW LPV"),
        ({"loco_classes": None}, "--objective loco_auroc needs --loco_classes"),
        ({"loco_classes": ["EW", "EW"]}, "names a class twice"),
        ({"loco_classes": ["RRc"]}, "class 'RRc' is not a label of"),
        ({"objective": "macro_f1"}, "--loco_classes is used only by --objective loco_auroc"),
        ({"space": space_file(tmp_path, {"data": str(data), "novel_classes": ["LPV"]},
                              name="novel")},
         "novel_classes is set by the LOCO objective"),
        ({"space": space_file(tmp_path, {}, {"data": {"type": "categorical",
                                                      "choices": [str(data)]}},
                              name="searched")},
         "needs the dataset fixed"),
    ]:
        values = {"study": study, "space": space, "objective": "loco_auroc",
                  "loco_classes": ["RRab", "EW"], **changes}
        with pytest.raises(InputError, match=message):
            TuneConfig(**values).validate()


def test_too_many_loco_classes_exit_2_with_the_reason(tmp_path, data, capsys):
    space = space_file(tmp_path, {"data": str(data)})
    assert run_cli("tune", "--space", space, "--study", tmp_path / "s.journal",
                   "--objective", "loco_auroc", "--loco_classes", "RRab", "EW", "LPV") == 2
    assert "--loco_classes takes at most 2 classes" in capsys.readouterr().err
    assert not (tmp_path / "s.journal").exists()


def test_a_study_keeps_its_objective(tmp_path):
    loco = TuneConfig(study=str(tmp_path / "s.journal"), objective="loco_auroc",
                      loco_classes=["RRab", "EW"])
    study = studies.open_study(loco)
    studies.check_objective(study, loco)
    studies.check_objective(studies.open_study(loco), loco)  # the same again: fine
    assert studies.describe_objective(study.user_attrs) == "loco_auroc --loco_classes RRab EW"
    for other in (TuneConfig(study=loco.study),
                  TuneConfig(study=loco.study, objective="loco_auroc", loco_classes=["EW"])):
        with pytest.raises(InputError, match="was run with --objective loco_auroc "
                                             "--loco_classes RRab EW, not"):
            studies.check_objective(studies.open_study(other), other)


def test_loco_metrics_average_the_folds():
    folds = {"A": {"auroc": 0.9, "macro_f1": 0.5, "balanced_accuracy": 0.6, "accuracy": 0.7},
             "B": {"auroc": 0.7, "macro_f1": 0.3, "balanced_accuracy": 0.4, "accuracy": 0.5}}
    metrics = loco_metrics(folds)
    assert metrics["loco_auroc"] == pytest.approx(0.8)
    assert metrics["macro_f1"] == pytest.approx(0.4)
    assert metrics["loco_auroc_macro_f1"] == pytest.approx((0.7 + 0.5) / 2)
    # a fold without AUROC (no held-out object scored) leaves the mean undefined
    folds["B"]["auroc"] = None
    assert np.isnan(loco_metrics(folds)["loco_auroc"])


@pytest.mark.slow
def test_a_trial_pruned_in_its_first_fold_trains_no_other_fold(tmp_path, data):
    """Only the first fold reports per epoch; pruned there (after its per-stage
    warm-up), the trial stops: that run is scored, the second is never trained."""
    from rnngmm.training.config import TrainConfig
    config = TrainConfig(data=str(data), config="tiny", n_min=20, n_max=32, batch_size=8,
                         nb_epoch=2, cls_epoch=2, threads=1, patience=0,
                         log_dir=str(tmp_path), sim_type="tune",
                         run_name="s-trial0000").validate()
    study = optuna.create_study(direction="maximize",
                                pruner=optuna.pruners.ThresholdPruner(lower=10.0))
    trial = study.ask()
    reporter = EpochReporter(trial, warmup_epochs=1)
    code, folds = run_folds(config, ["RRab", "EW"], "s-trial0000", reporter, Dist())
    assert code == 0 and list(folds) == ["RRab"]
    assert reporter.pruned_at == 1
    assert sorted(study._storage.get_trial(trial._trial_id).intermediate_values) == [0, 1]
    first = tmp_path / "tune" / "s-trial0000-loco_RRab"
    assert folds["RRab"]["run_dir"] == str(first)
    assert 0.0 <= folds["RRab"]["auroc"] <= 1.0
    assert len((first / "training.csv").read_text().strip().splitlines()) == 1 + 2
    assert not (tmp_path / "tune" / "s-trial0000-loco_EW").exists()
