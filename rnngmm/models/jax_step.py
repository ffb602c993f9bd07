"""A stateless JAX training step of :class:`rnngmm.models.RNNGMM`.

Under JAX, Keras variables cannot be changed inside ``jax.jit``: a step
takes the values of every variable and returns their new values. This module
serves measurements on machines without TensorFlow (``benchmarks/bench_model.py``);
the package's distributed training stays TensorFlow + horovod
(:mod:`rnngmm.models.tf_step`).

The step is ``jax.value_and_grad`` of the model's stage loss evaluated in a
``keras.StatelessScope`` (what ``keras.Model.stateless_call`` does, but
around :meth:`RNNGMM.compute_losses`, so the stage's frozen autoencoder and
its loss are the same as in the TensorFlow step), then the optimizer's
update in a second stateless scope (what ``Optimizer.stateless_apply``
does, restricted to the stage's variables, as the TensorFlow step applies
gradients only to them).
"""

import jax
import keras


def _values(variables):
    return [variable.value for variable in variables]


class JaxTrainStep:
    """Jitted, stateless training steps that carry the model's state between calls.

    Parameters
    ----------
    model : rnngmm.models.RNNGMM
        Compiled (it has an optimizer); its stage is read once, here.

    Notes
    -----
    The model's own variables are untouched until :meth:`write_back`.
    ``model.gradient_hook`` is applied to the stage's gradients inside the
    jitted step (identity by default).
    """

    def __init__(self, model):
        if model.optimizer is None:
            raise ValueError("JaxTrainStep needs a compiled model (model.optimizer is None)")
        model.build_for_training()
        self.model = model
        stage = {id(variable) for variable in model.stage_variables}
        self._stage = [v for v in model.trainable_variables if id(v) in stage]
        self._frozen = [v for v in model.trainable_variables if id(v) not in stage]
        self._non_trainable = list(model.non_trainable_variables)
        self._optimizer = list(model.optimizer.variables)
        self.state = tuple(_values(group) for group in (
            self._stage, self._frozen, self._non_trainable, self._optimizer))
        self._step = jax.jit(self._pure_step)

    def _loss(self, stage_values, frozen_values, non_trainable_values, inputs, labels):
        model = self.model
        mapping = (list(zip(self._stage, stage_values))
                   + list(zip(self._frozen, frozen_values))
                   + list(zip(self._non_trainable, non_trainable_values)))
        with keras.StatelessScope(state_mapping=mapping) as scope:
            losses, _ = model.compute_losses(inputs, labels, training=True)
            scaled = model.optimizer.scale_loss(losses["loss"])
        # Dropout advanced its seed generators: their new state is carried on.
        non_trainable_values = [scope.get_current_value(v) for v in self._non_trainable]
        return scaled, (losses, non_trainable_values)

    def _pure_step(self, state, inputs, labels):
        stage_values, frozen_values, non_trainable_values, optimizer_values = state
        (_, (losses, non_trainable_values)), grads = jax.value_and_grad(
            self._loss, has_aux=True)(stage_values, frozen_values, non_trainable_values,
                                      inputs, labels)
        grads = self.model.gradient_hook(list(grads))
        mapping = (list(zip(self._stage, stage_values))
                   + list(zip(self._optimizer, optimizer_values)))
        with keras.StatelessScope(state_mapping=mapping) as scope:
            self.model.optimizer.apply(grads, self._stage)
        stage_values = [scope.get_current_value(v) for v in self._stage]
        optimizer_values = [scope.get_current_value(v) for v in self._optimizer]
        return losses, (stage_values, frozen_values, non_trainable_values, optimizer_values)

    def __call__(self, inputs, labels):
        """One step on a batch; returns the stage's loss terms (JAX scalars).

        Parameters
        ----------
        inputs : dict
            ``x``, ``weights``, ``supports`` (see :class:`rnngmm.models.RNNGMM`).
        labels : array_like of int, shape (B,)
        """
        losses, self.state = self._step(self.state, inputs, labels)
        return losses

    def write_back(self):
        """Assign the carried values to the model's and the optimizer's variables."""
        groups = (self._stage, self._frozen, self._non_trainable, self._optimizer)
        for variables, values in zip(groups, self.state):
            for variable, value in zip(variables, values):
                variable.assign(value)
