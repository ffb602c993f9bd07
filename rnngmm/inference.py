"""The one scoring path: chunks -> network outputs -> energies -> per object.

Every consumer of a trained model goes through here: the whole-training-set
mixture fit (``training/gmm_fit.py``), ``rnngmm score``, ``rnngmm flag``,
leave-one-class-out (through score) and the Python API (``rnngmm.rundir``)::

    predict_chunks(model, chunks)          -> gamma, z, code per chunk
    score_chunks(model, novelty, chunks)   -> ChunkScores (+ energy per chunk)
    aggregate_objects(scores, object_index)-> ObjectScores (mean over each object)

Aggregation over an object's chunks is the MEAN (:func:`mean_by_object`),
for class probabilities, energies and codes alike. The mean is chosen for
the energy because the run's anomaly thresholds are percentiles of the
training objects' energies aggregated exactly this way; any other statistic
would change the false-alarm rate the percentiles promise. It is also less
sensitive than the max to one bad chunk.

The forward pass is compiled for the Keras backend in use (:mod:`rnngmm.models.forward`);
this module imports Keras and the backend only when one is built.
"""

from dataclasses import dataclass

import numpy as np

from rnngmm.models.forward import OUTPUTS, compiled_forward


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
    chunks : rnngmm.lightcurves.preprocess.Chunks
    batch_size : int
    xla : bool
        Compile the forward pass with XLA (faster; one compilation per shape;
        see :func:`rnngmm.models.forward.compiled_forward` for each backend).

    Returns
    -------
    dict of ndarray
        ``gamma`` (N, K), ``z`` (N, D), ``code`` (N, E), ``recon_error`` (N,),
        float32.
    """
    forward = compiled_forward(model, xla)
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
            pieces[name].append(outputs[name][:stop - start])
    if n == 0:
        sizes = _output_sizes(model)
        return {name: np.zeros((0,) + ((sizes[name],) if name in sizes else ()), np.float32)
                for name in OUTPUTS}
    return {name: np.concatenate(parts).astype(np.float32) for name, parts in pieces.items()}


def _output_sizes(model):
    hparams = getattr(model, "hparams", {})
    embedding = int(hparams.get("embedding", 0))
    return {"gamma": int(hparams.get("num_classes", 0)),
            "z": int(getattr(model, "z_size", embedding)), "code": embedding}


def mean_by_object(values, object_index):
    """Mean of per-chunk ``values`` over the chunks of each object.

    Parameters
    ----------
    values : array_like, shape (N,) or (N, k)
    object_index : array_like of int, shape (N,)
        Object of each chunk (any integers).

    Returns
    -------
    objects : ndarray of int64, shape (M,)
        Sorted distinct object indices.
    means : ndarray of float64, shape (M,) or (M, k)
    counts : ndarray of int64, shape (M,)
        Chunks per object.
    """
    values = np.asarray(values, dtype=np.float64)
    object_index = np.asarray(object_index, dtype=np.int64).ravel()
    if len(values) != len(object_index):
        raise ValueError(f"{len(values)} values but {len(object_index)} object indices")
    objects, inverse, counts = np.unique(object_index, return_inverse=True,
                                         return_counts=True)
    sums = np.zeros((len(objects),) + values.shape[1:], dtype=np.float64)
    np.add.at(sums, inverse, values)
    shape = (-1,) + (1,) * (values.ndim - 1)
    return objects, sums / counts.reshape(shape), counts.astype(np.int64)


@dataclass
class ChunkScores:
    """What a trained run says about each chunk.

    Attributes
    ----------
    gamma : ndarray (N, K) float64
        Class probabilities (the estimation network's softmax).
    z : ndarray (N, D) float32
        Mixture input: code, reconstruction features, supports.
    code : ndarray (N, E) float32
        Latent code.
    energy : ndarray (N,) float64
        Sample energy under the run's mixture (HIGHER = more anomalous).
    recon_error : ndarray (N,) float32, optional
        Weighted reconstruction error of the chunk (as in the training loss).
    """

    gamma: np.ndarray
    z: np.ndarray
    code: np.ndarray
    energy: np.ndarray
    recon_error: np.ndarray = None

    def __len__(self):
        return len(self.gamma)


@dataclass
class ObjectScores:
    """Per-object means of :class:`ChunkScores`.

    Attributes
    ----------
    objects : ndarray of int64 (M,)
        The distinct object indices, sorted.
    prob : ndarray (M, K)
        Mean class probability (still sums to one; argmax = predicted class).
    energy : ndarray (M,)
        Mean chunk energy (HIGHER = more anomalous), comparable with the
        run's thresholds.
    code : ndarray (M, E)
        Mean latent code.
    n_chunks : ndarray of int64 (M,)
    """

    objects: np.ndarray
    prob: np.ndarray
    energy: np.ndarray
    code: np.ndarray
    n_chunks: np.ndarray


def score_chunks(model, novelty, chunks, batch_size=512, xla=True):
    """Network outputs and mixture energies of ``chunks``.

    Parameters
    ----------
    model : keras.Model
    novelty : rnngmm.novelty.mixture.GMMNovelty
        The run's whole-training-set mixture.
    chunks : rnngmm.lightcurves.preprocess.Chunks
    batch_size : int
    xla : bool

    Returns
    -------
    ChunkScores
    """
    outputs = predict_chunks(model, chunks, batch_size=batch_size, xla=xla)
    z = outputs["z"]
    energy = (np.asarray(novelty.energy(z), np.float64) if len(z)
              else np.zeros(0, np.float64))
    return ChunkScores(np.asarray(outputs["gamma"], np.float64), z, outputs["code"], energy,
                       outputs["recon_error"])


def aggregate_objects(scores, object_index):
    """Per-object means (:func:`mean_by_object`) of chunk scores.

    Parameters
    ----------
    scores : ChunkScores
    object_index : array_like of int, shape (N,)

    Returns
    -------
    ObjectScores
    """
    objects, prob, counts = mean_by_object(scores.gamma, object_index)
    _, energy, _ = mean_by_object(scores.energy, object_index)
    _, code, _ = mean_by_object(scores.code, object_index)
    k = np.shape(scores.gamma)[1] if np.ndim(scores.gamma) == 2 else 0
    e = np.shape(scores.code)[1] if np.ndim(scores.code) == 2 else 0
    return ObjectScores(objects, prob.reshape(len(objects), k), energy,
                        code.reshape(len(objects), e), counts)
