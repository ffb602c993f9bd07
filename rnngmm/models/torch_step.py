"""The PyTorch training step of :class:`rnngmm.models.RNNGMM`.

``RNNGMM.train_step`` hands over to :func:`train_step` under the torch
backend, so ``model.fit`` and ``model.train_on_batch`` work there as under
TensorFlow (the package's distributed training stays TensorFlow + horovod;
this step serves measurements on machines without TensorFlow). It follows
Keras' own torch trainer: gradients by ``backward()``, read from each
variable's tensor, applied without autograd.
"""

import keras
import torch


def train_step(model, data):
    """One optimizer step of ``model``'s current stage on ``data``.

    Parameters and return value as :func:`rnngmm.models.tf_step.train_step`.
    """
    inputs, labels, _ = keras.utils.unpack_x_y_sample_weight(data)
    model.zero_grad()
    losses, outputs = model.compute_losses(inputs, labels, training=True)
    model.optimizer.scale_loss(losses["loss"]).backward()
    variables = model.stage_variables
    # A variable of the stage the loss does not reach has no gradient (None),
    # which the optimizer skips, as TensorFlow's tape does.
    grads = model.gradient_hook([variable.value.grad for variable in variables])
    with torch.no_grad():
        model.optimizer.apply(grads, variables)
    return model.update_metrics(losses, labels, outputs["gamma"])
