"""The Gaussian mixture of the WHOLE training set, after training.

Each rank runs the trained model over its own training chunks; the
mixture's sufficient statistics are summed over ranks, so the result does not
depend on the batch size or the number of ranks (up to float round-off).
Training energies are per object (mean over its chunks), like scoring's.
"""

import numpy as np
from keras import ops

from rnngmm.inference import mean_by_object, predict_chunks
from rnngmm.models import gmm
from rnngmm.novelty.mixture import GMMNovelty


def fit_training_gmm(model, train, collectives, *, batch_size=512, jitter=1e-6,
                     novelty_score="energy"):
    """Fit :class:`rnngmm.novelty.mixture.GMMNovelty` over every training chunk.

    Parameters
    ----------
    model : keras.Model
    train : rnngmm.training.data.LabelledChunks
        This rank's training chunks (each rank holds its own share).
    collectives : rnngmm.training.distributed.Collectives
    batch_size : int
    jitter : float
        Covariance jitter, as in the model.
    novelty_score : str
        The run's novelty score (:data:`rnngmm.novelty.mixture.NOVELTY_SCORES`).

    Returns
    -------
    GMMNovelty
        Identical on every rank.
    """
    mine = train
    outputs = predict_chunks(model, mine.chunks, batch_size=batch_size)
    z = outputs["z"].astype(np.float64)
    gamma = outputs["gamma"].astype(np.float64)
    n_total = collectives.allreduce_sum([len(z)])[0]
    # Statistics of z minus its global mean: the covariance is shift-invariant
    # and the raw second moment of uncentred z (mean magnitudes ~15) loses digits.
    shift = collectives.allreduce_sum(z.sum(axis=0)) / n_total
    stats = [ops.convert_to_numpy(s) for s in gmm.gmm_statistics(z - shift, gamma)]
    if len(z) == 0:
        stats = [np.zeros_like(s) for s in stats]
    stats = [collectives.allreduce_sum(s) for s in stats]
    phi, mu, cov = (np.asarray(ops.convert_to_numpy(a), np.float64)
                    for a in gmm.gmm_parameters_from_statistics(*stats))
    mixture = GMMNovelty.from_parameters(phi, mu + shift, cov, jitter=jitter,
                                         novelty_score=novelty_score)
    energy = mixture.energy(z) if len(z) else np.zeros(0)
    # Thresholds are percentiles of per-object means, as every score is; the
    # class-fair score ranks them within each object's predicted class.
    all_energy = collectives.allgather(energy)
    all_gamma = collectives.allgather(gamma.reshape(len(z), -1))
    all_objects = collectives.allgather(mine.object_index.astype(np.int64))
    object_gamma = mean_by_object(all_gamma, all_objects)[1]
    mixture.set_train_energy(mean_by_object(all_energy, all_objects)[1],
                             np.argmax(object_gamma, axis=1), np.max(object_gamma, axis=1))
    return mixture
