"""Process topology for distributed runs, with a single-process fallback.

``Dist`` hides whether horovod (training) or plain mpi4py (prepare, score,
flag) is in use. Nothing here imports TensorFlow unless horovod is asked for.
"""

import os
from dataclasses import dataclass, field

import numpy as np


def _launched_with_several_ranks():
    for var in ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "SLURM_NTASKS",
                "HOROVOD_SIZE"):
        value = os.environ.get(var)
        if value and value.isdigit() and int(value) > 1:
            # SLURM_NTASKS is set in a batch script's shell too; only trust it in a step.
            if var == "SLURM_NTASKS" and "SLURM_STEP_ID" not in os.environ:
                continue
            return True
    return False


def _launched_with_gloo():
    """True under ``horovodrun --gloo`` (its rendezvous server is advertised)."""
    return "HOROVOD_GLOO_RENDEZVOUS_ADDR" in os.environ


@dataclass
class Dist:
    """Rank, size and collectives of the current job.

    Attributes
    ----------
    rank, size, local_rank, local_size : int
    backend : str
        ``"single"``, ``"mpi"`` (mpi4py) or ``"horovod"``.
    """

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    local_size: int = 1
    backend: str = "single"
    comm: object = field(default=None, repr=False)

    @property
    def is_root(self):
        """True on the rank that writes files and prints progress."""
        return self.rank == 0

    def shard(self, n_items):
        """Indices of ``range(n_items)`` owned by this rank (contiguous blocks)."""
        bounds = np.linspace(0, n_items, self.size + 1).round().astype(int)
        return np.arange(bounds[self.rank], bounds[self.rank + 1])

    def barrier(self):
        if self.comm is not None:
            self.comm.Barrier()

    def gather(self, obj):
        """Gather python objects on rank 0 (list there, None elsewhere)."""
        if self.comm is None:
            return [obj]
        return self.comm.gather(obj, root=0)

    def bcast(self, obj):
        """Broadcast a python object from rank 0."""
        if self.comm is None:
            return obj
        return self.comm.bcast(obj, root=0)

    def allreduce_sum(self, array):
        """Element-wise sum of a numpy array over ranks."""
        array = np.asarray(array, dtype=np.float64)
        if self.comm is None:
            return array
        from mpi4py import MPI
        out = np.empty_like(array)
        self.comm.Allreduce(array, out, op=MPI.SUM)
        return out

    def abort(self, code=1):
        """Kill every rank (used when one rank fails, so none hangs)."""
        if self.comm is not None:
            self.comm.Abort(code)
        raise SystemExit(code)


def init_mpi():
    """``Dist`` over mpi4py when launched with several ranks, else single."""
    if not _launched_with_several_ranks():
        return Dist()
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
    if comm.Get_size() == 1:
        return Dist()
    local = comm.Split_type(MPI.COMM_TYPE_SHARED)
    return Dist(comm.Get_rank(), comm.Get_size(), local.Get_rank(),
                local.Get_size(), "mpi", comm)


def init_horovod():
    """``Dist`` over horovod (sharing MPI's world communicator with mpi4py).

    Falls back to a single process when horovod is not installed or only one
    rank was launched. Pins one GPU per local rank when GPUs exist.
    """
    if not _launched_with_several_ranks():
        return Dist()
    try:
        import horovod.tensorflow as hvd
    except ImportError:
        return Dist()
    comm = None
    if _launched_with_gloo():
        # horovodrun --gloo starts plain processes: there is no MPI world, and
        # handing horovod mpi4py's singleton world would make every rank size 1.
        hvd.init()
    else:
        try:
            from mpi4py import MPI
            hvd.init(comm=MPI.COMM_WORLD)
            comm = MPI.COMM_WORLD
        except Exception:  # horovod built without MPI support
            hvd.init()
    if hvd.size() == 1:
        return Dist()
    import tensorflow as tf
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        tf.config.set_visible_devices(gpus[hvd.local_rank() % len(gpus)], "GPU")
        for gpu in tf.config.get_visible_devices("GPU"):
            tf.config.experimental.set_memory_growth(gpu, True)
    return Dist(hvd.rank(), hvd.size(), hvd.local_rank(), hvd.local_size(),
                "horovod", comm)
