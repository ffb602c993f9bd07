"""Small parts of the training driver (rnngmm/training/driver.py)."""

import numpy as np
import pytest

from rnngmm.errors import InputError
from rnngmm.io.dataset import Dataset, write_dataset
from rnngmm import rundir
from rnngmm.training.config import TrainConfig
from rnngmm.training.driver import _check_run_directory, catalog_cuts


def _write(path, extra):
    n = len(next(iter(extra.values()))) if extra else 2
    time = np.linspace(0.0, 10.0, 25)
    write_dataset(path, {"id": [f"o{i}" for i in range(n)], "label": ["A"] * n,
                         "period": np.ones(n), "period_source": ["catalog"] * n,
                         "period_power": np.full(n, np.nan)},
                  [(time, np.sin(time) + 15, np.full(25, 0.1))] * n, extra=extra)
    return path


@pytest.fixture
def with_columns(tmp_path):
    return _write(tmp_path / "cuts.h5", {"ss_resid": np.array([0.1, 0.7, np.nan, 0.5]),
                                         "class_prob": np.array([0.9, 0.95, 0.5, 0.79])})


def test_catalog_cuts_name_the_value_the_limit_and_the_flag(with_columns):
    args = TrainConfig(data=str(with_columns), ss_resid=0.5, class_prob=0.8)
    with Dataset(with_columns) as dataset:
        excluded = catalog_cuts(dataset, args)
    # one entry per object: object 2 fails both cuts and is listed once
    assert excluded == [(1, "ss_resid 0.7 > 0.5 (--ss_resid)"),
                        (2, "ss_resid nan > 0.5 (--ss_resid); class_prob 0.5 < 0.8 "
                            "(--class_prob)"),
                        (3, "class_prob 0.79 < 0.8 (--class_prob)")]


def test_catalog_cut_limits_are_inclusive_and_each_flag_is_optional(with_columns):
    with Dataset(with_columns) as dataset:
        assert catalog_cuts(dataset, TrainConfig(data="x", ss_resid=0.7)) == \
            [(2, "ss_resid nan > 0.7 (--ss_resid)")]
        assert catalog_cuts(dataset, TrainConfig(data="x", class_prob=0.5)) == []
        assert catalog_cuts(dataset, TrainConfig(data="x")) == []


def test_a_cut_on_a_missing_column_names_it(tmp_path):
    path = _write(tmp_path / "plain.h5", {"class_prob": np.array([0.9, 0.2])})
    with Dataset(path) as dataset:
        with pytest.raises(InputError) as error:
            catalog_cuts(dataset, TrainConfig(data=str(path), ss_resid=0.5))
    message = str(error.value)
    assert "--ss_resid needs the catalog column 'ss_resid'" in message
    assert str(path) in message and "['class_prob']" in message


# ---------------------------------------------------------------- run directory
CONFIG = {"model": {"size": 8, "estnet_size": (8,), "lambda1": np.float64(0.1)},
          "class_names": ["A", "B"],
          "chunking": {"n_min": 20, "n_max": 32, "period_fold": False},
          "train": {"lr": 0.001}}


def test_a_new_run_directory_is_accepted(tmp_path):
    _check_run_directory(str(tmp_path / "run"), TrainConfig(data="x"), CONFIG)
    _check_run_directory(str(tmp_path), TrainConfig(data="x"), CONFIG)  # exists, no config.json


def test_an_existing_run_without_resume_is_refused(tmp_path):
    rundir.write_json(tmp_path / "config.json", CONFIG)
    with pytest.raises(InputError, match="already exists: continue it with --resume"):
        _check_run_directory(str(tmp_path), TrainConfig(data="x"), CONFIG)


def test_resume_with_the_same_settings_is_accepted(tmp_path):
    rundir.write_json(tmp_path / "config.json", CONFIG)
    changed_elsewhere = dict(CONFIG, train={"lr": 0.1})   # only model/classes/chunking matter
    _check_run_directory(str(tmp_path), TrainConfig(data="x", resume=True), changed_elsewhere)
    # a model key added to BASE later, at its default, does not block the resume
    newer = dict(CONFIG, model=dict(CONFIG["model"], shape_harmonics=0))
    _check_run_directory(str(tmp_path), TrainConfig(data="x", resume=True), newer)


@pytest.mark.parametrize("key, value", [
    ("model", {"size": 16, "estnet_size": [8], "lambda1": 0.1}),
    ("class_names", ["A", "C"]),
    ("chunking", {"n_min": 20, "n_max": 32, "period_fold": True}),
])
def test_resume_with_different_settings_is_refused_naming_them(tmp_path, key, value):
    rundir.write_json(tmp_path / "config.json", CONFIG)
    with pytest.raises(InputError) as error:
        _check_run_directory(str(tmp_path), TrainConfig(data="x", resume=True),
                             dict(CONFIG, **{key: value}))
    assert f"--resume: the {key!r} settings differ" in str(error.value)
    assert str(tmp_path / "config.json") in str(error.value)
