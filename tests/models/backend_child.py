"""Run the tiny model's forward pass and one training step under ``KERAS_BACKEND``.

Used by ``test_backends.py`` in a separate interpreter that has JAX or torch
(and no need for TensorFlow)::

    KERAS_BACKEND=jax PYTHONPATH=<repo>:<repo>/tests python backend_child.py IN.npz OUT.npz STAGE

``IN.npz`` holds the model's weights (``w0``, ``w1``, ... in ``model.weights``
order), the inputs (``x``, ``weights``, ``supports``), ``labels`` and the
SGD learning rate ``lr``. ``OUT.npz`` gets the forward outputs, the step's
loss and the weights after the step, and which of tensorflow, horovod,
mpi4py the process imported.
"""

import sys

import keras
import numpy as np

from model_helpers import BACKEND_CHECK_MODEL, tiny_model
from rnngmm.inference import predict_chunks
from rnngmm.lightcurves.preprocess import Chunks

FORBIDDEN = ("tensorflow", "horovod", "mpi4py")


def main(source, target, stage):
    with np.load(source, allow_pickle=False) as data:
        given = {key: data[key] for key in data.files}
    model = tiny_model(**BACKEND_CHECK_MODEL)
    model.build()
    model.set_weights([given[f"w{i}"] for i in range(len(model.weights))])
    inputs = {key: given[key] for key in ("x", "weights", "supports")}
    out = predict_chunks(model, Chunks(inputs["x"], inputs["weights"], inputs["supports"]),
                         batch_size=16)
    model.compile(optimizer=keras.optimizers.SGD(float(given["lr"])))
    model.stage = stage
    if keras.backend.backend() == "jax":
        from rnngmm.models.jax_step import JaxTrainStep
        step = JaxTrainStep(model)
        loss = float(step(inputs, given["labels"])["loss"])
        step.write_back()
    else:
        loss = float(model.train_on_batch(inputs, given["labels"], return_dict=True)["loss"])
    after = {f"after{i}": keras.ops.convert_to_numpy(w) for i, w in enumerate(model.weights)}
    imported = np.array([name in sys.modules for name in FORBIDDEN])
    np.savez(target, loss=loss, imported=imported, **out, **after)


if __name__ == "__main__":
    main(*sys.argv[1:4])
