"""The cached estimation stage of sequential training.

In the "estimation" stage the autoencoder is frozen, so every chunk's
mixture input ``z`` (code, reconstruction features, supports) and its
reconstruction error never change. They are computed ONCE, on the one
scoring path (:func:`rnngmm.inference.predict_chunks`), each rank for its
own chunks, and the estimation network and mixture
terms train on these arrays: the same loss, batches and dropout seeds as the
uncached stage, without re-running the recurrent encoder and decoder at
every step. ``rnngmm train --no-cache_estimation`` keeps the old way.
"""

from dataclasses import dataclass

import numpy as np

from rnngmm.inference import predict_chunks


@dataclass
class CachedChunks:
    """Frozen-autoencoder outputs of labelled chunks, in the chunks' order.

    Attributes
    ----------
    z : ndarray (N, D) float32
    recon_error : ndarray (N,) float32
    object_index : ndarray (N,) int64
    labels : ndarray (N,) int32
    """

    z: np.ndarray
    recon_error: np.ndarray
    object_index: np.ndarray
    labels: np.ndarray

    def __len__(self):
        return len(self.labels)

    def take(self, indices):
        """The chunks at ``indices``."""
        return CachedChunks(self.z[indices], self.recon_error[indices],
                            self.object_index[indices], self.labels[indices])

    def inputs(self):
        """The model's (cached) input dict."""
        return {"z": self.z, "recon_error": self.recon_error}


def cache_chunks(model, part, collectives=None, batch_size=512):
    """:class:`CachedChunks` of a :class:`~rnngmm.training.data.LabelledChunks`.

    Each rank caches its own chunks (the ones it trains on); nothing is
    gathered. ``collectives`` is accepted for the callers' symmetry.
    """
    outputs = predict_chunks(model, part.chunks, batch_size=batch_size)
    z = np.asarray(outputs["z"], np.float32).reshape(len(part), model.z_size)
    recon = np.asarray(outputs["recon_error"], np.float32).reshape(len(part))
    return CachedChunks(z, recon, part.object_index, part.labels)
