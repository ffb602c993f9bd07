"""Building blocks of the RNN-GMM: encoder, decoder, error features, estimation net.

All layers are registered for ``.keras`` serialisation and take an explicit
boolean ``mask`` (``weights > 0``, right-padded) instead of relying on
implicit Keras masking. Recurrent defaults stay cuDNN-compatible
(``recurrent_dropout=0``, ``reset_after=True``, tanh/sigmoid).
"""

import keras
import numpy as np
from keras import ops

_RECURRENT = {
    "gru": keras.layers.GRU,
    "lstm": keras.layers.LSTM,
    "vanilla": keras.layers.SimpleRNN,
}

#: Guards square roots and divisions of the error features at zero norm.
_NORM_EPSILON = 1e-8


def _recurrent_layer(model_type, units, return_sequences, bidirectional, name):
    try:
        layer_class = _RECURRENT[model_type]
    except KeyError:
        raise ValueError(f"unknown recurrent model_type {model_type!r}; "
                         f"choose from {sorted(_RECURRENT)}") from None
    layer = layer_class(units, return_sequences=return_sequences, name=name)
    if bidirectional:
        layer = keras.layers.Bidirectional(layer, name=f"bi_{name}")
    return layer


@keras.saving.register_keras_serializable(package="rnngmm")
class RecurrentEncoder(keras.layers.Layer):
    """Stacked recurrent layers, then a linear dense layer to the code.

    Parameters
    ----------
    model_type : {"gru", "lstm", "vanilla"}
    size : int
        Units per recurrent layer.
    num_layers : int
    embedding : int
        Size of the code.
    drop_frac : float
        Dropout after each recurrent layer (only when training).
    bidirectional : bool

    Call arguments: ``x`` (B, T, F) and ``mask`` (B, T) bool; returns (B, embedding).
    """

    def __init__(self, model_type="gru", size=96, num_layers=2, embedding=16,
                 drop_frac=0.0, bidirectional=False, **kwargs):
        super().__init__(**kwargs)
        self.model_type = model_type
        self.size = int(size)
        self.num_layers = int(num_layers)
        self.embedding = int(embedding)
        self.drop_frac = float(drop_frac)
        self.bidirectional = bool(bidirectional)
        self.recurrent_layers = [
            _recurrent_layer(model_type, self.size, i < self.num_layers - 1,
                             self.bidirectional, name=f"encode_{i}")
            for i in range(self.num_layers)]
        self.dropouts = [keras.layers.Dropout(self.drop_frac, name=f"encode_drop_{i}")
                         for i in range(self.num_layers)]
        self.to_code = keras.layers.Dense(self.embedding, name="encoding")
        # The mask is consumed here, not propagated to later layers.
        self.supports_masking = True

    def call(self, x, mask=None, training=False):
        hidden = x
        for recurrent, dropout in zip(self.recurrent_layers, self.dropouts):
            hidden = recurrent(hidden, mask=mask, training=training)
            hidden = dropout(hidden, training=training)
        return self.to_code(hidden)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.embedding)

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        return {**super().get_config(), "model_type": self.model_type,
                "size": self.size, "num_layers": self.num_layers,
                "embedding": self.embedding, "drop_frac": self.drop_frac,
                "bidirectional": self.bidirectional}


@keras.saving.register_keras_serializable(package="rnngmm")
class RecurrentDecoder(keras.layers.Layer):
    """Reconstruct magnitudes from the code and the sampling times.

    The code is repeated over the chunk's steps and concatenated with the time
    lags (so the decoder knows when each point was taken), passed through
    stacked recurrent layers, and mapped to one magnitude per step.

    Parameters
    ----------
    model_type : {"gru", "lstm", "vanilla"}
    size : int
    num_layers : int
    drop_frac : float
    bidirectional : bool

    Call arguments: ``code`` (B, E), ``dt`` (B, T, 1), ``mask`` (B, T) bool;
    returns (B, T).
    """

    def __init__(self, model_type="gru", size=96, num_layers=2, drop_frac=0.0,
                 bidirectional=False, **kwargs):
        super().__init__(**kwargs)
        self.model_type = model_type
        self.size = int(size)
        self.num_layers = int(num_layers)
        self.drop_frac = float(drop_frac)
        self.bidirectional = bool(bidirectional)
        self.recurrent_layers = [
            _recurrent_layer(model_type, self.size, True, self.bidirectional,
                             name=f"decode_{i}")
            for i in range(self.num_layers)]
        self.dropouts = [keras.layers.Dropout(self.drop_frac, name=f"decode_drop_{i}")
                         for i in range(self.num_layers)]
        self.to_magnitude = keras.layers.Dense(1, name="time_dist")
        self.supports_masking = True

    def call(self, code, dt, mask=None, training=False):
        # Broadcasting against dt repeats the code over the (dynamic) steps.
        repeated = code[:, None, :] * ops.ones_like(dt[..., :1])
        hidden = ops.concatenate([repeated, ops.cast(dt, repeated.dtype)], axis=-1)
        for recurrent, dropout in zip(self.recurrent_layers, self.dropouts):
            hidden = recurrent(hidden, mask=mask, training=training)
            hidden = dropout(hidden, training=training)
        return ops.squeeze(self.to_magnitude(hidden), axis=-1)

    def compute_mask(self, *args, **kwargs):
        return None

    def get_config(self):
        return {**super().get_config(), "model_type": self.model_type,
                "size": self.size, "num_layers": self.num_layers,
                "drop_frac": self.drop_frac, "bidirectional": self.bidirectional}


@keras.saving.register_keras_serializable(package="rnngmm")
class ReconstructionFeatures(keras.layers.Layer):
    """Per-chunk reconstruction-error features (DAGMM), over real points only.

    Returns (B, 2) float32: the relative Euclidean distance
    ``||x - x_hat|| / ||x||`` and the cosine distance ``1 - cos(x, x_hat)``
    between the input magnitudes and their reconstruction. Norms are
    ``sqrt(sum + epsilon)`` so zero vectors give finite values and gradients.

    Call arguments: ``magnitudes`` (B, T), ``reconstruction`` (B, T),
    ``mask`` (B, T) bool.
    """

    def call(self, magnitudes, reconstruction, mask):
        magnitudes = ops.cast(magnitudes, "float32")
        reconstruction = ops.cast(reconstruction, "float32")
        valid = ops.cast(mask, "float32")
        original = magnitudes * valid
        rebuilt = reconstruction * valid

        def norm(values):
            return ops.sqrt(ops.sum(ops.square(values), axis=-1) + _NORM_EPSILON)

        relative_euclidean = norm(original - rebuilt) / norm(original)
        cosine = ops.sum(original * rebuilt, axis=-1) / (norm(original) * norm(rebuilt))
        return ops.stack([relative_euclidean, 1.0 - cosine], axis=-1)

    def compute_output_shape(self, magnitudes_shape, *args):
        return (magnitudes_shape[0], 2)


@keras.saving.register_keras_serializable(package="rnngmm")
class ShapeStatistics(keras.layers.Layer):
    """Per-chunk light-curve shape statistics from a harmonic fit at the period.

    A weighted least-squares Fourier series of ``harmonics`` terms is fitted
    to each chunk's standardised magnitudes against phase. Returns
    (B, 3 * harmonics + 1) float32, every entry O(1):

    - the amplitude of each harmonic over the root-sum-square of all of them
      (``harmonics`` values; the light curve's shape, not its size);
    - the fraction of the magnitudes' variance the series explains (near 0
      when the period does not fold the light curve);
    - cosine and sine of the phase differences ``phi_k - k phi_1`` for
      ``k >= 2``, times the relative amplitudes of harmonics k and 1
      (independent of the phase origin: they tell an eclipse from a
      pulsation, a rising branch from a falling one);
    - skewness and excess kurtosis of the magnitudes, as ``sign(v) log1p(|v|)``.

    These are the classical Fourier parameters of variable-star work, computed
    inside the model so that every chunk the network sees (cut copies of the
    augmentation included) gets them from its own points.

    Parameters
    ----------
    harmonics : int
        Fourier terms (>= 1).
    period_folded : bool
        True when the input lags are phase lags (``train --period_fold``);
        False when they are in days, folded here on ``10 ** log10_period``.

    Call arguments: ``x`` (B, T, 2) raw network input (lag, standardised
    magnitude), ``weights`` (B, T) (0 = padding), ``log10_period`` (B,).
    """

    #: Ridge term of the normal equations, relative to the chunk's weight sum:
    #: keeps the fit finite when the points cover little of the phase.
    RIDGE = 1e-3

    def __init__(self, harmonics=3, period_folded=True, **kwargs):
        super().__init__(**kwargs)
        if int(harmonics) < 1:
            raise ValueError(f"harmonics must be >= 1 (got {harmonics!r})")
        self.harmonics = int(harmonics)
        self.period_folded = bool(period_folded)

    def call(self, x, weights, log10_period):
        x = ops.cast(x, "float32")
        w = ops.cast(weights, "float32")
        positions = ops.cumsum(x[..., 0], axis=-1)
        if not self.period_folded:
            period = ops.power(10.0, ops.cast(log10_period, "float32"))
            positions = positions / period[:, None]
        angle = 2.0 * np.pi * (positions - ops.floor(positions))
        orders = ops.arange(1, self.harmonics + 1, dtype="float32")
        kx = angle[..., None] * orders                      # (B, T, K)
        design = ops.concatenate([ops.ones_like(angle)[..., None], ops.cos(kx), ops.sin(kx)],
                                 axis=-1)                   # (B, T, 2K + 1)
        mag = x[..., 1]
        total = ops.sum(w, axis=-1)
        weighted = design * w[..., None]
        normal = ops.einsum("btp,btq->bpq", weighted, design)
        identity = ops.eye(2 * self.harmonics + 1)[None]
        ridge = (self.RIDGE * total[:, None, None] + 1e-6) * identity
        coefficients = ops.solve(normal + ridge,
                                 ops.einsum("btp,bt->bp", weighted, mag)[..., None])[..., 0]
        k = self.harmonics
        cos_terms, sin_terms = coefficients[:, 1:k + 1], coefficients[:, k + 1:]
        amplitudes = ops.sqrt(ops.square(cos_terms) + ops.square(sin_terms) + 1e-12)
        relative = amplitudes / ops.sqrt(ops.sum(ops.square(amplitudes), axis=-1,
                                                 keepdims=True))
        safe_total = ops.maximum(total, 1e-6)
        mean = ops.sum(w * mag, axis=-1) / safe_total
        centred = (mag - mean[:, None]) * ops.cast(w > 0, "float32")
        variance = ops.maximum(ops.sum(w * ops.square(centred), axis=-1) / safe_total, 1e-12)
        residual = mag - ops.einsum("btp,bp->bt", design, coefficients)
        residual_variance = ops.sum(w * ops.square(residual), axis=-1) / safe_total
        explained = ops.clip(1.0 - residual_variance / variance, 0.0, 1.0)
        phases = ops.arctan2(sin_terms, cos_terms)          # A cos(k a - phi_k)
        difference = phases[:, 1:] - orders[1:] * phases[:, :1]
        skewness = ops.sum(w * centred ** 3, axis=-1) / safe_total / variance ** 1.5
        kurtosis = ops.sum(w * centred ** 4, axis=-1) / safe_total / ops.square(variance) - 3.0

        def signed_log(values):
            return ops.sign(values) * ops.log1p(ops.abs(values))

        # Scaled by the relative amplitudes of both harmonics involved: phi_k is
        # undefined where harmonic k vanishes and phi_1 where the fundamental
        # does (an EW folded at its orbital period); the product stays
        # continuous there, and round-off in phi_1 cannot swing it.
        scale = relative[:, 1:] * relative[:, :1]
        return ops.concatenate([relative, explained[:, None], scale * ops.cos(difference),
                                scale * ops.sin(difference), signed_log(skewness)[:, None],
                                signed_log(kurtosis)[:, None]], axis=-1)

    @property
    def output_size(self):
        """Statistics per chunk: ``3 * harmonics + 1``."""
        return 3 * self.harmonics + 1

    def compute_output_shape(self, x_shape, *args):
        return (x_shape[0], self.output_size)

    def get_config(self):
        return {**super().get_config(), "harmonics": self.harmonics,
                "period_folded": self.period_folded}


@keras.saving.register_keras_serializable(package="rnngmm")
class EstimationNetwork(keras.layers.Layer):
    """Dense tanh layers with dropout, then a softmax membership ``gamma``.

    Parameters
    ----------
    estnet_size : list of int
        Units of each hidden tanh layer.
    estnet_drop_frac : float
        Dropout after each hidden layer (only when training).
    num_classes : int
        Mixture components (one per known class).

    Call arguments: ``z`` (B, D); returns (B, num_classes) float32 rows
    summing to 1.
    """

    def __init__(self, estnet_size=(16,), estnet_drop_frac=0.5, num_classes=8,
                 activation="tanh", **kwargs):
        super().__init__(**kwargs)
        self.activation = str(activation)
        self.estnet_size = [int(n) for n in estnet_size]
        self.estnet_drop_frac = float(estnet_drop_frac)
        self.num_classes = int(num_classes)
        self.hidden_layers = [keras.layers.Dense(n, activation=self.activation, name=f"estnet_{i}")
                              for i, n in enumerate(self.estnet_size)]
        self.dropouts = [keras.layers.Dropout(self.estnet_drop_frac, name=f"estnet_drop_{i}")
                         for i in range(len(self.estnet_size))]
        # Softmax in float32 even under a mixed-precision policy.
        self.membership = keras.layers.Dense(self.num_classes, activation="softmax",
                                             dtype="float32", name="gamma")

    def call(self, z, training=False):
        hidden = z
        for dense, dropout in zip(self.hidden_layers, self.dropouts):
            hidden = dropout(dense(hidden), training=training)
        return self.membership(hidden)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_classes)

    def get_config(self):
        return {**super().get_config(), "estnet_size": list(self.estnet_size),
                "estnet_drop_frac": self.estnet_drop_frac, "activation": self.activation,
                "num_classes": self.num_classes}
