"""The model's inference forward pass, compiled the way the Keras backend allows.

:func:`compiled_forward` returns ``forward(x, weights, supports) -> dict of
numpy arrays`` (the :data:`OUTPUTS`), cached on the model:

- TensorFlow: ``tf.function``, with XLA (``jit_compile``) when asked;
- JAX: ``jax.jit`` of a stateless call that takes the variables' current
  values as arguments, so weights changed after the first call are seen
  (a jitted stateful call would bake them in as constants); ``xla=False``
  runs it unjitted;
- torch (and any other backend): the eager model under ``torch.no_grad``;
  ``xla`` is ignored.

Keras and the backends are imported only when a forward pass is built, so
importing this module (as :mod:`rnngmm.inference` does) imports neither.
"""

import numpy as np

#: Outputs of the forward pass (``recon_error``: per-chunk weighted
#: reconstruction error, as in the training loss).
OUTPUTS = ("gamma", "z", "code", "recon_error")


def _outputs(model, x, weights, supports, call=None):
    """The :data:`OUTPUTS` of one batch (backend tensors)."""
    from rnngmm.models.rnngmm import chunk_reconstruction_errors

    inputs = {"x": x, "weights": weights, "supports": supports}
    outputs = call(inputs) if call else model(inputs, training=False)
    outputs = dict(outputs, recon_error=chunk_reconstruction_errors(
        x[..., 1], outputs["reconstruction"], weights))
    return {name: outputs[name] for name in OUTPUTS}


def _tensorflow_forward(model, xla):
    import tensorflow as tf

    # Each new batch shape costs one trace (and one XLA compilation).
    function = tf.function(lambda x, w, s: _outputs(model, x, w, s),
                           jit_compile=bool(xla), reduce_retracing=True)

    def forward(x, weights, supports):
        return {k: v.numpy() for k, v in function(x, weights, supports).items()}
    return forward


def _jax_forward(model, xla):
    import jax

    def pure(trainable, non_trainable, x, weights, supports):
        def call(inputs):
            return model.stateless_call(trainable, non_trainable, inputs, training=False)[0]
        return _outputs(model, x, weights, supports, call=call)

    function = jax.jit(pure) if xla else pure

    def forward(x, weights, supports):
        out = function([v.value for v in model.trainable_variables],
                       [v.value for v in model.non_trainable_variables],
                       x, weights, supports)
        return {k: np.asarray(v) for k, v in out.items()}
    return forward


def _eager_forward(model, xla):
    import keras
    ops = keras.ops
    if keras.backend.backend() == "torch":
        import torch
        no_grad = torch.no_grad
    else:
        import contextlib
        no_grad = contextlib.nullcontext

    def forward(x, weights, supports):
        with no_grad():
            out = _outputs(model, *(ops.convert_to_tensor(a) for a in (x, weights, supports)))
        return {k: ops.convert_to_numpy(v) for k, v in out.items()}
    return forward


_BUILDERS = {"tensorflow": _tensorflow_forward, "jax": _jax_forward}


def compiled_forward(model, xla=True):
    """The model's inference call for the current Keras backend (cached on it).

    Parameters
    ----------
    model : keras.Model
        Follows the model contract (dict inputs with ``x``, ``weights``,
        ``supports``; dict outputs with ``reconstruction``, ``code``, ``z``,
        ``gamma``).
    xla : bool
        Compile with XLA (TensorFlow: ``jit_compile``; JAX: ``jax.jit``);
        faster on CPU for inference (BENCHMARKS.md).

    Returns
    -------
    callable
        ``forward(x, weights, supports)`` on numpy arrays of one batch,
        returning a dict of numpy arrays keyed by :data:`OUTPUTS`.
    """
    import keras

    cache = model.__dict__.setdefault("_rnngmm_compiled_forward", {})
    if xla not in cache:
        builder = _BUILDERS.get(keras.backend.backend(), _eager_forward)
        cache[xla] = builder(model, bool(xla))
    return cache[xla]
