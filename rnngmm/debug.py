"""Fault injection and inspection switches for the test suite: the only place
the package reads them.

They are environment variables, not flags, so that no job script can depend
on them, and a production run without them takes none of these branches.

``RNNGMM_FLAG_FAULT=<rank>:<kill|raise>:<n>``
    ``rnngmm flag``: that rank SIGKILLs itself (or raises) after writing
    ``n`` shards (tests of dead ranks and ``--resume``).
``RNNGMM_PREPARE_FAULT=<rank>:<kill|error|raise>:<stage>:<n>``
    ``rnngmm prepare``: that rank SIGKILLs itself (kill), or raises an
    InputError (error) or a RuntimeError (raise), at ``stage`` ``"join"``
    before joining block ``n``, or ``"block"`` before preparing its block
    ``n`` (tests that a killed prepare leaves no file that looks complete,
    and that one failing rank ends a multi-rank prepare).
``RNNGMM_DEBUG_SIGNAL_AT=<epoch>:<step>:<SIGNAME>``
    ``rnngmm train``: rank 0 sends itself a real signal after that step.
``RNNGMM_DEBUG_DUMP_WEIGHTS=<dir>``
    ``rnngmm train``: every rank writes its final weights to
    ``<dir>/weights-rank<r>.h5`` (the distributed tests compare them).
``RNNGMM_DEBUG_NO_AVERAGING=1``
    ``rnngmm train``: no gradient allreduce, to show what un-averaged
    training gives (the parity tests must then see different weights).
"""

import os
import signal
from rnngmm.errors import InputError
from rnngmm.io.atomic import atomic_path

FLAG_FAULT = "RNNGMM_FLAG_FAULT"
PREPARE_FAULT = "RNNGMM_PREPARE_FAULT"
SIGNAL_AT = "RNNGMM_DEBUG_SIGNAL_AT"
DUMP_WEIGHTS = "RNNGMM_DEBUG_DUMP_WEIGHTS"
NO_AVERAGING = "RNNGMM_DEBUG_NO_AVERAGING"


def flag_fault(rank, shards_written):
    """Fail on purpose when ``RNNGMM_FLAG_FAULT`` asks for it."""
    spec = os.environ.get(FLAG_FAULT)
    if not spec:
        return
    target, kind, after = spec.split(":")
    if int(target) != rank or shards_written != int(after):
        return
    if kind == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    raise RuntimeError(f"{FLAG_FAULT}: injected failure on rank {rank} "
                       f"after {shards_written} shards")


def prepare_fault(rank, stage, n):
    """Fail on purpose when ``RNNGMM_PREPARE_FAULT`` names this point."""
    spec = os.environ.get(PREPARE_FAULT)
    if not spec:
        return
    target, kind, at_stage, at = spec.split(":")
    if (int(target), at_stage, int(at)) != (rank, stage, n):
        return
    if kind == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    error = InputError if kind == "error" else RuntimeError
    raise error(f"{PREPARE_FAULT}: injected failure on rank {rank} at {stage} {n}")


def self_signal(epoch, step, rank):
    """Rank 0 sends itself the signal ``RNNGMM_DEBUG_SIGNAL_AT`` names, at that step."""
    spec = os.environ.get(SIGNAL_AT)
    if not spec or rank != 0:
        return
    at_epoch, at_step, name = spec.split(":")
    if (epoch, step) == (int(at_epoch), int(at_step)):
        os.kill(os.getpid(), getattr(signal, name))


def averaging_disabled():
    """True when ``RNNGMM_DEBUG_NO_AVERAGING=1``."""
    return os.environ.get(NO_AVERAGING) == "1"


def dump_weights(model, rank):
    """Write this rank's weights where ``RNNGMM_DEBUG_DUMP_WEIGHTS`` points, if set."""
    directory = os.environ.get(DUMP_WEIGHTS)
    if not directory:
        return
    import h5py
    import numpy as np

    os.makedirs(directory, exist_ok=True)
    with atomic_path(os.path.join(directory, f"weights-rank{rank}.h5")) as tmp:
        with h5py.File(tmp, "w") as f:
            for i, variable in enumerate(model.trainable_variables):
                f.create_dataset(f"{i:04d}", data=np.asarray(variable.numpy()))
