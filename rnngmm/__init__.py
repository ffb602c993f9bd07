"""rnngmm: recurrent autoencoder + GMM for variable-star classification and novelty detection."""

__version__ = "0.1.0"
