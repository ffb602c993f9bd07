"""rnngmm: recurrent autoencoder + GMM for variable-star classification and novelty detection.

``rnngmm.load_run(path)`` is the Python entry point (see :mod:`rnngmm.api`).
Nothing inside the package imports this module: the version lives in
:mod:`rnngmm._version`.
"""

from rnngmm._version import __version__
from rnngmm.log import quiet_tensorflow

# TensorFlow's C++ start-up chatter buries the package's own messages; a value
# the user set is kept.
quiet_tensorflow()


def load_run(run_dir):
    """Load a trained run directory; see :func:`rnngmm.api.load_run`.

    Its ``predict(...)`` classifies light curves (numpy arrays or astropy
    tables) and flags anomalies exactly as ``rnngmm flag`` does, and
    ``embed(...)`` returns their latent codes. Imported on first use, so
    ``import rnngmm`` does not start TensorFlow.
    """
    from rnngmm.api import load_run as _load_run
    return _load_run(run_dir)


__all__ = ["__version__", "load_run"]
