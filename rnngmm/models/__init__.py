"""Keras models of the package; see docs/DESIGN.md "Model contract"."""

from .registry import MODELS, build_model
from .rnngmm import RNNGMM, STAGES

__all__ = ["MODELS", "RNNGMM", "STAGES", "build_model"]
