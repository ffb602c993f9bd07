"""Per-row flagging results: the content of one shard, in memory and on disk.

A :class:`RowResults` holds, for a contiguous block of catalog rows, what the
model said about each row (or why it could not say anything). Everything the
final output shows is derived from these arrays: predicted class and its
probability come from ``prob``, energy percentile and anomaly flags from
``energy``. Keeping the shard content minimal means a shard written by any
rank, in any earlier (killed) job, is interchangeable with a fresh one.

On disk a shard is one small HDF5 file written atomically::

    /            attrs: format, format_version, shard, start, stop, n_classes
    /status        (n,) utf-8 str   "ok" or the reason the row was not scored
    /period        (n,) float64     period used (days), NaN when none
    /period_source (n,) utf-8 str   "catalog" | "lomb-scargle" | "dataset" | ""
    /n_chunks      (n,) int64       chunks scored (0 when not scored)
    /n_points      (n,) int64       cleaned points (0 when not prepared)
    /baseline      (n,) float64     last minus first cleaned epoch (days), NaN if not prepared
    /prob          (n, K) float64   mean class probability over chunks, NaN if not ok
    /energy        (n,) float64     mean chunk energy, NaN if not ok
"""

from dataclasses import dataclass

import h5py
import numpy as np

from rnngmm.io.atomic import atomic_hdf5
from rnngmm.object_table import OK

SHARD_FORMAT = "rnngmm-flag-shard"
SHARD_FORMAT_VERSION = 2  # 2: n_points and baseline
_STR = h5py.string_dtype("utf-8")


@dataclass
class RowResults:
    """Results of consecutive catalog rows.

    Attributes
    ----------
    status : ndarray of str, shape (n,)
        ``"ok"`` or a short reason (``"missing file"``, ``"too few points ..."``).
    period : ndarray of float64, shape (n,)
    period_source : ndarray of str, shape (n,)
    n_chunks : ndarray of int64, shape (n,)
    n_points : ndarray of int64, shape (n,)
        Cleaned points (0 when the object was not prepared).
    baseline : ndarray of float64, shape (n,)
        Last minus first cleaned epoch in days (NaN when not prepared).
    prob : ndarray of float64, shape (n, n_classes)
    energy : ndarray of float64, shape (n,)
    code : ndarray of float64, shape (n, E), optional
        Mean latent code (NaN if not ok); in shards only for ``flag --with_code``.
    """

    status: np.ndarray
    period: np.ndarray
    period_source: np.ndarray
    n_chunks: np.ndarray
    prob: np.ndarray
    energy: np.ndarray
    code: np.ndarray = None
    n_points: np.ndarray = None
    baseline: np.ndarray = None

    def __post_init__(self):
        n = len(self.status)
        if self.n_points is None:
            self.n_points = np.zeros(n, np.int64)
        if self.baseline is None:
            self.baseline = np.full(n, np.nan)

    def __len__(self):
        return len(self.status)

    @classmethod
    def empty(cls, n, n_classes):
        """``n`` rows, all not scored (status ``""``, NaN values)."""
        return cls(status=np.full(n, "", dtype=object),
                   period=np.full(n, np.nan),
                   period_source=np.full(n, "", dtype=object),
                   n_chunks=np.zeros(n, np.int64),
                   prob=np.full((n, n_classes), np.nan),
                   energy=np.full(n, np.nan))

    @classmethod
    def concatenate(cls, parts, n_classes):
        """Stack results of consecutive blocks (an empty list gives zero rows)."""
        if not parts:
            return cls.empty(0, n_classes)
        return cls(status=np.concatenate([p.status for p in parts]),
                   period=np.concatenate([p.period for p in parts]),
                   period_source=np.concatenate([p.period_source for p in parts]),
                   n_chunks=np.concatenate([p.n_chunks for p in parts]),
                   prob=np.concatenate([p.prob for p in parts]),
                   energy=np.concatenate([p.energy for p in parts]),
                   code=_concatenate_codes(parts),
                   n_points=np.concatenate([p.n_points for p in parts]),
                   baseline=np.concatenate([p.baseline for p in parts]))

    @property
    def ok(self):
        """Boolean mask of the rows that were scored."""
        return self.status == OK


def _concatenate_codes(parts):
    """Codes of all parts; a part without codes (no row scored) gives NaN rows."""
    width = next((p.code.shape[1] for p in parts if p.code is not None), None)
    if width is None:
        return None
    return np.concatenate([p.code if p.code is not None else np.full((len(p), width), np.nan)
                           for p in parts])


def write_shard(path, results, *, shard, start, stop):
    """Write one shard's results atomically (temporary name, then rename).

    Parameters
    ----------
    path : str
        Destination ``.h5`` file.
    results : RowResults
        Results of catalog rows ``start:stop``.
    shard, start, stop : int
        Shard number and the catalog rows it covers.
    """
    if len(results) != stop - start:
        raise ValueError(f"shard {shard}: {len(results)} results for rows {start}:{stop}")
    with atomic_hdf5(path) as f:
        f.attrs["format"] = SHARD_FORMAT
        f.attrs["format_version"] = SHARD_FORMAT_VERSION
        f.attrs["shard"] = int(shard)
        f.attrs["start"] = int(start)
        f.attrs["stop"] = int(stop)
        f.attrs["n_classes"] = int(results.prob.shape[1])
        f.create_dataset("status", data=[str(s) for s in results.status], dtype=_STR)
        f.create_dataset("period", data=np.asarray(results.period, np.float64))
        f.create_dataset("period_source", data=[str(s) for s in results.period_source],
                         dtype=_STR)
        f.create_dataset("n_chunks", data=np.asarray(results.n_chunks, np.int64))
        f.create_dataset("prob", data=np.asarray(results.prob, np.float64))
        f.create_dataset("energy", data=np.asarray(results.energy, np.float64))
        f.create_dataset("n_points", data=np.asarray(results.n_points, np.int64))
        f.create_dataset("baseline", data=np.asarray(results.baseline, np.float64))
        if results.code is not None:
            f.create_dataset("code", data=np.asarray(results.code, np.float64))
        # Written last: a reader that finds this flag knows every dataset is there.
        f.attrs["complete"] = True


def read_shard(path, *, shard, start, stop, n_classes):
    """Read a shard written by :func:`write_shard`, checking that it matches.

    Returns
    -------
    RowResults or None
        None when the file is missing, unreadable, incomplete or was made for
        other rows or another number of classes (the shard is then redone).
    """
    try:
        with h5py.File(path, "r") as f:
            attrs = f.attrs
            expected = {"format": SHARD_FORMAT, "format_version": SHARD_FORMAT_VERSION,
                        "shard": shard, "start": start, "stop": stop,
                        "n_classes": n_classes, "complete": True}
            for key, value in expected.items():
                if key not in attrs or attrs[key] != value:
                    return None
            n = stop - start
            results = RowResults(
                status=f["status"].asstr()[()].astype(object),
                period=f["period"][()],
                period_source=f["period_source"].asstr()[()].astype(object),
                n_chunks=f["n_chunks"][()],
                prob=f["prob"][()].reshape(n, n_classes),
                energy=f["energy"][()],
                code=f["code"][()] if "code" in f else None,
                n_points=f["n_points"][()],
                baseline=f["baseline"][()])
    except (OSError, KeyError, ValueError):
        return None
    if any(len(a) != n for a in (results.status, results.period, results.period_source,
                                 results.n_chunks, results.energy, results.n_points,
                                 results.baseline)):
        return None
    return results
