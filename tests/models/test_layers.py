"""Shapes, masking and get_config round trips of rnngmm.models.layers."""

import keras
import numpy as np
import pytest
from keras import ops

from rnngmm.models.layers import (EstimationNetwork, ReconstructionFeatures,
                                  RecurrentDecoder, RecurrentEncoder, ShapeStatistics)

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
                        EstimationNetwork, ShapeStatistics):
        name = keras.saving.get_registered_name(layer_class)
        assert name == f"rnngmm>{layer_class.__name__}"
        assert keras.saving.get_registered_object(name) is layer_class


def test_unknown_model_type_is_rejected():
    with pytest.raises(ValueError, match="tcn"):
        RecurrentEncoder(model_type="tcn")


def folded_chunk(phase, mag, n_max=None):
    """Network input of one phase-sorted chunk (lags, standardised magnitudes)."""
    order = np.argsort(phase)
    phase, mag = phase[order], mag[order]
    n_max = n_max or len(phase)
    x = np.zeros((1, n_max, 2), np.float32)
    x[0, :len(phase), 0] = np.diff(phase, prepend=phase[0])
    x[0, :len(phase), 1] = (mag - mag.mean()) / mag.std()
    weights = np.zeros((1, n_max), np.float32)
    weights[0, :len(phase)] = 1.0
    return x, weights


def two_harmonics(phase, shift=0.0):
    angle = 2 * np.pi * (phase + shift)
    return np.cos(angle) + 0.5 * np.cos(2 * angle - 1.0)


def test_shape_statistics_recover_a_known_fourier_series():
    phase = np.random.default_rng(0).random(150)
    x, weights = folded_chunk(phase, two_harmonics(phase))
    out = ops.convert_to_numpy(ShapeStatistics(harmonics=3)(x, weights, np.zeros(1)))[0]
    assert out.shape == (10,)
    np.testing.assert_allclose(out[:3], [1 / np.sqrt(1.25), 0.5 / np.sqrt(1.25), 0.0],
                               atol=2e-3)
    assert out[3] > 0.999                               # explained variance
    # phi_2 - 2 phi_1 = 1 rad for the second harmonic, 0 amplitude for the third.
    np.testing.assert_allclose([out[4], out[6]], np.array([np.cos(1.0), np.sin(1.0)])
                               * 0.5 / 1.25, atol=2e-3)


def test_shape_statistics_do_not_depend_on_the_phase_origin():
    phase = np.random.default_rng(1).random(120)
    shifted = (phase + 0.37) % 1.0
    layer = ShapeStatistics(harmonics=3)
    first = layer(*folded_chunk(phase, two_harmonics(phase)), np.zeros(1))
    second = layer(*folded_chunk(shifted, two_harmonics(phase)), np.zeros(1))
    np.testing.assert_allclose(ops.convert_to_numpy(first), ops.convert_to_numpy(second),
                               atol=1e-3)


def test_shape_statistics_fold_lags_in_days_on_the_period():
    rng = np.random.default_rng(2)
    period = 0.61
    times = np.sort(rng.uniform(0, 900, 150))
    mag = two_harmonics(times / period)
    x = np.zeros((1, 150, 2), np.float32)
    x[0, :, 0] = np.diff(times, prepend=times[0])
    x[0, :, 1] = (mag - mag.mean()) / mag.std()
    weights = np.ones((1, 150), np.float32)
    in_days = ShapeStatistics(harmonics=3, period_folded=False)(x, weights,
                                                                np.log10([period]))
    folded = ShapeStatistics(harmonics=3)(*folded_chunk(times / period % 1.0, mag),
                                          np.zeros(1))
    # float32 epochs over 900 days: phases good to ~1e-4 cycles.
    np.testing.assert_allclose(ops.convert_to_numpy(in_days), ops.convert_to_numpy(folded),
                               atol=5e-3)


def test_shape_statistics_ignore_padding_and_stay_finite():
    phase = np.random.default_rng(3).random(25)
    layer = ShapeStatistics(harmonics=3)
    whole = layer(*folded_chunk(phase, two_harmonics(phase)), np.zeros(1))
    x, weights = folded_chunk(phase, two_harmonics(phase), n_max=60)
    x[0, 25:] = 7.0                                     # garbage behind the mask
    padded = layer(x, weights, np.zeros(1))
    np.testing.assert_allclose(ops.convert_to_numpy(whole), ops.convert_to_numpy(padded),
                               atol=1e-4)
    flat = np.zeros((1, 20, 2), np.float32)             # a constant light curve
    out = ops.convert_to_numpy(layer(flat, np.ones((1, 20), np.float32), np.zeros(1)))
    assert np.all(np.isfinite(out))
    clone, config = round_trip(layer)
    assert config["harmonics"] == 3 and clone.period_folded is True
    with pytest.raises(ValueError, match="harmonics"):
        ShapeStatistics(harmonics=0)
