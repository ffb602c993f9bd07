"""Streaming, sharded, resumable flagging of survey catalogs (``rnngmm flag``).

Modules, one job each:

``job``           ``FlagConfig`` and the ``rnngmm flag`` / ``embed`` entry point
``sources``       catalog rows + lazily read light curves (or a prepared dataset)
``stream``        bounded objects in flight: read -> clean/chunk -> batch -> score
``prefetch``      the reader thread and its bounded queue
``scorer``        model scores of chunks and their per-object aggregation (mean)
``results``       per-row results of a shard, and the shard's HDF5 file
``shards``        shard plan, completed-shard files and the ``--resume`` manifest
``catalog_pass``  ``--calibrate catalog`` / ``--estimate_priors``: the pass over scores
``output``        the flag table (one row per catalog row) and its writers
``table``         the flag table read back, and the metadata flag records in it
``assemble``      the output from the shards, one shard at a time
``driver``        the job on one or many MPI ranks, with failure handling

``FlagJob`` and ``run_flagging`` are imported from :mod:`.driver` on first
use, so that reading a flag table (:mod:`.table`) does not import the model
stack (Keras, TensorFlow) that scoring needs.
"""

__all__ = ["FlagJob", "run_flagging"]


def __getattr__(name):
    if name in __all__:
        from rnngmm.flagging import driver
        return getattr(driver, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
