"""Validation figures of a trial: the scoring path, per-epoch values, the loop hook."""

import numpy as np
import pytest

from rnngmm.dist import Dist
from rnngmm.tuning.objective import EpochReporter, epoch_value, object_macro_f1


def test_object_macro_f1_averages_probabilities_per_object():
    # object 0 (class 0): chunks say 0.9/0.1 and 0.3/0.7 -> mean 0.6/0.4 -> class 0
    # object 1 (class 1): one chunk 0.2/0.8 -> class 1; object 2 (class 1): 0.6/0.4 -> 0
    gamma = np.array([[0.9, 0.1], [0.3, 0.7], [0.2, 0.8], [0.6, 0.4]])
    objects = np.array([0, 0, 1, 2])
    labels = np.array([0, 0, 1, 1])
    # per object: truth [0, 1, 1], predicted [0, 1, 0]: F1 class0 = 2/3, class1 = 2/3
    assert object_macro_f1(gamma, objects, labels, 2) == pytest.approx(2 / 3)
    # per chunk the first object's second chunk would count as an error of its own
    assert np.isnan(object_macro_f1(np.zeros((0, 2)), objects[:0], labels[:0], 2))


def test_epoch_values_are_higher_is_better():
    assert epoch_value({"stage": "autoencoder", "val_recon": 0.25}) == -0.25
    assert epoch_value({"stage": "joint", "val_loss": 2.0}) == -2.0
    assert epoch_value({"stage": "autoencoder"}) is None


class FakeTrial:
    number = 7

    def __init__(self, prune_at):
        self.prune_at, self.reported = prune_at, []

    def report(self, value, step):
        self.reported.append((step, value))

    def should_prune(self):
        return self.reported[-1][0] >= self.prune_at


def test_reporter_reports_each_epoch_and_prunes():
    trial = FakeTrial(prune_at=2)
    reporter = EpochReporter(trial)
    rows = [{"epoch": e, "stage": "autoencoder", "val_recon": 1.0 / (e + 1)} for e in range(3)]
    assert [reporter(row) for row in rows] == [False, False, True]
    assert trial.reported == [(0, -1.0), (1, -0.5), (2, pytest.approx(-1 / 3))]
    assert reporter.pruned_at == 2
    # other ranks have no trial: they never decide
    assert EpochReporter(None)(rows[0]) is False


@pytest.mark.slow
def test_validation_objective_equals_rnngmm_score(tiny_run_dir, tmp_path):
    """The objective is the per-object network macro-F1 that rnngmm score reports
    for the run's validation objects (same path, not a re-implementation)."""
    import shutil

    from rnngmm.scoring.score import ScoreConfig, score_run
    from rnngmm.tuning.objective import validation_metrics
    run_dir = tmp_path / "run"
    shutil.copytree(tiny_run_dir, run_dir)
    found = validation_metrics(run_dir, Dist())
    scored = score_run(ScoreConfig(str(run_dir), with_baselines=False, output="tune_check"))
    network = scored["classification"]["network"]["object"]
    assert found["n"] == network["n"] > 0
    for key in ("accuracy", "balanced_accuracy", "macro_f1"):
        assert found[key] == pytest.approx(network[key]), key


@pytest.mark.slow
def test_epoch_callback_ends_a_run_cleanly(tmp_path):
    """run_training(on_epoch=...) gets every epoch's row; True ends the run, which
    still finishes (model, mixture, history of the epochs run)."""
    from training_sim import write_sim_dataset

    from rnngmm.training.config import TrainConfig
    from rnngmm.training.driver import run_training
    data = write_sim_dataset(tmp_path / "d.h5")
    config = TrainConfig(data=str(data), config="tiny", n_min=20, n_max=32, batch_size=8,
                         nb_epoch=2, cls_epoch=3, threads=1, log_dir=str(tmp_path),
                         run_name="cut", patience=0).validate()
    seen = []

    def on_epoch(row, model, validation):
        seen.append((row["epoch"], row["stage"], len(validation)))
        if row["stage"] == "estimation":  # macro-F1 of the cached estimation stage
            seen.append(epoch_value(row, model, validation))
        return row["epoch"] == 2

    assert run_training(config, on_epoch=on_epoch) == 0
    assert [s[:2] for s in seen if isinstance(s, tuple)] == [
        (0, "autoencoder"), (1, "autoencoder"), (2, "estimation")]
    assert 0.0 <= seen[-1] <= 1.0
    run_dir = tmp_path / "crts" / "cut"
    assert (run_dir / "model.keras").is_file() and (run_dir / "gmm.h5").is_file()
    assert len((run_dir / "training.csv").read_text().strip().splitlines()) == 1 + 3


@pytest.mark.slow
def test_reporting_every_epoch_does_not_change_training(tmp_path):
    """The pruning callback's forward passes (validation macro-F1 every epoch)
    leave training untouched: the same losses, epoch by epoch."""
    import csv

    from training_sim import write_sim_dataset

    from rnngmm.training.config import TrainConfig
    from rnngmm.training.driver import run_training
    data = write_sim_dataset(tmp_path / "d.h5")
    histories = []
    for name, hook in (("plain", None),
                       ("reported", lambda row, model, part: bool(
                           epoch_value(row, model, part) is None and False))):
        config = TrainConfig(data=str(data), config="tiny", n_min=20, n_max=32,
                             batch_size=8, nb_epoch=2, cls_epoch=3, threads=1, seed=3,
                             log_dir=str(tmp_path), run_name=name, patience=0).validate()
        assert run_training(config, on_epoch=hook) == 0
        with open(tmp_path / "crts" / name / "training.csv") as handle:
            histories.append([{k: v for k, v in row.items() if k != "lr"}
                              for row in csv.DictReader(handle)])
    assert len(histories[0]) == 5
    assert histories[0] == histories[1]


def _stage_rows(recon, loss, nb_epoch=10):
    """Rows of a sequential trial: autoencoder epochs 0.. (validation
    reconstruction loss ``recon``; the stage cut short by the budget), then
    estimation epochs from global epoch ``nb_epoch`` (validation loss ``loss``;
    without a model the value is -val_loss, above -recon like a macro-F1)."""
    return ([{"epoch": e, "stage": "autoencoder", "val_recon": v} for e, v in enumerate(recon)]
            + [{"epoch": nb_epoch + e, "stage": "estimation", "val_loss": v}
               for e, v in enumerate(loss)])


def _run_rows(study, rows, warmup):
    """One trial of ``study`` fed ``rows`` until its reporter prunes it."""
    trial = study.ask()
    reporter = EpochReporter(trial, warmup)
    for row in rows:
        if reporter(row):
            break
    steps = sorted(study._storage.get_trial(trial._trial_id).intermediate_values)
    return trial, reporter.pruned_at, steps


def test_pruning_warmup_counts_from_the_start_of_each_stage():
    """--prune_warmup_epochs W: no pruning in the first W epochs of the
    autoencoder stage nor of the estimation stage (which starts at global epoch
    nb_epoch = 10 here); the steps stay global epochs. A real Optuna study
    (in-memory storage) with the tuner's median pruner decides."""
    optuna = pytest.importorskip("optuna")
    from optuna.trial import TrialState

    from rnngmm.tuning.config import TuneConfig
    from rnngmm.tuning.study import make_pruner
    config = TuneConfig(study="unused.journal", prune_startup_trials=2, prune_warmup_epochs=2)
    study = optuna.create_study(direction="maximize", pruner=make_pruner(config))
    for _ in range(2):  # the medians: recon 0.5 (value -0.5), estimation loss 0.1 (-0.1)
        trial, pruned_at, steps = _run_rows(study, _stage_rows([0.5] * 4, [0.1] * 4), 2)
        assert pruned_at is None and steps == [0, 1, 2, 3, 10, 11, 12, 13]
        study.tell(trial, 0.8)

    # worse than the median from its first autoencoder epoch: reported at
    # epochs 0 and 1 (the warm-up), pruned at the stage's third epoch
    trial, pruned_at, steps = _run_rows(study, _stage_rows([2.0] * 4, [0.1] * 4), 2)
    assert (pruned_at, steps) == (2, [0, 1, 2])
    study.tell(trial, state=TrialState.PRUNED)

    # as good as the others in the autoencoder stage, worse from its first
    # estimation epoch (global epoch 10): a global warm-up of 2 epochs would
    # prune it right there; per stage it gets epochs 10 and 11
    trial, pruned_at, steps = _run_rows(study, _stage_rows([0.5] * 4, [0.4] * 4), 2)
    assert (pruned_at, steps) == (12, [0, 1, 2, 3, 10, 11, 12])
    study.tell(trial, state=TrialState.PRUNED)
    # the same trial without warm-up is pruned at once in each case
    assert _run_rows(study, _stage_rows([0.5] * 4, [0.4] * 4), 0)[1] == 10
    assert _run_rows(study, _stage_rows([2.0] * 4, [0.1] * 4), 0)[1] == 0


def test_warmup_counts_stage_epochs_even_without_values():
    """An epoch without a validation figure still counts towards its stage's warm-up."""
    reporter = EpochReporter(FakeTrial(prune_at=0), warmup_epochs=2)
    rows = [{"epoch": 0, "stage": "autoencoder"}, {"epoch": 1, "stage": "autoencoder",
                                                   "val_recon": 1.0},
            {"epoch": 2, "stage": "autoencoder", "val_recon": 1.0},
            {"epoch": 5, "stage": "estimation", "val_loss": 1.0}]
    assert [reporter(row) for row in rows[:2]] == [False, False]
    assert reporter(rows[2]) is True and reporter.pruned_at == 2
    reporter.pruned_at = None
    assert reporter(rows[3]) is False  # first epoch of the estimation stage
