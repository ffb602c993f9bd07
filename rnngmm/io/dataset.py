"""The prepared HDF5 dataset that training, scoring and flagging read.

Layout (``FORMAT_VERSION`` 1)::

    /                       attrs: format, format_version, package_version,
                                   created (UTC ISO), command, inputs (JSON)
    /objects/id             (N,) utf-8 str   object id, unique
    /objects/label          (N,) utf-8 str   class label, "" when unknown
    /objects/period         (N,) float64     days, NaN when unknown
    /objects/period_source  (N,) utf-8 str   "catalog" | "lomb-scargle" | ""
    /objects/period_power   (N,) float64     Lomb-Scargle peak power, NaN if catalog
    /objects/offset         (N,) int64       first row of the object in /lightcurves
    /objects/length         (N,) int64       number of points of the object
    /objects/extra/<name>   (N,)             catalog columns passed through
    /lightcurves/time       (M,) float64     sorted per object (MJD/HJD days)
    /lightcurves/mag        (M,) float32
    /lightcurves/err        (M,) float32

Light curves are stored ragged (concatenated, with offsets), chunked and
gzip-compressed, so a reader can stream any slice of objects without loading
the file.
"""

import contextlib
import datetime
import json
import os
import sys

import h5py
import numpy as np

from rnngmm._version import __version__
from rnngmm.errors import InputError
from rnngmm.io.atomic import atomic_hdf5, atomic_path

FORMAT = "rnngmm-dataset"
FORMAT_VERSION = 1
_STR = h5py.string_dtype("utf-8")
_CHUNK_ROWS = 65536
#: Chunk cache of each column of a streamed dataset: none. Its columns are
#: written once, a whole chunk at a time (the last one at the end), so a cache
#: only holds chunks already written: HDF5 2.0's default of 8 MiB per column
#: grew the join of ``prepare`` by 70 MiB from 16k to 1.6M objects, 1 MiB
#: still by 14 MiB from 162k to 1.6M, none by 4 MiB, at the same CPU time.
_STREAM_CACHE_BYTES = 0


def provenance(inputs=None):
    """Attributes recording how a file was made (for any output file)."""
    return {
        "package_version": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(sys.argv),
        "inputs": json.dumps(inputs or {}),
    }


def _column(group, name, values, dtype):
    values = np.asarray(values, dtype=object if dtype is _STR else dtype)
    chunks = (min(max(len(values), 1), _CHUNK_ROWS),)
    # maxshape=None lets an empty column (every object rejected) keep a 1-row chunk.
    group.create_dataset(name, data=values, dtype=dtype, chunks=chunks, maxshape=(None,),
                         compression="gzip", compression_opts=4, shuffle=True)


def create_column(group, name, n, dtype):
    """An empty column of ``n`` values with the layout of :func:`write_dataset`
    (same chunks and compression), for writers that fill it in pieces."""
    chunks = (min(max(n, 1), _CHUNK_ROWS),)
    return group.create_dataset(name, shape=(n,), dtype=dtype, chunks=chunks,
                                maxshape=(None,), compression="gzip", compression_opts=4,
                                shuffle=True)


def set_dataset_attrs(handle, inputs=None):
    """The root attributes of a dataset (format, version, provenance)."""
    handle.attrs["format"] = FORMAT
    handle.attrs["format_version"] = FORMAT_VERSION
    for key, value in provenance(inputs).items():
        handle.attrs[key] = value


@contextlib.contextmanager
def streamed_dataset(path, inputs=None):
    """Yield a new dataset file open for writing, written straight to disk
    under a temporary name and renamed to ``path`` only when complete.

    Unlike :func:`write_dataset`, nothing is held in memory; HDF5 crashes on
    a full disk, so callers check the free space first
    (:func:`rnngmm.io.dataset_parts.check_free_space`).
    """
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w", rdcc_nbytes=_STREAM_CACHE_BYTES) as handle:
            set_dataset_attrs(handle, inputs)
            yield handle
        with open(tmp, "rb") as done:
            os.fsync(done.fileno())


def write_dataset(path, objects, lightcurves, *, extra=None, inputs=None):
    """Write a dataset atomically (temporary name, then rename).

    Parameters
    ----------
    path : str or Path
        Output ``.h5`` file.
    objects : dict of array_like
        ``id``, ``label``, ``period``, ``period_source``, ``period_power``;
        one entry per object, in output order.
    lightcurves : sequence of (time, mag, err)
        Cleaned arrays of each object, in the same order as ``objects``.
    extra : dict of array_like, optional
        Catalog columns to pass through (numeric or string).
    inputs : dict, optional
        Input paths and options, stored as JSON provenance.
    """
    n = len(objects["id"])
    if len(lightcurves) != n:
        raise ValueError(f"{n} objects but {len(lightcurves)} light curves")
    lengths = np.array([len(lc[0]) for lc in lightcurves], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)

    def joined(k, dtype):
        if n == 0:
            return np.zeros(0, dtype)
        return np.concatenate([np.asarray(lc[k], dtype) for lc in lightcurves])

    with atomic_hdf5(path) as f:
        set_dataset_attrs(f, inputs)
        g = f.create_group("objects")
        _column(g, "id", [str(i) for i in objects["id"]], _STR)
        _column(g, "label", [str(x) for x in objects.get("label", [""] * n)], _STR)
        _column(g, "period", objects.get("period", np.full(n, np.nan)), np.float64)
        _column(g, "period_source", [str(x) for x in objects.get("period_source", [""] * n)], _STR)
        _column(g, "period_power", objects.get("period_power", np.full(n, np.nan)), np.float64)
        _column(g, "offset", offsets, np.int64)
        _column(g, "length", lengths, np.int64)
        xg = g.create_group("extra")
        for name, values in (extra or {}).items():
            values = np.asarray(values)
            if values.dtype.kind in "OUS":
                _column(xg, name, [str(v) for v in values], _STR)
            else:
                _column(xg, name, values, values.dtype)
        lg = f.create_group("lightcurves")
        _column(lg, "time", joined(0, np.float64), np.float64)
        _column(lg, "mag", joined(1, np.float32), np.float32)
        _column(lg, "err", joined(2, np.float32), np.float32)


#: Points per block when a dataset's photometry is hashed.
HASH_BLOCK_POINTS = 1 << 20


def update_digest(digest, dataset):
    """Feed ``dataset``'s content into ``digest`` (a :mod:`hashlib` object).

    The object table (ids, lengths, periods, offsets) and the photometry,
    streamed in blocks of ``HASH_BLOCK_POINTS``; labels and provenance are
    left to the caller. Equal files give equal digests, whatever their names.
    """
    for array in (dataset.ids.astype("U"), dataset.lengths, dataset.periods, dataset.offsets):
        digest.update(np.ascontiguousarray(array).tobytes())
    with h5py.File(dataset.path, "r") as f:
        for column in ("time", "mag", "err"):
            values = f[f"lightcurves/{column}"]
            for start in range(0, len(values), HASH_BLOCK_POINTS):
                digest.update(np.ascontiguousarray(
                    values[start:start + HASH_BLOCK_POINTS]).tobytes())
    return digest


class Dataset:
    """Read access to a prepared dataset; object tables load eagerly, light
    curves stream on demand.

    Use as a context manager or call :meth:`close`.

    Raises
    ------
    InputError
        If the file is missing, not HDF5, not an rnngmm dataset, or of an
        unsupported format version.
    """

    def __init__(self, path):
        self.path = str(path)
        try:
            self._file = h5py.File(self.path, "r")
        except FileNotFoundError:
            raise InputError(f"dataset {self.path!r} does not exist; "
                             "create it with 'rnngmm prepare'") from None
        except OSError as exc:
            raise InputError(f"dataset {self.path!r} is not a readable HDF5 file "
                             f"(truncated or corrupted?): {exc}") from None
        f = self._file
        found_format = f.attrs.get("format")
        if found_format != FORMAT:
            self.close()  # attributes are unreadable after this
            raise InputError(f"{self.path!r} is not an rnngmm dataset "
                             f"(format attribute {found_format!r})")
        version = int(f.attrs.get("format_version", -1))
        if version != FORMAT_VERSION:
            self.close()
            raise InputError(f"dataset {self.path!r} has format version {version}; "
                             f"this rnngmm reads version {FORMAT_VERSION}: re-run 'rnngmm prepare'")
        try:
            g = f["objects"]
            self.ids = g["id"].asstr()[()].astype(str)
            self.labels = g["label"].asstr()[()].astype(str)
            self.periods = g["period"][()]
            self.period_sources = g["period_source"].asstr()[()].astype(str)
            self.period_powers = g["period_power"][()]
            self.offsets = g["offset"][()]
            self.lengths = g["length"][()]
            self.extra_names = list(g["extra"].keys())
            self._time = f["lightcurves/time"]
            self._mag = f["lightcurves/mag"]
            self._err = f["lightcurves/err"]
        except KeyError as exc:
            self.close()
            raise InputError(f"dataset {self.path!r} is incomplete: missing {exc}") from None
        self.attrs = dict(f.attrs)

    def __len__(self):
        return len(self.ids)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Close the underlying HDF5 file."""
        if getattr(self, "_file", None) is not None:
            self._file.close()
            self._file = None

    def extra(self, name):
        """A passed-through catalog column as an array."""
        d = self._file["objects/extra"][name]
        return d.asstr()[()] if d.dtype.kind == "O" else d[()]

    def lightcurve(self, index):
        """``(time float64, mag float64, err float64)`` of object ``index``."""
        a = int(self.offsets[index])
        b = a + int(self.lengths[index])
        return (self._time[a:b], self._mag[a:b].astype(np.float64),
                self._err[a:b].astype(np.float64))

    def iter_lightcurves(self, indices, block_points=1_000_000):
        """Yield ``(index, time, mag, err)`` for ``indices`` (in that order),
        reading contiguous ranges of about ``block_points`` points at a time
        (a range spans the objects between those asked for, so it is cut by
        its span, not by the points of the objects asked for)."""
        indices = np.asarray(indices, dtype=np.int64)
        starts = self.offsets[indices] if len(indices) else np.zeros(0, np.int64)
        ends = starts + self.lengths[indices] if len(indices) else starts
        start = 0
        while start < len(indices):
            stop = start + 1
            lo, hi = int(starts[start]), int(ends[start])
            while stop < len(indices):
                new_lo, new_hi = min(lo, int(starts[stop])), max(hi, int(ends[stop]))
                if new_hi - new_lo > block_points:
                    break
                lo, hi = new_lo, new_hi
                stop += 1
            block = indices[start:stop]
            t, m, e = self._time[lo:hi], self._mag[lo:hi], self._err[lo:hi]
            for i in block:
                a = int(self.offsets[i]) - lo
                b = a + int(self.lengths[i])
                yield int(i), t[a:b], m[a:b].astype(np.float64), e[a:b].astype(np.float64)
            start = stop
