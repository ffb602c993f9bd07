"""Crash-safe file writing: write to a temporary name, rename when complete.

A full disk (ENOSPC, or EDQUOT for a quota) during any of these writes
leaves the previous file of that name untouched, removes the temporary and
raises ``InputError("cannot write 'PATH': No space left on device ...")``.
"""

import contextlib
import errno
import io
import os
import tempfile

from rnngmm.errors import InputError

#: errno values that mean "the disk (or the user's quota) is full".
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)

#: Suffix of a temporary ``.keras`` file: Keras refuses any other suffix, and
#: the ``.tmp`` before it marks a leftover (after ``kill -9``) as unfinished.
KERAS_TMP_SUFFIX = ".tmp.keras"


def disk_full_error(exc):
    """The ENOSPC/EDQUOT ``OSError`` behind ``exc``, or None.

    Libraries (zipfile, Keras) may raise a second error while cleaning up
    after the first, so the chain of causes and contexts is searched.
    """
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in DISK_FULL:
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def _disk_full_message(path, exc):
    return (f"cannot write {path!r}: {os.strerror(exc.errno)} "
            "(nothing was written; free some space and run again)")


def _fsync(path):
    """Flush ``path``'s data to disk (before a rename makes it visible)."""
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


@contextlib.contextmanager
def atomic_path(path, suffix=".tmp"):
    """Yield a temporary path next to ``path``; rename it to ``path`` on success.

    If the body raises (or the process is killed), ``path`` is untouched and
    the temporary file is removed (or, after ``kill -9``, left with a
    ``.tmp`` suffix that no reader mistakes for a finished file).

    Parameters
    ----------
    path : str or Path
    suffix : str
        End of the temporary file's name (it must contain ``.tmp``).

    Raises
    ------
    InputError
        If the output directory does not exist or is not writable, or the
        disk is full (any previous file at ``path`` is kept).
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise InputError(f"output directory {directory!r} does not exist")
    if not os.access(directory, os.W_OK):
        raise InputError(f"output directory {directory!r} is not writable")
    base = os.path.basename(path)
    try:
        handle, tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=suffix, dir=directory)
    except OSError as exc:
        if exc.errno in DISK_FULL:
            raise InputError(_disk_full_message(path, exc)) from None
        raise
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
        # Ctrl-C or SystemExit while cleaning up after ENOSPC stays what it is.
        full = disk_full_error(exc) if isinstance(exc, Exception) else None
        if full is not None:
            raise InputError(_disk_full_message(path, full)) from None
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


def save_keras_model(model, path):
    """Save a Keras 3 model to ``path`` (a ``.keras`` file) atomically.

    The model is saved under a temporary ``...tmp.keras`` name next to
    ``path`` (Keras insists on the suffix), synced, then renamed. Keras 3
    builds the weights' HDF5 file in memory (for any model smaller than a
    fraction of free RAM) and writes the zip archive with plain file I/O, so
    a full disk is a clean ENOSPC here, not an HDF5 crash.

    Parameters
    ----------
    model : keras.Model
    path : str or Path
        Destination; must end in ``.keras``.

    Raises
    ------
    InputError
        If the disk is full (``cannot write 'PATH': No space left on device
        ...``) or the directory is missing or not writable; the temporary is
        removed and a previous file at ``path`` stays as it was.
    """
    path = os.fspath(path)
    if not path.endswith(".keras"):
        raise ValueError(f"a Keras model file must end in '.keras', got {path!r}")
    with atomic_path(path, suffix=KERAS_TMP_SUFFIX) as tmp:
        model.save(tmp)
        _fsync(tmp)
