"""`train --time_budget` ends a run cleanly inside its budget; `--init_from`
starts from another run's weights."""

import csv

import numpy as np
import pytest

from fixtures_runs import TINY_NOVEL_CLASS, TINY_TRAIN_FLAGS
from helpers import run_cli
from rnngmm.training.loop import LR_FLOOR, TrainOptions, budget_left, schedule_factor


def test_budget_left_caps_the_run_and_the_stage():
    options = TrainOptions(stages=[("autoencoder", 10), ("estimation", 10)],
                           time_budget_s=100.0, stage_budget_s={"autoencoder": 60.0})
    assert budget_left(options, {"elapsed_s": 30.0, "stage_elapsed_s": 30.0},
                       "autoencoder", 20.0) is None
    assert budget_left(options, {"elapsed_s": 45.0, "stage_elapsed_s": 45.0},
                       "autoencoder", 20.0) == "stage"
    assert budget_left(options, {"elapsed_s": 85.0, "stage_elapsed_s": 25.0},
                       "estimation", 20.0) == "run"
    assert budget_left(TrainOptions(stages=[("joint", 5)]), {"elapsed_s": 1e9},
                       "joint", 1e9) is None
    # one autoencoder epoch longer than the whole budget hands over to the
    # estimation stage, which keeps its 40 s share from where it starts
    assert budget_left(options, {"elapsed_s": 90.0, "stage_elapsed_s": 90.0},
                       "autoencoder", 90.0) == "stage"
    assert budget_left(options, {"elapsed_s": 95.0, "stage_elapsed_s": 5.0},
                       "estimation", 1.0) is None
    assert budget_left(options, {"elapsed_s": 129.5, "stage_elapsed_s": 39.5},
                       "estimation", 1.0) == "run"
    joint = TrainOptions(stages=[("joint", 5)], time_budget_s=100.0)
    assert budget_left(joint, {"elapsed_s": 85.0, "stage_elapsed_s": 85.0},
                       "joint", 20.0) == "run"


def test_cosine_schedule_follows_the_stage_budget_or_its_epochs():
    options = TrainOptions(stages=[("autoencoder", 10), ("estimation", 10)],
                           time_budget_s=100.0, stage_budget_s={"autoencoder": 60.0},
                           lr_schedule="cosine")
    state = {"stage": "autoencoder", "stage_elapsed_s": 0.0, "elapsed_s": 0.0}
    assert schedule_factor(options, state, "autoencoder", 0, 0, 10) == 1.0
    # half the stage's 60 s cap spent: halfway down (epochs lag behind the clock)
    half = schedule_factor(options, dict(state, stage_elapsed_s=30.0), "autoencoder", 1, 0, 10)
    np.testing.assert_allclose(half, LR_FLOOR + (1 - LR_FLOOR) / 2)
    assert schedule_factor(options, dict(state, stage_elapsed_s=99.0), "autoencoder",
                           2, 0, 10) == LR_FLOOR
    # no budget: the stage's epochs decide; the estimation stage stays constant
    unbudgeted = TrainOptions(stages=[("joint", 4)], lr_schedule="cosine")
    assert schedule_factor(unbudgeted, {"stage": "joint"}, "joint", 2, 0, 4) == \
        schedule_factor(options, dict(state, stage_elapsed_s=30.0), "autoencoder", 1, 0, 10)
    assert schedule_factor(options, {"stage": "estimation"}, "estimation", 15, 10, 20) == 1.0
    assert schedule_factor(TrainOptions(stages=[("joint", 4)]), {}, "joint", 3, 0, 4) == 1.0


@pytest.mark.slow
def test_cosine_schedule_lowers_the_logged_learning_rate(small_dataset, tmp_path):
    flags = list(_flags(tmp_path, "cosine", "--data", small_dataset,
                        "--lr_schedule", "cosine"))
    flags[flags.index("--nb_epoch") + 1] = "3"
    assert run_cli(*flags) == 0
    with open(tmp_path / "test" / "cosine" / "training.csv") as handle:
        rates = [float(row["lr"]) for row in csv.DictReader(handle)]
    base = float(flags[flags.index("--lr") + 1]) if "--lr" in flags else 1e-3
    np.testing.assert_allclose(rates, [base * f for f in
                                       (1.0, LR_FLOOR + (1 - LR_FLOOR) * 0.75,
                                        LR_FLOOR + (1 - LR_FLOOR) * 0.25)], rtol=1e-5)


def _flags(log_dir, name, *extra):
    return ("train", *TINY_TRAIN_FLAGS, "--novel_classes", TINY_NOVEL_CLASS,
            "--log_dir", log_dir, "--sim_type", "test", "--run_name", name, *extra)


def _weights(run_dir):
    from rnngmm.rundir import load_model
    return load_model(run_dir / "model.keras").get_weights()


@pytest.mark.slow
def test_time_budget_finishes_the_run_cleanly(small_dataset, tmp_path, capsys):
    flags = list(_flags(tmp_path, "budget", "--data", small_dataset,
                        "--time_budget", "0.0001"))
    flags[flags.index("--nb_epoch") + 1] = "50"  # far more than the budget allows
    assert run_cli(*flags) == 0
    run_dir = tmp_path / "test" / "budget"
    with open(run_dir / "training.csv") as handle:
        assert len(list(csv.DictReader(handle))) == 1  # the budget allowed one epoch
    assert (run_dir / "model.keras").is_file() and (run_dir / "gmm.h5").is_file()
    assert "time budget of the run spent" in capsys.readouterr().out


@pytest.mark.slow
def test_init_from_starts_at_the_source_weights(tiny_run_dir, small_dataset,
                                                tmp_path):
    assert run_cli(*_flags(tmp_path, "warm", "--data", small_dataset, "--init_from",
                           tiny_run_dir, "--lr", "1e-9")) == 0
    source, warm = _weights(tiny_run_dir), _weights(tmp_path / "test" / "warm")
    assert len(source) == len(warm)
    for a, b in zip(source, warm):
        np.testing.assert_allclose(a, b, atol=1e-5)
    # a different autoencoder is refused with a message naming the source
    code = run_cli(*_flags(tmp_path, "other", "--data", small_dataset, "--init_from",
                           tiny_run_dir, "--embedding", "6"))
    assert code == 2


@pytest.mark.slow
def test_init_from_with_another_head_keeps_the_autoencoder(tiny_run_dir,
                                                            small_dataset, tmp_path):
    """Only the estimation network differs: the autoencoder is copied, the new
    head trained (``--nb_epoch 0``: no autoencoder epoch at all)."""
    from rnngmm.rundir import load_model
    flags = list(_flags(tmp_path, "head", "--data", small_dataset, "--init_from",
                        tiny_run_dir, "--estnet_size", "12", "12",
                        "--estnet_activation", "relu", "--class_weight", "sqrt",
                        "--label_smoothing", "0.1", "--shape_harmonics", "2"))
    flags.remove("--gmm_on")  # sequential: no autoencoder epoch, two head epochs
    flags[flags.index("--nb_epoch") + 1] = "0"
    assert run_cli(*flags, "--cls_epoch", "2") == 0
    source = load_model(tiny_run_dir / "model.keras")
    head = load_model(tmp_path / "test" / "head" / "model.keras")
    for name in ("encoder", "decoder"):
        for a, b in zip(getattr(source, name).weights, getattr(head, name).weights):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(source.support_mean.numpy(), head.support_mean.numpy())
    assert head.estimation_net.estnet_size == [12, 12]
    assert head.hparams["estnet_activation"] == "relu"
    # the shape statistics widen z (3 x 2 + 1 values) on the same autoencoder
    assert head.z_size == source.z_size + 7 and head.hparams["shape_harmonics"] == 2
    # and the run scores like any other (mixture fitted on the wider z)
    run_dir = tmp_path / "test" / "head"
    assert run_cli("score", "--run_dir", str(run_dir), "--no_baselines") == 0
    assert (run_dir / "scoring" / "objects.ecsv").is_file()
