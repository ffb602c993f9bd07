"""Keras models of the package; see docs/DESIGN.md "Model contract"."""

from rnngmm.models.registry import MODELS, build_model
from rnngmm.models.rnngmm import RNNGMM, STAGES

__all__ = ["MODELS", "RNNGMM", "STAGES", "build_model"]
