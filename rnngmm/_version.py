"""The package version, in one place that imports nothing.

Modules that record the version (datasets, run directories, flag tables) import
it from here, never from the package root, so no module depends on
``rnngmm/__init__.py``.
"""

__version__ = "0.1.0"
