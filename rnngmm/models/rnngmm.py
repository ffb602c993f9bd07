"""The RNN-GMM model: recurrent autoencoder + estimation network + GMM energy.

Model maths is in ``keras.ops`` and this module imports no backend: the
backend's gradient step lives in ``rnngmm.training`` (``tf_step`` with its
``tf.GradientTape`` for TensorFlow, ``torch_step``; JAX has the stateless
``jax_step.JaxTrainStep``), imported by :meth:`RNNGMM.train_step` when Keras
first traces it. Distributed training plugs in through
:attr:`RNNGMM.gradient_hook` (e.g. a Horovod allreduce of each gradient), so
this module never imports horovod either.
"""

import importlib

import keras
import numpy as np
from keras import ops

from rnngmm.models.configs import BASE, validate_config
from rnngmm.models import gmm
from rnngmm.models.layers import (EstimationNetwork, ReconstructionFeatures, RecurrentDecoder,
                     RecurrentEncoder, ShapeStatistics)

#: Training stages: which loss is minimised and which variables move.
STAGES = ("joint", "autoencoder", "estimation")

#: Number of reconstruction-error features and of supports appended to the code.
N_ERROR_FEATURES = 2
N_SUPPORTS = 3

_MIN_WEIGHT_SUM = 1e-8

#: Module of ``rnngmm.models`` holding ``train_step(model, data)``, per Keras backend.
_TRAIN_STEPS = {"tensorflow": "tf_step", "torch": "torch_step"}


def _identity(grads):
    return grads


@keras.saving.register_keras_serializable(package="rnngmm")
class RNNGMM(keras.Model):
    """GRU/LSTM autoencoder whose code feeds a Gaussian-mixture estimation network.

    Parameters
    ----------
    **config
        Keys of :data:`rnngmm.models.configs.BASE` (missing keys take the ``BASE``
        default; unknown keys raise ``ValueError``). Keras keyword arguments
        (``name``, ``dtype``, ``trainable``) are passed on.

    Notes
    -----
    Inputs are a dict ``{"x": (B, T, 2), "weights": (B, T), "supports": (B, 3)}``
    (see ``rnngmm.lightcurves.preprocess.Chunks``); ``weights > 0`` is the mask. In the
    "estimation" stage the inputs may instead be cached ``{"z": (B, D),
    "recon_error": (B,)}`` computed once by the frozen autoencoder
    (:mod:`rnngmm.training.cached`); only ``z`` and ``gamma`` are returned then. Outputs
    are a dict ``{"reconstruction": (B, T), "code": (B, E), "z": (B, D),
    "gamma": (B, K)}`` with ``z = [code, relative Euclidean error, cosine
    error, supports]`` and ``D = E + 5``; with ``shape_harmonics`` H > 0 the
    chunk's shape statistics (:class:`~rnngmm.models.layers.ShapeStatistics`,
    3 H + 1 values) follow, ``D = E + 5 + 3 H + 1``. ``z`` and ``gamma`` are
    float32.

    ``stage`` ("joint", "autoencoder", "estimation") and ``gradient_hook``
    (callable on the list of gradients, identity by default) may be set after
    construction; they are not saved in the config. The whole-training-set
    GMM is not part of the model: see :class:`rnngmm.novelty.mixture.GMMNovelty`.
    """

    def __init__(self, **config):
        keras_kwargs = {k: config.pop(k) for k in ("name", "dtype", "trainable")
                        if k in config}
        super().__init__(**keras_kwargs)
        hparams = {**BASE, **config}
        validate_config(hparams)
        self.hparams = hparams
        decode_type = hparams["decode_type"] or hparams["model_type"]
        decode_layers = hparams["decode_layers"] or hparams["num_layers"]
        self.encoder = RecurrentEncoder(
            model_type=hparams["model_type"], size=hparams["size"],
            num_layers=hparams["num_layers"], embedding=hparams["embedding"],
            drop_frac=hparams["drop_frac"], bidirectional=hparams["bidirectional"],
            name="encoder")
        self.decoder = RecurrentDecoder(
            model_type=decode_type, size=hparams["size"], num_layers=decode_layers,
            drop_frac=hparams["drop_frac"], bidirectional=hparams["bidirectional"],
            name="decoder")
        self.error_features = ReconstructionFeatures(name="error_features")
        self.shape_statistics = (
            ShapeStatistics(harmonics=hparams["shape_harmonics"],
                            period_folded=hparams["period_folded"], name="shape_statistics")
            if int(hparams["shape_harmonics"]) > 0 else None)
        self.estimation_net = EstimationNetwork(
            estnet_size=hparams["estnet_size"],
            estnet_drop_frac=hparams["estnet_drop_frac"],
            num_classes=hparams["num_classes"],
            activation=hparams["estnet_activation"], name="estimation_net")
        # Supports (mean mag ~10-18, log period) would saturate the tanh
        # estimation network and dominate the mixture's covariances; they are
        # standardised with training-set statistics stored as model weights.
        self.support_mean = self.add_weight(
            shape=(N_SUPPORTS,), initializer="zeros", trainable=False, name="support_mean")
        self.support_scale = self.add_weight(
            shape=(N_SUPPORTS,), initializer="ones", trainable=False, name="support_scale")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.recon_tracker = keras.metrics.Mean(name="recon")
        self.ce_tracker = keras.metrics.Mean(name="ce")
        self.energy_tracker = keras.metrics.Mean(name="energy")
        self.penalty_tracker = keras.metrics.Mean(name="penalty")
        self.accuracy_tracker = keras.metrics.SparseCategoricalAccuracy(name="accuracy")
        self._stage = "joint"
        self._gradient_hook = _identity

    # ----------------------------------------------------------- settable state
    @property
    def stage(self):
        """Training stage: "joint", "autoencoder" or "estimation"."""
        return self._stage

    @stage.setter
    def stage(self, value):
        if value not in STAGES:
            raise ValueError(f"unknown training stage {value!r}; choose from {STAGES}")
        self._stage = value
        self._forget_compiled_steps()

    @property
    def gradient_hook(self):
        """Callable applied to the list of gradients before they are applied."""
        return self._gradient_hook

    @gradient_hook.setter
    def gradient_hook(self, hook):
        if hook is None:
            hook = _identity
        if not callable(hook):
            raise TypeError(f"gradient_hook must be callable, got {type(hook).__name__}")
        self._gradient_hook = hook
        self._forget_compiled_steps()

    def _forget_compiled_steps(self):
        # Keras caches the traced train/test functions; the stage and hook are
        # baked into them, so changing either must force a re-trace.
        for attribute in ("train_function", "test_function"):
            if hasattr(self, attribute):
                setattr(self, attribute, None)

    # ------------------------------------------------------------------ forward
    @property
    def embedding_size(self):
        return int(self.hparams["embedding"])

    @property
    def z_size(self):
        """Dimension ``D`` of ``z``."""
        shape = self.shape_statistics.output_size if self.shape_statistics else 0
        return self.embedding_size + N_ERROR_FEATURES + N_SUPPORTS + shape

    def _forward(self, inputs, training=False, freeze_autoencoder=False):
        if "z" in inputs:  # cached estimation stage: z computed once, autoencoder frozen
            z = ops.stop_gradient(ops.cast(inputs["z"], "float32"))
            return {"z": z, "gamma": self.estimation_net(z, training=training)}
        x = inputs["x"]
        # Lags span minutes to seasonal gaps of months: log1p keeps them O(1).
        x = ops.concatenate([ops.log1p(ops.maximum(x[..., :1], 0.0)), x[..., 1:]], axis=-1)
        mask = ops.convert_to_tensor(inputs["weights"]) > 0
        autoencoder_training = training and not freeze_autoencoder
        code = self.encoder(x, mask=mask, training=autoencoder_training)
        reconstruction = self.decoder(code, x[..., :1], mask=mask,
                                      training=autoencoder_training)
        errors = self.error_features(x[..., 1], reconstruction, mask)
        supports = ((ops.cast(inputs["supports"], "float32") - self.support_mean)
                    / self.support_scale)
        parts = [ops.cast(code, "float32"), errors, supports]
        if self.shape_statistics is not None:
            # Raw inputs: the fit needs the lags and the unscaled log period.
            parts.append(self.shape_statistics(inputs["x"], inputs["weights"],
                                               ops.cast(inputs["supports"], "float32")[:, 2]))
        z = ops.concatenate(parts, axis=-1)
        if freeze_autoencoder:
            z = ops.stop_gradient(z)
        gamma = self.estimation_net(z, training=training)
        return {"reconstruction": reconstruction, "code": code, "z": z, "gamma": gamma}

    def set_support_scaling(self, supports):
        """Standardise supports with the mean and std of ``supports`` (N, 3).

        Call once with the training chunks' supports before training; the
        statistics are saved with the model's weights.
        """
        supports = np.asarray(supports, dtype=np.float64)
        scale = supports.std(axis=0)
        self.support_mean.assign(supports.mean(axis=0).astype("float32"))
        self.support_scale.assign(np.where(scale > 0, scale, 1.0).astype("float32"))

    def call(self, inputs, training=False):
        return self._forward(inputs, training=training)

    def build(self, input_shape=None):
        """Create every variable by a forward pass on a small dummy batch.

        The variables do not depend on the number of steps or the batch
        size, so ``input_shape`` is only used for its number of steps.
        """
        if self.built:
            return
        steps = 4
        if isinstance(input_shape, dict) and input_shape.get("x") is not None:
            steps = input_shape["x"][1] or steps
        dummy = {"x": ops.zeros((1, steps, 2)), "weights": ops.ones((1, steps)),
                 "supports": ops.zeros((1, N_SUPPORTS))}
        self._forward(dummy)
        self.built = True

    def get_build_config(self):
        steps = self.hparams.get("n_max")
        return {"input_shape": {"x": [None, steps, 2], "weights": [None, steps],
                                "supports": [None, N_SUPPORTS]}}

    def build_from_config(self, config):
        self.build(config.get("input_shape"))

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, **self.hparams}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    # ------------------------------------------------------------------- losses
    @property
    def stage_variables(self):
        """The trainable variables the current stage updates."""
        if self._stage == "autoencoder":
            return self.encoder.trainable_variables + self.decoder.trainable_variables
        if self._stage == "estimation":
            return self.estimation_net.trainable_variables
        return self.trainable_variables

    def compute_losses(self, inputs, labels, training=False):
        """Forward pass and every loss term of the current stage.

        Parameters
        ----------
        inputs : dict
            ``x``, ``weights``, ``supports`` (see the class docstring).
        labels : array_like of int, shape (B,)
        training : bool

        Returns
        -------
        losses : dict of scalar tensors
            ``loss`` (what the stage minimises), ``recon``, ``ce``,
            ``energy``, ``penalty``. In the "autoencoder" stage the GMM terms
            are still reported but do not enter ``loss``.
        outputs : dict
            The model outputs.
        """
        cached = "z" in inputs
        if cached and self._stage != "estimation":
            raise ValueError("cached inputs (z, recon_error) serve only the estimation stage")
        outputs = self._forward(inputs, training=training,
                                freeze_autoencoder=self._stage == "estimation")
        if cached:
            recon = ops.mean(ops.cast(inputs["recon_error"], "float32"))
        else:
            recon = weighted_reconstruction_error(inputs["x"][..., 1],
                                                  outputs["reconstruction"],
                                                  inputs["weights"])
        ce = weighted_cross_entropy(labels, outputs["gamma"], self.hparams["class_weights"],
                                    label_smoothing=float(self.hparams["label_smoothing"]))
        energy, penalty = gmm_loss_terms(outputs["z"], outputs["gamma"],
                                         float(self.hparams["jitter"]))
        gmm_terms = (ce + float(self.hparams["lambda1"]) * energy
                     + float(self.hparams["lambda2"]) * penalty)
        if self._stage == "autoencoder":
            loss = recon
        elif self._stage == "estimation":
            loss = gmm_terms
        else:
            loss = recon + gmm_terms
        return ({"loss": loss, "recon": recon, "ce": ce, "energy": energy,
                 "penalty": penalty}, outputs)

    # ------------------------------------------------------------ train / test
    @property
    def metrics(self):
        return [self.loss_tracker, self.recon_tracker, self.ce_tracker,
                self.energy_tracker, self.penalty_tracker, self.accuracy_tracker]

    def update_metrics(self, losses, labels, gamma):
        """Update the metric trackers with one step's losses; return their results."""
        self.loss_tracker.update_state(losses["loss"])
        self.recon_tracker.update_state(losses["recon"])
        self.ce_tracker.update_state(losses["ce"])
        self.energy_tracker.update_state(losses["energy"])
        self.penalty_tracker.update_state(losses["penalty"])
        self.accuracy_tracker.update_state(labels, gamma)
        return {metric.name: metric.result() for metric in self.metrics}

    def build_for_training(self):
        """Create the model's and the optimizer's variables, eagerly.

        The optimizer gets slots for EVERY trainable variable, so the stage
        can change between ``fit`` calls. Called by ``make_train_function``;
        call it yourself before tracing ``train_step`` in your own loop.
        """
        if not self.built:
            self.build()
        if self.optimizer is not None and not self.optimizer.built:
            self.optimizer.build(self.trainable_variables)

    def compile(self, *args, jit_compile=False, **kwargs):
        """``keras.Model.compile`` with XLA off by default.

        Horovod's allreduce (called from ``gradient_hook``) cannot run inside
        an XLA cluster, and Keras' "auto" would turn XLA on for GPUs.
        """
        super().compile(*args, jit_compile=jit_compile, **kwargs)

    def compile_from_config(self, config):
        # Needed because compile() is custom: Keras then refuses to restore the
        # compile state (optimizer included) of a loaded .keras file itself.
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def make_train_function(self, force=False):
        # Keras defers building to the first trace, where the variables of an
        # unbuilt model would be created inside tf.function; build them first.
        self.build_for_training()
        return super().make_train_function(force=force)

    def train_step(self, *args):
        """One optimizer step, by the backend's module in ``rnngmm.training``.

        Under TensorFlow this is :func:`rnngmm.models.tf_step.train_step`
        (``tf.GradientTape``), under torch :func:`rnngmm.models.torch_step.train_step`.
        Keras' JAX trainer needs a stateless step with another signature:
        use :class:`rnngmm.models.jax_step.JaxTrainStep` there.
        """
        backend = keras.backend.backend()
        if backend not in _TRAIN_STEPS:
            raise NotImplementedError(
                f"RNNGMM.fit/train_on_batch are not available under the Keras {backend!r} "
                f"backend (only {sorted(_TRAIN_STEPS)}); under JAX use "
                "rnngmm.models.jax_step.JaxTrainStep")
        module = importlib.import_module(f"rnngmm.models.{_TRAIN_STEPS[backend]}")
        return module.train_step(self, *args)

    def test_step(self, data):
        inputs, labels, _ = keras.utils.unpack_x_y_sample_weight(data)
        losses, outputs = self.compute_losses(inputs, labels, training=False)
        return self.update_metrics(losses, labels, outputs["gamma"])


def chunk_reconstruction_errors(magnitudes, reconstruction, weights):
    """Per chunk ``sum(w (x - x_hat)^2) / sum(w)``; padding has w = 0.

    Parameters
    ----------
    magnitudes, reconstruction, weights : array_like, shape (B, T)

    Returns
    -------
    tensor (B,) float32
    """
    magnitudes = ops.cast(magnitudes, "float32")
    reconstruction = ops.cast(reconstruction, "float32")
    weights = ops.cast(weights, "float32")
    return (ops.sum(weights * ops.square(magnitudes - reconstruction), axis=-1)
            / ops.maximum(ops.sum(weights, axis=-1), _MIN_WEIGHT_SUM))


def weighted_reconstruction_error(magnitudes, reconstruction, weights):
    """Mean over chunks of :func:`chunk_reconstruction_errors` (scalar float32)."""
    return ops.mean(chunk_reconstruction_errors(magnitudes, reconstruction, weights))


def gmm_loss_terms(z, gamma, jitter):
    """Mean sample energy and covariance penalty of a batch, in float64.

    As training contracts the code, a batch covariance gets eigenvalues far
    below its largest ones; in float32 round-off then makes it indefinite and
    the Cholesky factor NaN (seen on CRTS after 23 epochs). The mixture is
    tiny (K x D x D), so it is fitted and evaluated in float64.

    Returns
    -------
    energy, penalty : scalar float32 tensors
    """
    z64, gamma64 = ops.cast(z, "float64"), ops.cast(gamma, "float64")
    phi, mu, cov = gmm.gmm_parameters(z64, gamma64)
    energy = ops.mean(gmm.sample_energy(z64, phi, mu, cov, jitter=jitter))
    penalty = gmm.covariance_diagonal_penalty(cov, jitter=jitter)
    return ops.cast(energy, "float32"), ops.cast(penalty, "float32")


def weighted_cross_entropy(labels, gamma, class_weights=None, label_smoothing=0.0):
    """Mean cross-entropy, each chunk weighted by its class's weight.

    Parameters
    ----------
    labels : array_like of int, shape (B,)
    gamma : array_like, shape (B, K)
        Class probabilities.
    class_weights : sequence of float, length K, optional
        None weights every chunk equally (the plain mean).
    label_smoothing : float
        ``eps`` in [0, 1): the target is ``(1 - eps)`` on the label plus
        ``eps / K`` on every class, so the network is not pushed to certainty
        (over-confident memberships make the mixture's rare components
        collapse onto few chunks).

    Returns
    -------
    scalar tensor (float32)
        ``sum(w[y] ce) / sum(w[y])`` over the batch.
    """
    per_chunk = keras.losses.sparse_categorical_crossentropy(labels, gamma)
    if label_smoothing:
        log_gamma = ops.log(ops.clip(ops.cast(gamma, "float32"), 1e-7, 1.0))
        per_chunk = ((1.0 - label_smoothing) * per_chunk
                     - label_smoothing * ops.mean(log_gamma, axis=-1))
    if class_weights is None:
        return ops.mean(per_chunk)
    weights = ops.take(ops.convert_to_tensor(list(class_weights), "float32"),
                       ops.cast(labels, "int32"))
    return ops.sum(weights * per_chunk) / ops.maximum(ops.sum(weights), _MIN_WEIGHT_SUM)
