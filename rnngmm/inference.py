"""Batched, compiled forward passes of a trained model over many chunks."""

import numpy as np

#: Outputs returned by :func:`predict_chunks`.
OUTPUTS = ("gamma", "z", "code")


def _compiled_forward(model):
    """The model's inference call wrapped once in ``tf.function`` (cached on it)."""
    forward = getattr(model, "_rnngmm_compiled_forward", None)
    if forward is None:
        import tensorflow as tf

        @tf.function(reduce_retracing=True)
        def forward(x, weights, supports):
            outputs = model({"x": x, "weights": weights, "supports": supports},
                            training=False)
            return {name: outputs[name] for name in OUTPUTS}

        model._rnngmm_compiled_forward = forward
    return forward


def predict_chunks(model, chunks, batch_size=256):
    """Run ``model`` over ``chunks`` in fixed-size batches.

    The last batch is padded to ``batch_size`` (and the padding dropped), so
    the compiled function is traced once per chunk length.

    Parameters
    ----------
    model : keras.Model
        Follows the model contract (dict inputs, dict outputs).
    chunks : rnngmm.preprocess.Chunks
    batch_size : int

    Returns
    -------
    dict of ndarray
        ``gamma`` (N, K), ``z`` (N, D), ``code`` (N, E), float32.
    """
    forward = _compiled_forward(model)
    n = len(chunks)
    pieces = {name: [] for name in OUTPUTS}
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        pad = batch_size - (stop - start) if n > batch_size else 0
        arrays = []
        for array in (chunks.x, chunks.weights, chunks.supports):
            block = array[start:stop]
            if pad:
                block = np.concatenate([block, np.repeat(block[-1:], pad, axis=0)])
            arrays.append(block)
        outputs = forward(*arrays)
        for name in OUTPUTS:
            pieces[name].append(np.asarray(outputs[name])[:stop - start])
    if n == 0:
        sizes = _output_sizes(model)
        return {name: np.zeros((0, sizes[name]), np.float32) for name in OUTPUTS}
    return {name: np.concatenate(parts).astype(np.float32) for name, parts in pieces.items()}


def _output_sizes(model):
    hparams = getattr(model, "hparams", {})
    embedding = int(hparams.get("embedding", 0))
    return {"gamma": int(hparams.get("num_classes", 0)),
            "z": int(getattr(model, "z_size", embedding)), "code": embedding}
