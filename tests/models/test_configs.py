"""Named configurations of rnngmm.models.configs."""

import pytest

from rnngmm.models.configs import BASE, CONFIGS, get_config


def test_fiducial_is_base_and_a_copy():
    config = get_config("fiducial")
    assert config == BASE
    config["estnet_size"].append(99)
    assert BASE["estnet_size"] == [64, 64]


def test_reference_defaults():
    assert (BASE["model_type"], BASE["size"], BASE["num_layers"], BASE["embedding"],
            BASE["n_max"]) == ("gru", 96, 2, 16, 200)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_named_configs_have_every_key(name):
    assert set(get_config(name)) == set(BASE)


def test_reference_head_is_a_named_configuration():
    reference = get_config("reference")
    assert (reference["estnet_size"], reference["estnet_drop_frac"],
            reference["estnet_activation"]) == ([16], 0.5, "tanh")
    assert {k: v for k, v in reference.items() if not k.startswith("estnet")} == \
        {k: v for k, v in BASE.items() if not k.startswith("estnet")}


def test_small_and_tiny():
    assert get_config("small")["size"] == 32
    tiny = get_config("tiny")
    assert (tiny["size"], tiny["num_layers"], tiny["embedding"]) == (8, 1, 4)


def test_overrides_apply():
    assert get_config("tiny", lambda1=0.5)["lambda1"] == 0.5


def test_unknown_key_is_named():
    with pytest.raises(ValueError, match="lamda1"):
        get_config("fiducial", lamda1=0.5)


def test_unknown_name_is_named():
    with pytest.raises(ValueError, match="huge"):
        get_config("huge")


@pytest.mark.parametrize("key, value", [("model_type", "tcn"), ("size", 0),
                                        ("drop_frac", 1.0), ("lambda2", -1),
                                        ("estnet_size", [0]), ("decode_type", "cnn"),
                                        ("class_weights", [1.0, 2.0]),
                                        ("class_weights", [1.0] * 7 + [0.0])])
def test_bad_values_are_rejected(key, value):
    with pytest.raises(ValueError, match=key):
        get_config("fiducial", **{key: value})
