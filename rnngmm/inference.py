"""Batched, compiled forward passes of a trained model over many chunks."""

import numpy as np

#: Outputs returned by :func:`predict_chunks`.
OUTPUTS = ("gamma", "z", "code")


def _compiled_forward(model, xla=True):
    """The model's inference call wrapped once in ``tf.function`` (cached on it).

    With ``xla`` the function is compiled by XLA (``jit_compile=True``): on a
    2-core CPU this scored the fiducial model 1.4x faster at batch 256
    (BENCHMARKS.md). Each new batch shape costs one compilation, which is why
    :func:`predict_chunks` only ever passes a few shapes.
    """
    cache = model.__dict__.setdefault("_rnngmm_compiled_forward", {})
    if xla not in cache:
        import tensorflow as tf

        @tf.function(jit_compile=bool(xla), reduce_retracing=True)
        def forward(x, weights, supports):
            outputs = model({"x": x, "weights": weights, "supports": supports},
                            training=False)
            return {name: outputs[name] for name in OUTPUTS}

        cache[xla] = forward
    return cache[xla]


def padded_batch_size(n, batch_size):
    """The batch shape used for ``n`` remaining chunks.

    Full batches use ``batch_size``; a last, smaller batch is padded up to the
    next power of two (at most ``batch_size``), so a run compiles at most
    ``log2(batch_size) + 1`` shapes however its batch sizes vary.
    """
    if n >= batch_size:
        return batch_size
    return min(batch_size, 1 << max(0, int(n - 1).bit_length()))


def predict_chunks(model, chunks, batch_size=512, xla=True):
    """Run ``model`` over ``chunks`` in batches of a few fixed shapes.

    Batches are padded (see :func:`padded_batch_size`) and the padding
    dropped from the outputs.

    Parameters
    ----------
    model : keras.Model
        Follows the model contract (dict inputs, dict outputs).
    chunks : rnngmm.preprocess.Chunks
    batch_size : int
    xla : bool
        Compile the forward pass with XLA (faster; one compilation per shape).

    Returns
    -------
    dict of ndarray
        ``gamma`` (N, K), ``z`` (N, D), ``code`` (N, E), float32.
    """
    forward = _compiled_forward(model, xla)
    n = len(chunks)
    pieces = {name: [] for name in OUTPUTS}
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        pad = padded_batch_size(stop - start, batch_size) - (stop - start)
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
