"""Training checkpoints: every model and optimizer variable in one HDF5 file.

A checkpoint is built in memory, written under a temporary name and renamed
when complete (:func:`rnngmm.io.atomic.atomic_hdf5`: a full disk then fails
cleanly with an ``InputError`` instead of crashing HDF5, and leaves the
previous checkpoint as it was), carries a completeness marker and
Fletcher-32 checksums on every array, and is validated on load: a truncated
or corrupted file is skipped with a warning and the previous one is used.

Variables are stored in the order of ``model.variables`` and
``model.optimizer.variables`` (both deterministic for a given configuration)
with their paths and shapes as attributes, so restoring into a model of a
different configuration fails loudly instead of silently mis-assigning.

File names: ``ckpt-<epoch>.h5`` after ``epoch`` completed epochs, and
``ckpt-<epoch>-<step>.h5`` when training was interrupted ``step`` batches
into epoch ``epoch`` (by a signal).
"""

import json
import os
import re
import sys
from dataclasses import dataclass

import h5py
import numpy as np

from rnngmm.io.atomic import atomic_hdf5

FORMAT = "rnngmm-checkpoint"
FORMAT_VERSION = 1
_NAME = re.compile(r"^ckpt-(\d+)(?:-(\d+))?\.h5$")


class CheckpointError(Exception):
    """A checkpoint file that cannot be used; the message says why."""


@dataclass
class Checkpoint:
    """Contents of a validated checkpoint file.

    Attributes
    ----------
    path : str
    state : dict
        Training-loop state (epoch, step, stage, early-stopping counters...).
    model_values, optimizer_values : list of (path, ndarray)
    """

    path: str
    state: dict
    model_values: list
    optimizer_values: list

    @property
    def position(self):
        """``(epoch, step)``: where in training this checkpoint was taken."""
        return int(self.state["epoch"]), int(self.state.get("step", 0))


def checkpoint_name(epoch, step=0):
    """File name of the checkpoint after ``epoch`` epochs and ``step`` batches."""
    return f"ckpt-{epoch:04d}.h5" if step == 0 else f"ckpt-{epoch:04d}-{step:06d}.h5"


def parse_checkpoint_name(name):
    """``(epoch, step)`` encoded in a checkpoint file name, or None."""
    match = _NAME.match(os.path.basename(name))
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2) or 0)


def _write_group(group, variables):
    for i, variable in enumerate(variables):
        value = np.asarray(variable.numpy() if hasattr(variable, "numpy") else variable)
        # Checksums need chunked storage, which scalars cannot have: store (1,).
        data = value.reshape(1) if value.ndim == 0 else value
        dset = group.create_dataset(f"{i:05d}", data=data, fletcher32=True)
        dset.attrs["path"] = getattr(variable, "path", f"{i}")
        dset.attrs["shape"] = np.asarray(value.shape, dtype=np.int64)
    group.attrs["count"] = len(variables)


def save_checkpoint(path, model, state):
    """Write every model and optimizer variable plus ``state`` atomically.

    Parameters
    ----------
    path : str or Path
        Output file, normally ``<run>/checkpoints/ckpt-....h5``.
    model : keras.Model
        Compiled model; its optimizer's variables are saved too.
    state : dict
        JSON-serialisable loop state; must contain ``epoch``.

    Raises
    ------
    rnngmm.errors.InputError
        If the disk is full (the previous checkpoints stay usable).
    """
    # In memory, then plain file I/O: HDF5 can crash when the disk fills.
    with atomic_hdf5(path) as f:
        f.attrs["format"] = FORMAT
        f.attrs["format_version"] = FORMAT_VERSION
        f.attrs["state"] = json.dumps(state)
        _write_group(f.create_group("model"), model.variables)
        optimizer = getattr(model, "optimizer", None)
        _write_group(f.create_group("optimizer"),
                     optimizer.variables if optimizer is not None else [])
        # Written last: a file without it was never finished.
        f.attrs["complete"] = True


def _read_group(group, label):
    count = int(group.attrs["count"])
    names = sorted(group.keys())
    if names != [f"{i:05d}" for i in range(count)]:
        raise CheckpointError(f"{label} variables are incomplete "
                              f"({len(names)} of {count} stored)")
    values = []
    for name in names:
        dset = group[name]
        shape = tuple(int(n) for n in dset.attrs["shape"])
        value = dset[()].reshape(shape)
        if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
            raise CheckpointError(f"{label} variable {dset.attrs['path']!r} is not finite")
        values.append((str(dset.attrs["path"]), value))
    return values


def read_checkpoint(path):
    """Read and validate one checkpoint file.

    Raises
    ------
    CheckpointError
        If the file is unreadable, truncated, corrupted (checksum), of another
        format/version, incomplete, or holds non-finite values.
    """
    path = os.fspath(path)
    try:
        with h5py.File(path, "r") as f:
            if f.attrs.get("format") != FORMAT:
                raise CheckpointError(f"not an rnngmm checkpoint "
                                      f"(format {f.attrs.get('format')!r})")
            version = int(f.attrs.get("format_version", -1))
            if version != FORMAT_VERSION:
                raise CheckpointError(f"checkpoint format version {version}, "
                                      f"expected {FORMAT_VERSION}")
            if not f.attrs.get("complete", False):
                raise CheckpointError("checkpoint was not finished")
            state = json.loads(f.attrs["state"])
            model_values = _read_group(f["model"], "model")
            optimizer_values = _read_group(f["optimizer"], "optimizer")
    except CheckpointError:
        raise
    except (OSError, KeyError, ValueError) as exc:
        raise CheckpointError(f"unreadable (truncated or corrupted?): {exc}") from None
    if "epoch" not in state:
        raise CheckpointError("checkpoint state has no epoch")
    return Checkpoint(path, state, model_values, optimizer_values)


def _generic_path(path):
    # Keras numbers auto-named layers per process ("dense_2"); the counters
    # differ between a run and its resumption in a process that built other
    # models first, so compare paths without them.
    return re.sub(r"_\d+(?=_|/|$)", "", str(path))


def _assign(variables, values, label, path):
    if len(variables) != len(values):
        raise CheckpointError(f"{path}: {label} has {len(variables)} variables, "
                              f"checkpoint has {len(values)}")
    for variable, (saved_path, value) in zip(variables, values):
        if (tuple(variable.shape) != value.shape
                or _generic_path(variable.path) != _generic_path(saved_path)):
            raise CheckpointError(
                f"{path}: {label} variable {variable.path!r} {tuple(variable.shape)} "
                f"does not match checkpoint {saved_path!r} {value.shape}")
    for variable, (_, value) in zip(variables, values):
        variable.assign(value)


def restore_checkpoint(checkpoint, model):
    """Assign a checkpoint's values to ``model`` and its (built) optimizer.

    Raises
    ------
    CheckpointError
        If the variable lists do not match (different configuration).
    """
    _assign(model.variables, checkpoint.model_values, "model", checkpoint.path)
    _assign(model.optimizer.variables, checkpoint.optimizer_values, "optimizer",
            checkpoint.path)


def list_checkpoints(directory):
    """Checkpoint files in ``directory`` as ``[((epoch, step), path)]``, oldest first."""
    if not os.path.isdir(directory):
        return []
    found = []
    for name in os.listdir(directory):
        position = parse_checkpoint_name(name)
        if position is not None:
            found.append((position, os.path.join(directory, name)))
    return sorted(found)


def latest_valid_checkpoint(directory, warn=None):
    """Newest checkpoint in ``directory`` that validates, or None.

    Invalid files are skipped with a warning (``warn(message)``, default: to
    stderr) naming the file and the reason.
    """
    warn = warn or (lambda message: print(f"warning: {message}", file=sys.stderr))
    for _, path in reversed(list_checkpoints(directory)):
        try:
            return read_checkpoint(path)
        except CheckpointError as exc:
            warn(f"skipping checkpoint {path}: {exc}")
    return None


def prune_checkpoints(directory, keep_last, keep=()):
    """Delete all but the newest ``keep_last`` checkpoints and those in ``keep``."""
    found = list_checkpoints(directory)
    protected = {os.path.abspath(p) for p in keep}
    doomed = found[:-keep_last] if keep_last > 0 else found
    for _, path in doomed:
        if os.path.abspath(path) not in protected:
            try:
                os.remove(path)
            except FileNotFoundError:
                pass
