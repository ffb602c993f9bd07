"""The search-space file and TuneConfig: parsing and clear errors."""

import json

import pytest

from rnngmm.errors import InputError
from rnngmm.tuning.config import TuneConfig, default_study_name
from rnngmm.tuning.space import load_space, parse_space

GOOD = {"fixed": {"data": "d.h5", "config": "tiny", "time_budget": 1.5},
        "search": {"lambda1": {"type": "float", "low": 1e-3, "high": 1.0, "log": True},
                   "size": {"type": "int", "low": 8, "high": 32, "step": 8},
                   "class_weight": {"type": "categorical", "choices": ["none", "balanced"]}}}


def test_yaml_and_json_give_the_same_space(tmp_path):
    yaml = pytest.importorskip("yaml")
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(GOOD, sort_keys=False))
    (tmp_path / "s.json").write_text(json.dumps(GOOD))
    a, b = load_space(tmp_path / "s.yaml"), load_space(tmp_path / "s.json")
    assert a.fixed == b.fixed == GOOD["fixed"]
    assert a.distributions == b.distributions
    assert a.names == ["lambda1", "size", "class_weight"]
    lam, size, weight = a.distributions
    assert (lam.kind, lam.low, lam.high, lam.log) == ("float", 1e-3, 1.0, True)
    assert (size.kind, size.step) == ("int", 8)
    assert weight.choices == ("none", "balanced")


def test_suggest_draws_inside_the_distributions():
    import optuna
    space = parse_space(GOOD)
    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(20):
        trial = study.ask()
        params = space.suggest(trial)
        assert 1e-3 <= params["lambda1"] <= 1.0
        assert params["size"] in (8, 16, 24, 32)
        assert params["class_weight"] in ("none", "balanced")
        settings = space.settings(params)
        assert settings["time_budget"] == 1.5 and settings["size"] == params["size"]
        study.tell(trial, 0.0)


@pytest.mark.parametrize("change, message", [
    ({"search": {"lamda1": {"type": "float", "low": 0, "high": 1}}},
     r"unknown setting\(s\) \['lamda1'\] in 'search'"),
    ({"fixed": {"data": "d", "time_budget": 1, "bogus": 3}},
     r"unknown setting\(s\) \['bogus'\] in 'fixed'"),
    ({"search": {"lr": {"type": "normal", "low": 0, "high": 1}}}, "has type 'normal'"),
    ({"search": {"lr": {"low": 0, "high": 1}}}, "must be a mapping with a 'type'"),
    ({"search": {"lr": {"type": "float", "low": 2, "high": 1}}}, "low 2 > high 1"),
    ({"search": {"lr": {"type": "float", "low": 0, "high": 1, "log": True}}},
     "log-scaled, so low must be > 0"),
    ({"search": {"lr": {"type": "float", "high": 1}}}, "needs 'low'"),
    ({"search": {"lr": {"type": "float", "low": "a", "high": 1}}}, "must be a number"),
    ({"search": {"size": {"type": "int", "low": 1.5, "high": 4}}}, "must be integers"),
    ({"search": {"lr": {"type": "float", "low": 1e-4, "high": 1, "log": True, "step": 0.1}}},
     "both 'log' and 'step'"),
    ({"search": {"lr": {"type": "float", "low": 0, "high": 1, "choices": [1]}}},
     r"does not take \['choices'\]"),
    ({"search": {"class_weight": {"type": "categorical", "choices": []}}},
     "non-empty list 'choices'"),
    ({"search": {"class_weight": {"type": "categorical", "choices": [[1]]}}},
     "must be a number, string, boolean or null"),
    ({"search": {}}, "names no setting to search"),
    ({"fixed": {"data": "d"}}, "set time_budget"),
    ({"fixed": {"data": "d", "time_budget": 1, "lambda1": 0.1}}, "both fixed and searched"),
    ({"fixed": {"data": "d", "time_budget": 1, "run_name": "x"}}, "set by rnngmm tune"),
    ({"search": {"estnet_size": {"type": "categorical", "choices": ["64 x", "32"]}}},
     "'estnet_size' takes a non-empty list of int"),
    ({"search": {"estnet_size": {"type": "categorical", "choices": ["64 64", [64, 64]]}}},
     "repeated choices"),
    ({"search": {"estnet_size": {"type": "categorical", "choices": [[]]}}},
     "non-empty list of int"),
    ({"search": {"estnet_size": {"type": "int", "low": 8, "high": 64}}},
     "takes a list: search it as categorical"),
    ({"fixed": {"data": "d", "time_budget": 1, "estnet_size": "64 6.5"}},
     "fixed: 'estnet_size' takes a non-empty list of int"),
    ({"other": 1}, r"unknown section\(s\) \['other'\]"),
])
def test_bad_spaces_name_the_problem(change, message):
    content = {**GOOD, **change}
    with pytest.raises(InputError, match=message):
        parse_space(content, "space.yaml")


def test_yaml_exponents_without_a_dot_are_numbers(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("fixed: {data: d.h5, time_budget: 2}\n"
                    "search:\n  lr: {type: float, low: 1e-4, high: 3e-3, log: true}\n")
    (lr,) = load_space(path).distributions
    assert (lr.low, lr.high) == (1e-4, 3e-3)


def test_unreadable_files_name_the_problem(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_space(tmp_path / "missing.yaml")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        load_space(tmp_path / "bad.json")
    (tmp_path / "bad.yaml").write_text("search: [unclosed")
    with pytest.raises(InputError, match="not valid YAML"):
        load_space(tmp_path / "bad.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(InputError, match="must hold a mapping"):
        load_space(tmp_path / "list.yaml")


def test_tune_config_validation(tmp_path):
    space = tmp_path / "s.json"
    space.write_text(json.dumps(GOOD))
    study = str(tmp_path / "study.journal")
    config = TuneConfig(study=study, space=str(space)).validate()
    assert config.name == "study" == default_study_name(study)
    assert TuneConfig(study="sqlite:///x.db", space=str(space)).validate().name == "rnngmm"
    for changes, message in [
        ({"space": None}, "--space is required"),
        ({"trials": 0}, "--trials must be >= 1"),
        ({"objective": "test_f1"}, "--objective 'test_f1'"),
        ({"grace_period": 5, "heartbeat_interval": 10}, "must exceed --heartbeat_interval"),
        ({"study": str(tmp_path / "no" / "such" / "s.journal")}, "not a writable directory"),
        ({"report": True, "study": str(tmp_path / "none.journal")}, "nothing to report"),
        ({"study_name": "a/b"}, "plain name"),
    ]:
        values = {"study": study, "space": str(space), **changes}
        with pytest.raises(InputError, match=message):
            TuneConfig(**values).validate()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"search": {"nope": {"type": "int", "low": 1, "high": 2}}}))
    with pytest.raises(InputError, match="nope"):
        TuneConfig(study=study, space=str(bad)).validate()


def test_list_settings_are_searched_as_text_and_trained_as_lists():
    """estnet_size (``--estnet_size 64 64``): choices as flag text or lists; Optuna
    records the text (its categorical choices must be scalars), a trial gets the list."""
    import optuna
    content = {"fixed": {"data": "d.h5", "time_budget": 1, "novel_classes": "RRab EW"},
               "search": {"estnet_size": {"type": "categorical",
                                          "choices": ["64 64", [128, 128], "256", 32]}}}
    space = parse_space(content)
    (size,) = space.distributions
    assert size.choices == ("64 64", "128 128", "256", "32")
    assert space.fixed["novel_classes"] == ["RRab", "EW"]
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    seen = set()
    for _ in range(12):
        trial = study.ask()
        params = space.suggest(trial)
        settings = space.settings(params)
        assert settings["estnet_size"] == [int(v) for v in params["estnet_size"].split()]
        seen.add(tuple(settings["estnet_size"]))
        study.tell(trial, 0.0)
    assert seen == {(64, 64), (128, 128), (256,), (32,)}
    # the settings build a TrainConfig rnngmm train accepts
    from rnngmm.training.options import model_config_from_args
    from rnngmm.training.config import TrainConfig
    config = TrainConfig.from_dict(space.settings({"estnet_size": "64 64"}))
    assert model_config_from_args(config)["estnet_size"] == [64, 64]


def test_every_list_setting_of_train_is_known_to_the_space():
    """A new list-valued train flag must say its item type (LIST_SETTINGS)."""
    from dataclasses import fields

    from rnngmm.training.config import TrainConfig
    from rnngmm.tuning.space import LIST_SETTINGS
    assert {f.name for f in fields(TrainConfig) if f.type in (list, "list")} == set(LIST_SETTINGS)


def test_init_from_may_be_fixed():
    """A fixed init_from trains heads on a finished autoencoder (nb_epoch: 0)."""
    content = {"fixed": {"data": "d.h5", "time_budget": 1, "init_from": "runs/ae",
                         "nb_epoch": 0},
               "search": {"lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True}}}
    assert parse_space(content).settings({"lr": 1e-3})["init_from"] == "runs/ae"
