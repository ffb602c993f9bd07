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
