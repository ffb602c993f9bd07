"""RNNGMM model: outputs, masking, save/load, staged training (tiny config)."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from rnngmm.models.configs import get_config
from rnngmm.models import MODELS, RNNGMM, build_model
from rnngmm.models import gmm
from rnngmm.models.rnngmm import gmm_loss_terms, weighted_cross_entropy
from model_helpers import N_STEPS, N_VALID, numpy_outputs, sinusoid_chunks, tiny_model  # noqa: F401

def dataset(inputs, labels, batch_size=32):
    return tf.data.Dataset.from_tensor_slices((inputs, labels)).batch(batch_size)



def snapshot(variables):
    return [np.array(v.numpy()) for v in variables]


def identical(first, second):
    return all(np.array_equal(a, b) for a, b in zip(first, second))


@pytest.fixture(scope="module")
def data():
    return sinusoid_chunks()


def test_registry():
    assert MODELS["rnngmm"] is RNNGMM
    with pytest.raises(ValueError, match="'transformer'"):
        build_model("transformer")
    with pytest.raises(ValueError, match="nb_layers"):
        build_model("rnngmm", nb_layers=3)


def test_outputs_follow_the_contract(data):
    inputs, _ = data
    model = tiny_model()
    out = numpy_outputs(model, inputs)
    n = len(inputs["x"])
    assert out["reconstruction"].shape == (n, N_STEPS)
    assert out["code"].shape == (n, 4)
    assert out["z"].shape == (n, model.z_size) == (n, 4 + 2 + 3)
    assert out["gamma"].shape == (n, 2)
    assert out["z"].dtype == out["gamma"].dtype == np.float32
    np.testing.assert_array_equal(out["z"][:, :4], out["code"])
    np.testing.assert_array_equal(out["z"][:, -3:], inputs["supports"])
    np.testing.assert_allclose(out["gamma"].sum(1), 1.0, rtol=1e-6)


@pytest.mark.slow
def test_padded_steps_do_not_change_code_or_z(data):
    inputs, _ = data
    model = tiny_model(num_layers=2)
    changed = {k: v.copy() for k, v in inputs.items()}
    changed["x"][:, N_VALID:, :] = np.random.default_rng(1).normal(
        size=changed["x"][:, N_VALID:, :].shape)
    before, after = numpy_outputs(model, inputs), numpy_outputs(model, changed)
    for key in ("code", "z", "gamma"):
        np.testing.assert_allclose(before[key], after[key], rtol=0, atol=1e-5)
    np.testing.assert_allclose(before["reconstruction"][:, :N_VALID],
                               after["reconstruction"][:, :N_VALID], rtol=0, atol=1e-5)


def test_config_round_trip_excludes_training_state():
    model = tiny_model(bidirectional=True, decode_type="lstm")
    model.stage = "estimation"
    config = model.get_config()
    assert "stage" not in config and "gradient_hook" not in config
    clone = RNNGMM.from_config(config)
    assert clone.get_config() == config
    assert clone.stage == "joint"


@pytest.mark.slow
def test_keras_save_load_gives_identical_outputs(data, tmp_path):
    inputs, labels = data
    model = tiny_model()
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    assert model.jit_compile is False          # XLA off by default (horovod)
    model.fit(dataset(inputs, labels), epochs=1, verbose=0, shuffle=False)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, RNNGMM)
    before, after = numpy_outputs(model, inputs), numpy_outputs(loaded, inputs)
    for key in before:
        np.testing.assert_array_equal(before[key], after[key])
    # The optimizer state came back too, so training can continue.
    assert int(loaded.optimizer.iterations.numpy()) == int(model.optimizer.iterations.numpy())


@pytest.mark.slow
def test_joint_training_lowers_the_loss(data):
    inputs, labels = data
    model = tiny_model()
    model.compile(optimizer=keras.optimizers.Adam(1e-2), jit_compile=False)
    train = dataset(inputs, labels)
    start = model.evaluate(train, verbose=0, return_dict=True)
    history = model.fit(train, epochs=15, verbose=0, shuffle=False).history
    end = model.evaluate(train, verbose=0, return_dict=True)
    assert set(history) == {"loss", "recon", "ce", "energy", "penalty", "accuracy"}
    assert all(np.isfinite(v).all() for v in history.values())
    assert end["loss"] < start["loss"]


@pytest.mark.slow
def test_autoencoder_stage_trains_only_the_autoencoder(data):
    inputs, labels = data
    model = tiny_model()
    model.compile(optimizer=keras.optimizers.Adam(1e-2), jit_compile=False)
    model.stage = "autoencoder"
    model.build()
    autoencoder = model.encoder.weights + model.decoder.weights
    estimation_before = snapshot(model.estimation_net.weights)
    autoencoder_before = snapshot(autoencoder)
    train = dataset(inputs, labels)
    start = model.evaluate(train, verbose=0, return_dict=True)
    history = model.fit(train, epochs=4, verbose=0, shuffle=False).history
    end = model.evaluate(train, verbose=0, return_dict=True)
    assert identical(estimation_before, snapshot(model.estimation_net.weights))
    assert not identical(autoencoder_before, snapshot(autoencoder))
    np.testing.assert_allclose(history["loss"], history["recon"], rtol=1e-6)
    assert end["recon"] < start["recon"]


@pytest.mark.slow
def test_estimation_stage_leaves_the_autoencoder_bit_identical(data):
    inputs, labels = data
    model = tiny_model()
    model.compile(optimizer=keras.optimizers.Adam(1e-2), jit_compile=False)
    train = dataset(inputs, labels)
    model.stage = "autoencoder"
    model.fit(train, epochs=1, verbose=0, shuffle=False)
    autoencoder = model.encoder.weights + model.decoder.weights
    autoencoder_before = snapshot(autoencoder)
    estimation_before = snapshot(model.estimation_net.weights)
    model.stage = "estimation"
    start = model.evaluate(train, verbose=0, return_dict=True)
    history = model.fit(train, epochs=6, verbose=0, shuffle=False).history
    end = model.evaluate(train, verbose=0, return_dict=True)
    assert identical(autoencoder_before, snapshot(autoencoder))
    assert not identical(estimation_before, snapshot(model.estimation_net.weights))
    assert len(set(np.round(history["recon"], 7))) == 1   # frozen reconstruction
    assert end["loss"] < start["loss"]


@pytest.mark.slow
def test_gradient_hook_is_applied_after_a_change(data):
    inputs, labels = data
    model = tiny_model()
    model.compile(optimizer=keras.optimizers.SGD(0.1), jit_compile=False)
    train = dataset(inputs, labels)
    model.fit(train, epochs=1, verbose=0, shuffle=False)   # traced with the identity hook
    calls = []

    def zero_gradients(grads):
        calls.append(len(grads))
        return [ops.zeros_like(g) for g in grads]

    model.gradient_hook = zero_gradients             # must force a re-trace
    before = snapshot(model.weights)
    model.fit(train, epochs=1, verbose=0, shuffle=False)
    assert calls and calls[0] == len(model.trainable_variables)
    assert identical(before, snapshot(model.weights))


def test_stage_is_validated():
    model = tiny_model()
    with pytest.raises(ValueError, match="decoder"):
        model.stage = "decoder"
    with pytest.raises(TypeError):
        model.gradient_hook = 3


@pytest.mark.slow
def test_mixed_precision_keeps_gmm_in_float32(data):
    inputs, labels = data
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = tiny_model()
        model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=False)
        out = model(inputs)
        assert ops.convert_to_numpy(out["code"]).dtype == np.float16
        assert ops.convert_to_numpy(out["z"]).dtype == np.float32
        assert ops.convert_to_numpy(out["gamma"]).dtype == np.float32
        history = model.fit(dataset(inputs, labels), epochs=1, verbose=0,
                            shuffle=False).history
        assert np.isfinite(history["loss"]).all()
    finally:
        keras.config.set_dtype_policy(previous)


def test_weighted_cross_entropy_weights_each_chunk_by_its_class():
    gamma = np.array([[0.7, 0.3], [0.2, 0.8], [0.6, 0.4]], np.float32)
    labels = np.array([0, 1, 1])
    per_chunk = -np.log([0.7, 0.8, 0.4])
    plain = float(weighted_cross_entropy(labels, gamma))
    np.testing.assert_allclose(plain, per_chunk.mean(), rtol=1e-5)
    weighted = float(weighted_cross_entropy(labels, gamma, [3.0, 1.0]))
    np.testing.assert_allclose(weighted, (3 * per_chunk[0] + per_chunk[1] + per_chunk[2]) / 5,
                               rtol=1e-5)
    assert weighted != pytest.approx(plain)


def test_label_smoothing_mixes_in_the_uniform_target():
    gamma = np.array([[0.7, 0.3], [0.2, 0.8]], np.float32)
    labels = np.array([0, 1])
    eps = 0.2
    expected = np.mean([(1 - eps) * -np.log(0.7) + eps * -np.mean(np.log([0.7, 0.3])),
                        (1 - eps) * -np.log(0.8) + eps * -np.mean(np.log([0.2, 0.8]))])
    smoothed = float(weighted_cross_entropy(labels, gamma, label_smoothing=eps))
    np.testing.assert_allclose(smoothed, expected, rtol=1e-5)
    assert smoothed > float(weighted_cross_entropy(labels, gamma))


def test_class_weight_powers_go_from_none_to_balanced():
    from rnngmm.class_frequencies import balanced_class_weights, class_weight_power
    labels = np.array([0] * 90 + [1] * 10)
    balanced = balanced_class_weights(labels, 2, class_weight_power("balanced"))
    sqrt = balanced_class_weights(labels, 2, class_weight_power("sqrt"))
    none = balanced_class_weights(labels, 2, class_weight_power("none"))
    np.testing.assert_allclose(balanced, [100 / 180, 100 / 20])
    np.testing.assert_allclose(sqrt, np.sqrt(balanced))
    np.testing.assert_allclose(none, [1.0, 1.0])
    assert class_weight_power("0.25") == 0.25
    for bad in ("heavy", "1.5", "-0.1"):
        with pytest.raises(ValueError, match="--class_weight"):
            class_weight_power(bad)


def test_relu_estimation_network_is_saved_with_its_activation(tmp_path):
    model = RNNGMM(**get_config("tiny", estnet_size=[6, 5], estnet_activation="relu"))
    model.build()
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, compile=False)
    assert loaded.estimation_net.activation == "relu"
    assert [layer.units for layer in loaded.estimation_net.hidden_layers] == [6, 5]
    with pytest.raises(ValueError, match="estnet_activation"):
        get_config("tiny", estnet_activation="sigmoid")


def test_shape_statistics_join_z_and_survive_save_load(data, tmp_path):
    inputs, _ = data
    model = RNNGMM(**get_config("tiny", shape_harmonics=2, period_folded=True))
    outputs = numpy_outputs(model, inputs)
    plain = RNNGMM(**get_config("tiny"))
    assert model.z_size == plain.z_size + 7
    assert outputs["z"].shape == (len(inputs["x"]), model.z_size)
    assert np.all(np.isfinite(outputs["z"]))
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, compile=False)
    assert loaded.hparams["shape_harmonics"] == 2
    np.testing.assert_array_equal(numpy_outputs(loaded, inputs)["z"], outputs["z"])
    with pytest.raises(ValueError, match="shape_harmonics"):
        get_config("tiny", shape_harmonics=-1)


def test_gmm_loss_terms_survive_a_collapsed_code():
    # Eight code dimensions that all follow one direction (a collapsed code)
    # beside unit-spread ones: float32 round-off makes this batch covariance
    # indefinite, the case that stopped a CRTS training run with NaN.
    rng = np.random.default_rng(0)
    direction = rng.standard_normal((256, 1))
    collapsed = [100 * direction + 1e-4 * rng.standard_normal((256, 1)) for _ in range(8)]
    z = np.concatenate(collapsed + [rng.standard_normal((256, 5))], axis=1).astype("float32")
    gamma = np.full((256, 2), 0.5, "float32")
    with pytest.raises(Exception, match="Cholesky"):
        phi, mu, cov = gmm.gmm_parameters(z, gamma)
        np.asarray(gmm.sample_energy(z, phi, mu, cov, jitter=1e-6))
    energy, penalty = gmm_loss_terms(z, gamma, 1e-6)
    assert energy.dtype == penalty.dtype == "float32"
    assert np.isfinite(float(energy)) and np.isfinite(float(penalty))
