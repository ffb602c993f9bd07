"""rnngmm: recurrent autoencoder + GMM for variable-star classification and novelty detection."""

import os

__version__ = "0.1.0"

# TensorFlow's C++ start-up chatter (oneDNN, CPU features) buries the
# package's own messages; users can still set the variable themselves.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
