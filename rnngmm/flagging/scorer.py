from rnngmm.inference import score_chunks
"""A trained run's scorer of chunks, as the flagging stream uses it."""


class ModelScorer:
    """Scores chunks with a trained run's network and mixture.

    A thin holder of :func:`rnngmm.inference.score_chunks`'s arguments, so
    the stream (and its tests) need only ``n_classes`` and ``score(chunks)``.

    Parameters
    ----------
    model : keras.Model
        The run's RNNGMM model.
    novelty : rnngmm.novelty.mixture.GMMNovelty
        The run's fitted mixture.
    batch_size : int
        Chunks per forward pass.
    """

    def __init__(self, model, novelty, batch_size=512):
        import numpy as np
        self.model = model
        self.novelty = novelty
        self.batch_size = int(batch_size)
        self.n_classes = int(np.asarray(novelty.phi_).shape[0])

    def score(self, chunks):
        """:class:`rnngmm.inference.ChunkScores` of ``chunks``."""
        return score_chunks(self.model, self.novelty, chunks, batch_size=self.batch_size)
