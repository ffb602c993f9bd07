"""Crash-safe file writing: write to a temporary name, rename when complete."""

import contextlib
import os
import tempfile

from ..errors import InputError


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path next to ``path``; rename it to ``path`` on success.

    If the body raises (or the process is killed), ``path`` is untouched and
    the temporary file is removed (or, after ``kill -9``, left with a
    ``.tmp`` suffix that no reader mistakes for a finished file).

    Raises
    ------
    InputError
        If the output directory does not exist or is not writable.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise InputError(f"output directory {directory!r} does not exist")
    if not os.access(directory, os.W_OK):
        raise InputError(f"output directory {directory!r} is not writable")
    base = os.path.basename(path)
    handle, tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=".tmp", dir=directory)
    os.close(handle)
    try:
        yield tmp
        # mkstemp creates 0600; give the file the mode a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
