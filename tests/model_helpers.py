"""A tiny model and synthetic chunks shared by the model and inference tests."""

import keras
import numpy as np
from keras import ops

from rnngmm.models.configs import get_config
from rnngmm.models import build_model

N_STEPS = 24
N_VALID = 20          # steps N_VALID.. of every chunk are padding


def sinusoid_chunks(n=64, seed=0):
    """Two classes of noisy sinusoids (slow and fast), right-padded."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    times = np.sort(rng.uniform(0, 4, (n, N_VALID)), axis=1)
    frequency = np.where(labels == 0, 0.5, 2.0)[:, None]
    magnitudes = np.sin(2 * np.pi * frequency * times + rng.uniform(0, 6, (n, 1)))
    magnitudes += rng.normal(scale=0.05, size=magnitudes.shape)
    magnitudes -= magnitudes.mean(1, keepdims=True)
    magnitudes /= magnitudes.std(1, keepdims=True)
    x = np.zeros((n, N_STEPS, 2), "float32")
    x[:, :N_VALID, 0] = np.diff(times, axis=1, prepend=times[:, :1])
    x[:, :N_VALID, 1] = magnitudes
    weights = np.zeros((n, N_STEPS), "float32")
    weights[:, :N_VALID] = 1.0
    supports = np.stack([rng.normal(15, 1, n), rng.uniform(0.1, 1, n),
                         np.log10(1 / frequency[:, 0])], axis=1).astype("float32")
    return {"x": x, "weights": weights, "supports": supports}, labels.astype("int32")


#: The model the other-backend checks compare with TensorFlow: no dropout (so
#: the two backends' random streams do not matter) and the shape statistics on
#: (their keras.ops maths must agree across backends too).
BACKEND_CHECK_MODEL = {"drop_frac": 0.0, "estnet_drop_frac": 0.0, "shape_harmonics": 2,
                       "period_folded": True}


def tiny_model(**overrides):
    keras.utils.set_random_seed(0)
    return build_model("rnngmm", **get_config("tiny", num_classes=2, **overrides))


def numpy_outputs(model, inputs):
    return {k: ops.convert_to_numpy(v) for k, v in model(inputs, training=False).items()}
