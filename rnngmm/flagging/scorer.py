"""Model scores of chunks, and their reduction to one result per object.

Aggregation over an object's chunks
-----------------------------------
An object longer than ``n_max`` points is cut into several chunks; each chunk
gets class probabilities (the estimation network's ``gamma``) and a GMM
sample energy. The object's values are:

* class probability: the MEAN of its chunks' probability vectors (still sums
  to one; the predicted class is its argmax);
* energy: the MEAN of its chunks' energies.

The mean is chosen for the energy because the anomaly thresholds of the run
(``GMMNovelty.thresholds_``) are percentiles of the training objects' energies
aggregated exactly this way (``GMMNovelty.fit(..., groups=object_index)``);
comparing an object to thresholds built from another statistic (max, min, or
single chunks) would change the false-alarm rate the 80/95/99th percentiles
promise. The mean is also less sensitive than the max to one bad chunk (a gap
or a few outliers) while still rising when most of the curve is unusual.
"""

import numpy as np


def aggregate_by_object(prob, energy, object_index):
    """Mean class probability and mean energy of each object's chunks.

    The energy goes through :func:`rnngmm.novelty.aggregate_by_object`, the
    function that aggregated the training energies behind the thresholds.

    Parameters
    ----------
    prob : ndarray, shape (n_chunks, n_classes)
    energy : ndarray, shape (n_chunks,)
    object_index : ndarray of int, shape (n_chunks,)
        Owner of each chunk (any integers).

    Returns
    -------
    objects : ndarray of int
        The distinct owners, sorted.
    mean_prob : ndarray, shape (n_objects, n_classes)
    mean_energy : ndarray, shape (n_objects,)
    n_chunks : ndarray of int64, shape (n_objects,)
    """
    from ..novelty import aggregate_by_object as mean_by_object
    prob = np.asarray(prob, np.float64)
    object_index = np.asarray(object_index)
    objects, mean_energy = mean_by_object(energy, object_index)
    mean_prob = np.stack([mean_by_object(prob[:, k], object_index)[1]
                          for k in range(prob.shape[1])], axis=1)
    n_chunks = np.unique(object_index, return_counts=True)[1].astype(np.int64)
    return objects, mean_prob.reshape(len(objects), prob.shape[1]), mean_energy, n_chunks


class EnergyCalibration:
    """Thresholds and percentiles of energies against a run's training energies.

    Parameters
    ----------
    novelty : rnngmm.novelty.GMMNovelty
        Fitted on the training set with per-object (mean) energies.
    """

    def __init__(self, novelty):
        self.novelty = novelty

    def thresholds(self, percentiles):
        """``{percentile: energy threshold}``; the run's stored thresholds
        when it has them, else the same percentile of its training energies."""
        stored = getattr(self.novelty, "thresholds_", {})
        return {float(p): float(stored.get(float(p), self.novelty.threshold(float(p))))
                for p in percentiles}

    def percentile_of(self, energy):
        """Percentage of training energies below each energy (0-100)."""
        return np.asarray(self.novelty.energy_percentile(energy), np.float64)


class ModelScorer:
    """Scores chunks with a trained run's network and GMM.

    Parameters
    ----------
    model : keras.Model
        The run's RNNGMM model.
    novelty : rnngmm.novelty.GMMNovelty
        The run's fitted GMM (energies and thresholds).
    batch_size : int
        Chunks per forward pass.
    """

    def __init__(self, model, novelty, batch_size=512):
        self.model = model
        self.novelty = novelty
        self.batch_size = int(batch_size)
        self.n_classes = int(np.asarray(novelty.phi_).shape[0])

    def score(self, chunks):
        """Class probabilities and energies of ``chunks``.

        Returns
        -------
        dict
            ``"prob"`` (n_chunks, n_classes) and ``"energy"`` (n_chunks,).
        """
        from ..inference import predict_chunks
        outputs = predict_chunks(self.model, chunks, batch_size=self.batch_size)
        energy = np.asarray(self.novelty.energy(outputs["z"]), np.float64)
        return {"prob": np.asarray(outputs["gamma"], np.float64), "energy": energy}
