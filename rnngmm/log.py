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

import contextlib
import logging
import os
import re
import sys
import threading

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


#: Environment variable holding the ``TF_CPP_MIN_LOG_LEVEL`` value that
#: :func:`quiet_tensorflow` set (inherited by subprocesses, so a child knows
#: the value is not the user's).
_OUR_LEVEL = "RNNGMM_TF_CPP_MIN_LOG_LEVEL"
#: True when TensorFlow's native lines are to be shown (``--verbose``, or
#: ``TF_CPP_MIN_LOG_LEVEL=0`` set by the user).
_show_native = False


def quiet_tensorflow(verbose=False):
    """Silence TensorFlow/XLA's C++ start-up lines unless ``verbose``.

    Must run before TensorFlow is imported: TensorFlow's own C++ lines
    (``cpu_feature_guard``, ``oneDNN custom operations are on``) honour only
    ``TF_CPP_MIN_LOG_LEVEL``, read once (2 = errors only). XLA's lines go
    through absl, which no environment variable reaches: see
    :func:`filter_native_stderr` and :func:`native_stderr_filtered`. A
    value the user set is kept, and ``TF_CPP_MIN_LOG_LEVEL=0`` from the user
    also shows the lines those filters drop. ``verbose`` undoes what an
    earlier call (``import rnngmm``) set.
    """
    global _show_native
    current = os.environ.get("TF_CPP_MIN_LOG_LEVEL")
    ours = current is not None and os.environ.get(_OUR_LEVEL) == current
    if verbose:
        if ours:
            del os.environ["TF_CPP_MIN_LOG_LEVEL"]
            os.environ.pop(_OUR_LEVEL, None)
        _show_native = True
    elif current is None or ours:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = os.environ[_OUR_LEVEL] = "2"
        _show_native = False
    else:
        _show_native = current.strip() == "0"


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


#: Prefixes of native log lines: absl's (``I0000 00:00:17... 12470 service.cc:148] ``,
#: XLA) and TensorFlow's own (``2026-12-02 04:09:50.123: E tensorflow/core/util/util.cc:131] ``).
_ABSL_PREFIX = rb"[IWEF]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [\w./-]+:\d+\] "
_TF_PREFIX = rb"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWEF] [\w./-]+:\d+\] "
#: Native (C++) stderr lines dropped by :func:`filter_native_stderr` and
#: :func:`native_stderr_filtered`: absl's note that logging is not
#: initialised; absl INFO lines such as ``XLA service ... initialized`` and
#: ``StreamExecutor device (0)``; and TensorFlow's oneDNN notices at any level
#: (an ``E`` line on CPUs without AVX-512: ``oneDNN supports DT_BOOL only on
#: platforms with AVX-512. Falling back to the default Eigen-based
#: implementation``, which is about speed, not an error of the run).
_NOISE = re.compile(rb"^(WARNING: All log messages before absl::InitializeLog\(\)"
                    rb"|I\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [\w./-]+:\d+\]"
                    rb"|(" + _ABSL_PREFIX + rb"|" + _TF_PREFIX + rb")oneDNN )")


class _StderrFilter:
    """File descriptor 2 turned into a pipe read by a thread that forwards
    every line but :data:`_NOISE` to the real stderr.

    Raises OSError or ValueError when stderr is not a real file descriptor.
    """

    def __init__(self):
        sys.stderr.flush()
        self.real = os.dup(2)
        read_end, write_end = os.pipe()
        os.dup2(write_end, 2)
        os.close(write_end)
        self.thread = threading.Thread(target=self._forward, args=(read_end,),
                                       name="rnngmm-stderr-filter", daemon=True)
        self.thread.start()

    def _forward(self, read_end):
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
                    os.write(self.real, kept)
            if pending and not _NOISE.match(pending):
                os.write(self.real, pending)

    def stop(self, timeout=2.0):
        """Give fd 2 back; the thread sees end-of-file and forwards the rest."""
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(self.real, 2)
        self.thread.join(timeout=timeout)
        if not self.thread.is_alive():
            os.close(self.real)


#: The process-wide filter of :func:`filter_native_stderr`, once installed.
_process_filter = None
_scoped_lock = threading.Lock()
_scoped_depth = 0
_scoped_filter = None


def filter_native_stderr():
    """Drop TensorFlow/XLA's C++ start-up lines from this process's stderr.

    TensorFlow 2.18's XLA logs through absl, which no environment variable
    silences (``TF_CPP_MIN_LOG_LEVEL`` does not reach it). So file descriptor
    2 becomes a pipe read by a thread that forwards every other line;
    Python's own ``sys.stderr`` keeps writing to the real stderr directly, so
    tracebacks and messages never wait on the thread. Warnings and errors of
    the C++ side pass through (but for the oneDNN notices of :data:`_NOISE`).
    A C++ line written just before the process is killed may be lost: use
    ``--verbose`` (which skips this filter) when debugging a crash inside
    TensorFlow.

    Returns
    -------
    threading.Thread or None
        The forwarding thread (None when stderr is not a real file descriptor).
    """
    import atexit
    global _process_filter
    try:
        stderr_filter = _StderrFilter()
    except (OSError, ValueError):
        return None
    sys.stderr = os.fdopen(os.dup(stderr_filter.real), "w", buffering=1, encoding="utf-8",
                           errors="backslashreplace")
    _process_filter = stderr_filter
    atexit.register(stderr_filter.stop)
    return stderr_filter.thread


@contextlib.contextmanager
def native_stderr_filtered():
    """Drop TensorFlow/XLA's native start-up lines from stderr while inside.

    For the Python API (``rnngmm.load_run(...).predict(...)``), which must not
    take over a user's stderr for good: fd 2 goes through the filter of
    :func:`filter_native_stderr` only while TensorFlow works, and is given
    back on leaving. Nested and concurrent uses share one filter; nothing is
    done under the CLI's process-wide filter, with ``--verbose``, or when the
    user set ``TF_CPP_MIN_LOG_LEVEL=0``.
    """
    global _scoped_depth, _scoped_filter
    if _process_filter is not None or _show_native:
        yield
        return
    with _scoped_lock:
        _scoped_depth += 1
        if _scoped_depth == 1:
            try:
                _scoped_filter = _StderrFilter()
            except (OSError, ValueError):
                _scoped_filter = None
    try:
        yield
    finally:
        with _scoped_lock:
            _scoped_depth -= 1
            if _scoped_depth == 0 and _scoped_filter is not None:
                _scoped_filter.stop()
                _scoped_filter = None
