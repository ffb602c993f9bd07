"""Shapes, masking and get_config round trips of rnngmm.models.layers."""

import keras
import numpy as np
import pytest
from keras import ops

from rnngmm.models.layers import (EstimationNetwork, ReconstructionFeatures,
                                  RecurrentDecoder, RecurrentEncoder)

B, T = 3, 7


def inputs(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(B, T, 2)).astype("float32")
    mask = np.ones((B, T), bool)
    mask[0, 5:] = False
    mask[2, 2:] = False
    return x, mask


def round_trip(layer):
    config = layer.get_config()
    return type(layer).from_config(config), config


@pytest.mark.parametrize("model_type", ["gru", "lstm", "vanilla"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_encoder_shape_and_config(model_type, bidirectional):
    encoder = RecurrentEncoder(model_type=model_type, size=5, num_layers=2, embedding=3,
                               drop_frac=0.1, bidirectional=bidirectional)
    x, mask = inputs()
    assert tuple(encoder(x, mask=mask).shape) == (B, 3)
    clone, config = round_trip(encoder)
    assert clone.get_config() == config
    assert config["model_type"] == model_type and config["bidirectional"] == bidirectional


def test_encoder_ignores_padded_steps():
    encoder = RecurrentEncoder(size=4, num_layers=2, embedding=3)
    x, mask = inputs()
    changed = x.copy()
    changed[~mask] = 99.0
    np.testing.assert_allclose(ops.convert_to_numpy(encoder(x, mask=mask)),
                               ops.convert_to_numpy(encoder(changed, mask=mask)),
                               rtol=0, atol=1e-6)
    # ...while a change at a real step does change the code.
    changed[1, 3, 1] += 5.0
    assert not np.allclose(ops.convert_to_numpy(encoder(x, mask=mask))[1],
                           ops.convert_to_numpy(encoder(changed, mask=mask))[1])


@pytest.mark.parametrize("model_type", ["gru", "lstm", "vanilla"])
def test_decoder_shape_and_config(model_type):
    decoder = RecurrentDecoder(model_type=model_type, size=4, num_layers=2, drop_frac=0.2)
    x, mask = inputs()
    code = np.ones((B, 3), "float32")
    assert tuple(decoder(code, x[..., :1], mask=mask).shape) == (B, T)
    clone, config = round_trip(decoder)
    assert clone.get_config() == config


def test_decoder_depends_on_sampling_times():
    decoder = RecurrentDecoder(size=4, num_layers=1)
    x, mask = inputs()
    code = np.ones((B, 3), "float32")
    first = ops.convert_to_numpy(decoder(code, x[..., :1], mask=mask))
    second = ops.convert_to_numpy(decoder(code, x[..., :1] + 1.0, mask=mask))
    assert not np.allclose(first, second)


def test_reconstruction_features_by_hand():
    magnitudes = np.array([[3.0, 4.0, 100.0], [1.0, 0.0, 0.0]], "float32")
    rebuilt = np.array([[3.0, 0.0, -7.0], [-2.0, 0.0, 0.0]], "float32")
    mask = np.array([[True, True, False], [True, False, False]])
    features = ops.convert_to_numpy(ReconstructionFeatures()(magnitudes, rebuilt, mask))
    assert features.shape == (2, 2)
    # Row 0: ||(0, 4)|| / ||(3, 4)|| = 0.8; cos = 9 / (5 * 3) = 0.6.
    np.testing.assert_allclose(features[0], [0.8, 0.4], rtol=1e-5)
    # Row 1: ||3|| / ||1|| = 3; opposite directions, cosine distance 2.
    np.testing.assert_allclose(features[1], [3.0, 2.0], rtol=1e-5)


def test_reconstruction_features_finite_for_zero_vectors():
    zeros = np.zeros((1, 4), "float32")
    mask = np.ones((1, 4), bool)
    layer = ReconstructionFeatures()
    assert np.all(np.isfinite(ops.convert_to_numpy(layer(zeros, zeros, mask))))


def test_estimation_network_shape_softmax_and_config():
    network = EstimationNetwork(estnet_size=[6, 5], estnet_drop_frac=0.5, num_classes=4)
    z = np.random.default_rng(0).normal(size=(B, 9)).astype("float32")
    gamma = ops.convert_to_numpy(network(z))
    assert gamma.shape == (B, 4) and gamma.dtype == np.float32
    np.testing.assert_allclose(gamma.sum(axis=1), 1.0, rtol=1e-6)
    clone, config = round_trip(network)
    assert clone.get_config() == config and config["estnet_size"] == [6, 5]


def test_layers_are_registered_for_serialisation():
    for layer_class in (RecurrentEncoder, RecurrentDecoder, ReconstructionFeatures,
                        EstimationNetwork):
        name = keras.saving.get_registered_name(layer_class)
        assert name == f"rnngmm>{layer_class.__name__}"
        assert keras.saving.get_registered_object(name) is layer_class


def test_unknown_model_type_is_rejected():
    with pytest.raises(ValueError, match="tcn"):
        RecurrentEncoder(model_type="tcn")
