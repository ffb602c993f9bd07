"""Crash-safe file writing: write to a temporary name, rename when complete."""

import contextlib
import errno
import io
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
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise InputError(f"cannot write {path!r}: {os.strerror(exc.errno)} "
                             "(nothing was written; free some space and run again)") from None
        raise


@contextlib.contextmanager
def atomic_hdf5(path):
    """Yield a new, writable ``h5py.File`` that appears at ``path`` only when complete.

    The file is built in memory and then written with plain file I/O inside
    :func:`atomic_path`: HDF5 itself crashes the process (segmentation fault
    while closing) when the disk fills up during a write, whereas a plain
    write fails cleanly with ENOSPC, which becomes an ``InputError`` naming
    ``path`` and leaves nothing behind. Memory use is the file's size.
    """
    import h5py
    with atomic_path(path) as tmp:
        buffer = io.BytesIO()
        with h5py.File(buffer, "w") as handle:
            yield handle
        with open(tmp, "wb") as out:
            out.write(buffer.getbuffer())
            out.flush()
            os.fsync(out.fileno())
