"""Streaming, sharded, resumable flagging of survey catalogs (``rnngmm flag``).

Modules, one job each:

``sources``   catalog rows + lazily read light curves (or a prepared dataset)
``stream``    bounded objects in flight: read -> clean/chunk -> batch -> score
``scorer``    model scores of chunks and their per-object aggregation (mean)
``results``   per-row results of a shard, and the shard's HDF5 file
``shards``    shard plan, completed-shard files and the ``--resume`` manifest
``progress``  progress lines on rank 0
``output``    the flag table (one row per catalog row) and its writers
``driver``    the job on one or many MPI ranks, with failure handling
"""

from rnngmm.flagging.driver import FlagJob, run_flagging

__all__ = ["FlagJob", "run_flagging"]
