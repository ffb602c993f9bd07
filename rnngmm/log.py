"""Messages: the ``rnngmm`` logger tree, configured once by the CLI.

Library modules log to ``logging.getLogger(__name__)`` and never print;
:func:`configure` (called by ``rnngmm.cli.main``) decides what reaches the
terminal or the SLURM log:

- informational lines from rank 0 only (every rank with ``--log_all_ranks``,
  each line then prefixed ``[rank r]``); warnings and errors from every rank;
- ``--quiet``: warnings and errors only; ``--verbose``: debug lines too, and
  TensorFlow's own C++ start-up lines (silenced by default, see
  :func:`quiet_tensorflow`).

Informational lines go to stdout, warnings and errors to stderr, plain text
with no colours or progress bars, so job logs stay readable.
"""

import logging
import os
import re
import sys

#: Environment variables that carry an MPI rank before MPI is initialised.
_RANK_VARIABLES = ("OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", "SLURM_PROCID",
                   "HOROVOD_RANK")


def launcher_rank():
    """This process's rank as the launcher (mpirun, srun, horovodrun) set it; 0 alone."""
    for name in _RANK_VARIABLES:
        value = os.environ.get(name)
        if value is not None and value.strip().isdigit():
            return int(value)
    return 0


class _MaxLevel(logging.Filter):
    """Pass records below a level (stdout gets info, stderr gets warnings)."""

    def __init__(self, level):
        super().__init__()
        self.level = level

    def filter(self, record):
        return record.levelno < self.level


def quiet_tensorflow(verbose=False):
    """Silence TensorFlow/XLA's C++ start-up lines unless ``verbose``.

    Must run before TensorFlow is imported: the ``absl::InitializeLog`` and
    ``XLA service ... initialized`` lines come from C++ and honour only
    ``TF_CPP_MIN_LOG_LEVEL`` (2 = errors). A value the user set is kept.
    """
    if not verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "0" if verbose else "2")


def configure(*, quiet=False, verbose=False, all_ranks=False, rank=None,
              stdout=None, stderr=None):
    """Set up the ``rnngmm`` logger for a command-line run.

    Parameters
    ----------
    quiet, verbose : bool
        Warnings only / debug too.
    all_ranks : bool
        Informational lines from every rank, prefixed with the rank.
    rank : int, optional
        Default: :func:`launcher_rank`.
    stdout, stderr : file, optional
        Streams (default: the current ``sys.stdout`` / ``sys.stderr``).

    Returns
    -------
    logging.Logger
    """
    rank = launcher_rank() if rank is None else rank
    logger = logging.getLogger("rnngmm")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    if verbose:
        level = logging.DEBUG
    elif quiet or (rank != 0 and not all_ranks):
        level = logging.WARNING
    else:
        level = logging.INFO
    prefix = f"[rank {rank}] " if all_ranks else ""
    out = logging.StreamHandler(stdout or sys.stdout)
    out.addFilter(_MaxLevel(logging.WARNING))
    out.setFormatter(logging.Formatter(prefix + "%(message)s"))
    err = logging.StreamHandler(stderr or sys.stderr)
    err.setLevel(logging.WARNING)
    err.setFormatter(logging.Formatter(prefix + "%(levelname)s: %(message)s"))
    logger.addHandler(out)
    logger.addHandler(err)
    logger.setLevel(level)
    logger.propagate = False
    quiet_tensorflow(verbose)
    return logger


#: Native (C++) stderr lines dropped by :func:`filter_native_stderr`: absl's
#: note that logging is not initialised, and absl/TSL INFO lines such as
#: ``I0000 00:00:17... service.cc:148] XLA service ... initialized``.
_NOISE = re.compile(rb"^(WARNING: All log messages before absl::InitializeLog\(\)"
                    rb"|I\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [\w./-]+:\d+\])")


def filter_native_stderr():
    """Drop TensorFlow/XLA's C++ INFO start-up lines from this process's stderr.

    TensorFlow 2.18's XLA logs through absl, which no environment variable
    silences (``TF_CPP_MIN_LOG_LEVEL`` does not reach it). So file descriptor
    2 becomes a pipe read by a thread that forwards every other line;
    Python's own ``sys.stderr`` keeps writing to the real stderr directly, so
    tracebacks and messages never wait on the thread. Warnings and errors of
    the C++ side pass through. A C++ line written just before the process is
    killed may be lost: use ``--verbose`` (which skips this filter) when
    debugging a crash inside TensorFlow.

    Returns
    -------
    threading.Thread or None
        The forwarding thread (None when stderr is not a real file descriptor).
    """
    import atexit
    import threading
    try:
        sys.stderr.flush()
        real = os.dup(2)
    except (OSError, ValueError):
        return None
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    sys.stderr = os.fdopen(os.dup(real), "w", buffering=1, encoding="utf-8",
                           errors="backslashreplace")

    def forward():
        with os.fdopen(read_end, "rb", buffering=0) as pipe:
            pending = b""
            while True:
                data = pipe.read(65536)
                if not data:
                    break
                pending += data
                *lines, pending = pending.split(b"\n")
                kept = b"".join(line + b"\n" for line in lines if not _NOISE.match(line))
                if kept:
                    os.write(real, kept)
            if pending and not _NOISE.match(pending):
                os.write(real, pending)

    thread = threading.Thread(target=forward, name="rnngmm-stderr-filter", daemon=True)
    thread.start()

    def drain():
        # Close our end of the pipe so the thread sees EOF and forwards the rest.
        os.dup2(real, 2)
        thread.join(timeout=2.0)

    atexit.register(drain)
    return thread
