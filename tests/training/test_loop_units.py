"""Pure parts of the training loop (loop.py), its settings (config.py) and
their translation into chunking (options.py)."""

import json

import numpy as np
import pytest

from rnngmm.errors import InputError
from rnngmm.io.dataset import write_dataset
from rnngmm.training.config import TrainConfig
from rnngmm.training.loop import _epoch_line, stage_at, stage_plan
from rnngmm.training.options import chunking_from_args, model_config_from_args


# ---------------------------------------------------------------- loop.py
def test_stage_plan_is_joint_with_the_gmm_else_two_sequential_stages():
    assert stage_plan(True, 10, 5) == [("joint", 10)]
    assert stage_plan(False, 10, 5) == [("autoencoder", 10), ("estimation", 5)]
    assert stage_plan(False, "3", 2.0) == [("autoencoder", 3), ("estimation", 2)]


@pytest.mark.parametrize("epoch, expected", [
    (0, ("autoencoder", 0, 3)), (2, ("autoencoder", 0, 3)),
    (3, ("estimation", 3, 5)), (4, ("estimation", 3, 5)),
    (5, ("estimation", 3, 5)), (99, ("estimation", 3, 5)),   # past the end: last stage
])
def test_stage_at_finds_the_stage_holding_an_epoch(epoch, expected):
    assert stage_at([("autoencoder", 3), ("estimation", 2)], epoch) == expected


def test_stage_at_skips_a_stage_of_zero_epochs():
    assert stage_at([("autoencoder", 0), ("estimation", 2)], 0) == ("estimation", 0, 2)


def test_epoch_line_shows_the_epoch_from_one_and_the_main_metrics():
    row = {"epoch": 4, "stage": "joint", "lr": 0.001, "loss": 1.23456789, "recon": 0.5,
           "penalty": 7.0, "accuracy": 0.875, "val_loss": 2.0, "val_accuracy": 0.25}
    assert _epoch_line(row, 10) == ("epoch 5/10 [joint]  loss 1.235  recon 0.5  "
                                    "accuracy 0.875  val_loss 2  val_accuracy 0.25")


def test_epoch_line_leaves_out_missing_metrics():
    assert _epoch_line({"epoch": 0, "stage": "autoencoder", "ce": 0.0001234}, 3) == \
        "epoch 1/3 [autoencoder]  ce 0.0001234"


# ---------------------------------------------------------------- config.py
@pytest.fixture
def data_path(tmp_path):
    path = tmp_path / "data.h5"
    time = np.linspace(0.0, 10.0, 30)
    write_dataset(path, {"id": ["a"], "label": ["X"], "period": [1.0],
                         "period_source": ["catalog"], "period_power": [np.nan]},
                  [(time, np.sin(time) + 15, np.full(30, 0.1))])
    return str(path)


def make_config(data_path, tmp_path, **changes):
    settings = dict(data=data_path, config="tiny", n_min=20, log_dir=str(tmp_path / "logs"))
    settings.update(changes)
    return TrainConfig(**settings)


def test_a_sensible_config_validates(data_path, tmp_path):
    config = make_config(data_path, tmp_path)
    assert config.validate() is config


def test_from_dict_rejects_unknown_settings_naming_them():
    with pytest.raises(InputError) as error:
        TrainConfig.from_dict({"data": "x.h5", "zeta": 1, "bogus": 2})
    assert str(error.value) == "unknown training setting(s) ['bogus', 'zeta']"
    assert TrainConfig.from_dict({"data": "x.h5", "n_min": 7}).n_min == 7


@pytest.mark.parametrize("changes, message", [
    ({"n_min": 0}, "--n_min must be >= 1 (got 0)"),
    ({"n_max": 10}, "--n_max (10) must be >= --n_min (20)"),
    ({"batch_size": 0}, "--batch_size must be >= 1 (got 0)"),
    ({"nb_epoch": -1}, "--nb_epoch must be >= 0 (got -1)"),
    ({"cls_epoch": -2}, "--cls_epoch must be >= 0 (got -2)"),
    ({"nb_epoch": 0, "cls_epoch": 0}, "nothing to train: --nb_epoch (and --cls_epoch) are 0"),
    ({"nb_epoch": 0, "cls_epoch": 5, "gmm_on": True},
     "nothing to train: --nb_epoch (and --cls_epoch) are 0"),
    ({"lr": 0.0}, "--lr must be > 0 (got 0.0)"),
    ({"warmup_epochs": -0.5}, "--warmup_epochs must be >= 0 (got -0.5)"),
    ({"patience": -1}, "--patience must be >= 0 (got -1)"),
    ({"validation_fraction": 1.0}, "--validation_fraction must be in [0, 1) (got 1.0)"),
    ({"checkpoint_every": 0}, "--checkpoint_every must be >= 1 (got 0)"),
    ({"keep_checkpoints": 0}, "--keep_checkpoints must be >= 1 (got 0)"),
    ({"threads": 0}, "--threads must be >= 1 (got 0)"),
    ({"run_name": "a/b"}, "--run_name must be a plain directory name (got 'a/b')"),
    ({"run_name": ".."}, "--run_name must be a plain directory name (got '..')"),
    ({"run_name": ""}, "--run_name must be a plain directory name (got '')"),
    ({"n_min": 40}, "n_max of --config tiny (32) must be >= --n_min (40); pass --n_max"),
])
def test_validate_names_the_first_bad_setting(data_path, tmp_path, changes, message):
    with pytest.raises(InputError) as error:
        make_config(data_path, tmp_path, **changes).validate()
    assert str(error.value) == message


def test_validate_rejects_a_missing_dataset(tmp_path):
    missing = str(tmp_path / "missing.h5")
    with pytest.raises(InputError, match="does not exist") as error:
        make_config(missing, tmp_path).validate()
    assert repr(missing) in str(error.value)


def test_validate_rejects_a_log_dir_below_a_file(data_path, tmp_path):
    (tmp_path / "plain_file").write_text("x")
    with pytest.raises(InputError, match="cannot be written"):
        make_config(data_path, tmp_path, log_dir=str(tmp_path / "plain_file" / "logs")).validate()


def test_validate_rejects_an_unknown_named_configuration(data_path, tmp_path):
    with pytest.raises(InputError, match="nope"):
        make_config(data_path, tmp_path, config="nope").validate()


def test_from_run_reads_the_train_entry_from_a_file_or_its_directory(tmp_path):
    stored = TrainConfig(data="d.h5", n_min=30, novel_classes=["RCB"], gmm_on=True)
    (tmp_path / "config.json").write_text(json.dumps({"train": stored.to_dict(), "model": {}}))
    assert TrainConfig.from_run(tmp_path) == stored
    assert TrainConfig.from_run(tmp_path / "config.json") == stored


def test_from_run_reads_an_old_args_entry_with_data_as_a_list(tmp_path):
    old = {"args": {"data": ["old.h5"], "n_min": 50, "lr": 0.01, "sigma_clip": 3.0,
                    "func": "train"}}
    (tmp_path / "config.json").write_text(json.dumps(old))
    config = TrainConfig.from_run(tmp_path)
    assert (config.data, config.n_min, config.lr) == ("old.h5", 50, 0.01)
    assert config.batch_size == TrainConfig.batch_size


def test_from_run_reports_unreadable_or_settings_less_files(tmp_path):
    with pytest.raises(InputError, match="cannot be read"):
        TrainConfig.from_run(tmp_path / "missing.json")
    (tmp_path / "config.json").write_text(json.dumps({"model": {}}))
    with pytest.raises(InputError, match="holds no training settings"):
        TrainConfig.from_run(tmp_path)


# ---------------------------------------------------------------- options.py
def test_chunking_from_args_takes_n_max_from_the_model_config():
    args = TrainConfig(data="d.h5", n_min=20, period_fold=True, config="tiny")
    assert chunking_from_args(args, {"n_max": 64}) == {"n_min": 20, "n_max": 64,
                                                      "period_fold": True, "fold_multiple": 1}
    resolved = model_config_from_args(args)
    assert chunking_from_args(args, resolved) == {"n_min": 20, "n_max": 32,
                                                  "period_fold": True, "fold_multiple": 1}
    overridden = TrainConfig(data="d.h5", n_min=20, n_max=50, config="tiny", fold_multiple=2)
    assert chunking_from_args(overridden, model_config_from_args(overridden)) == \
        {"n_min": 20, "n_max": 50, "period_fold": False, "fold_multiple": 2}
