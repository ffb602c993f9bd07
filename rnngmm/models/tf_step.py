"""The TensorFlow training step of :class:`rnngmm.models.RNNGMM`.

``RNNGMM.train_step`` hands over to :func:`train_step` under the TensorFlow
backend, so ``model.fit`` (and the horovod-averaged training of
:mod:`rnngmm.training.loop`) keep one ``tf.GradientTape`` step while
``rnngmm.models`` itself imports no TensorFlow. The model's
``gradient_hook`` (e.g. :meth:`rnngmm.training.distributed.Collectives.gradient_hook`,
a horovod allreduce of each gradient) runs between the tape and the
optimizer, inside the traced step.
"""

import keras
import tensorflow as tf


def train_step(model, data):
    """One optimizer step of ``model``'s current stage on ``data``.

    Parameters
    ----------
    model : rnngmm.models.RNNGMM
        Compiled (it has an optimizer).
    data : tuple
        ``(inputs, labels)`` or ``(inputs, labels, sample_weight)`` as Keras
        hands it to ``train_step`` (sample weights are not used).

    Returns
    -------
    dict
        The model's metrics after the step (``loss``, ``recon``, ``ce``,
        ``energy``, ``penalty``, ``accuracy``).
    """
    inputs, labels, _ = keras.utils.unpack_x_y_sample_weight(data)
    with tf.GradientTape() as tape:
        losses, outputs = model.compute_losses(inputs, labels, training=True)
        scaled_loss = model.optimizer.scale_loss(losses["loss"])
    # Read after the forward pass, which builds an unbuilt model.
    variables = model.stage_variables
    grads = tape.gradient(scaled_loss, variables)
    grads = model.gradient_hook(list(grads))
    model.optimizer.apply(grads, variables)
    return model.update_metrics(losses, labels, outputs["gamma"])
