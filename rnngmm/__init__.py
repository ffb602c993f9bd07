"""rnngmm: recurrent autoencoder + GMM for variable-star classification and novelty detection."""

import os

__version__ = "0.1.0"

# TensorFlow's C++ start-up chatter (oneDNN, CPU features) buries the
# package's own messages; users can still set the variable themselves.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def load_run(run_dir):
    """Load a trained run directory; see :class:`rnngmm.runs.LoadedRun`.

    Its ``predict(...)`` classifies light curves (numpy arrays or astropy
    tables) and flags anomalies exactly as ``rnngmm flag`` does, and
    ``embed(...)`` returns their latent codes.
    """
    from .runs import load_run as _load_run
    return _load_run(run_dir)
