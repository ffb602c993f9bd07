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

A job reading several bands (``--band g r``; attribute ``bands``, the band
names as JSON, B of them) adds per-band results, each star's bands in that
order::

    /band_prob      (n, B, K) float64  mean class probability of the band's chunks
    /band_energy    (n, B) float64     mean chunk energy of the band
    /band_n_chunks  (n, B) int64       chunks of the band scored (0: band not scored)
    /band_n_points  (n, B) int64       cleaned points of the band (0 when not read)
    /band_baseline  (n, B) float64     last minus first cleaned epoch of the band
    /band_mag       (n, B) float64     mean cleaned magnitude of a scored band, else NaN
    /bands_missing  (n,) utf-8 str     "band: reason" of the bands not scored, "; "-joined
"""

import json

from dataclasses import dataclass

import h5py
import numpy as np

from rnngmm.io.atomic import atomic_hdf5
from rnngmm.object_table import OK

SHARD_FORMAT = "rnngmm-flag-shard"
SHARD_FORMAT_VERSION = 3  # 2: n_points and baseline; 3: per-band results
_STR = h5py.string_dtype("utf-8")


#: Per-band arrays of a job reading several bands (shard datasets of the same names).
BAND_FIELDS = ("band_prob", "band_energy", "band_n_chunks", "band_n_points", "band_baseline",
               "band_mag", "bands_missing")
_BAND_DTYPES = {"band_prob": np.float64, "band_energy": np.float64,
                "band_n_chunks": np.int64, "band_n_points": np.int64,
                "band_baseline": np.float64, "band_mag": np.float64}


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
    bands : tuple of str, optional
        Band names of a job reading several bands (None: one band, and no
        ``band_*`` arrays). With bands, ``n_points`` and ``baseline`` are over
        the star's scored bands and ``prob``, ``energy``, ``n_chunks`` over all
        their chunks.
    band_prob : ndarray (n, B, K)
    band_energy, band_baseline, band_mag : ndarray of float64 (n, B)
    band_n_chunks, band_n_points : ndarray of int64 (n, B)
    bands_missing : ndarray of str (n,)
        Per band, as in the module docstring.
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
    bands: tuple = None
    band_prob: np.ndarray = None
    band_energy: np.ndarray = None
    band_n_chunks: np.ndarray = None
    band_n_points: np.ndarray = None
    band_baseline: np.ndarray = None
    band_mag: np.ndarray = None
    bands_missing: np.ndarray = None

    def __post_init__(self):
        n = len(self.status)
        if self.n_points is None:
            self.n_points = np.zeros(n, np.int64)
        if self.baseline is None:
            self.baseline = np.full(n, np.nan)
        if self.bands is not None:
            self.bands = tuple(str(b) for b in self.bands)
            b, k = len(self.bands), np.shape(self.prob)[1]
            defaults = {"band_prob": lambda: np.full((n, b, k), np.nan),
                        "band_energy": lambda: np.full((n, b), np.nan),
                        "band_n_chunks": lambda: np.zeros((n, b), np.int64),
                        "band_n_points": lambda: np.zeros((n, b), np.int64),
                        "band_baseline": lambda: np.full((n, b), np.nan),
                        "band_mag": lambda: np.full((n, b), np.nan),
                        "bands_missing": lambda: np.full(n, "", dtype=object)}
            for name, make in defaults.items():
                if getattr(self, name) is None:
                    setattr(self, name, make())

    def __len__(self):
        return len(self.status)

    @classmethod
    def empty(cls, n, n_classes, bands=None):
        """``n`` rows, all not scored (status ``""``, NaN values); ``bands``:
        the band names of a job reading several bands."""
        return cls(status=np.full(n, "", dtype=object),
                   period=np.full(n, np.nan),
                   period_source=np.full(n, "", dtype=object),
                   n_chunks=np.zeros(n, np.int64),
                   prob=np.full((n, n_classes), np.nan),
                   energy=np.full(n, np.nan),
                   bands=tuple(bands) if bands else None)

    @property
    def sampling_points(self):
        """The cleaned points a sampling-conditioned score is conditioned on.

        ``n_points`` for one band; for several, the MEAN cleaned points per
        scored band (``n_points`` over the number of bands with chunks): the
        star's energy is the mean over chunks whose sampling is each band's
        own, so it is compared with known stars observed like one band.
        """
        if self.bands is None:
            return self.n_points
        used = np.count_nonzero(self.band_n_chunks > 0, axis=1)
        return np.asarray(self.n_points, np.float64) / np.maximum(used, 1)

    @classmethod
    def concatenate(cls, parts, n_classes):
        """Stack results of consecutive blocks (an empty list gives zero rows)."""
        if not parts:
            return cls.empty(0, n_classes)
        bands = parts[0].bands
        if any(p.bands != bands for p in parts):
            raise ValueError("results of other bands cannot be stacked")
        per_band = ({name: np.concatenate([getattr(p, name) for p in parts])
                     for name in BAND_FIELDS} if bands is not None else {})
        return cls(status=np.concatenate([p.status for p in parts]),
                   period=np.concatenate([p.period for p in parts]),
                   period_source=np.concatenate([p.period_source for p in parts]),
                   n_chunks=np.concatenate([p.n_chunks for p in parts]),
                   prob=np.concatenate([p.prob for p in parts]),
                   energy=np.concatenate([p.energy for p in parts]),
                   code=_concatenate_codes(parts),
                   n_points=np.concatenate([p.n_points for p in parts]),
                   baseline=np.concatenate([p.baseline for p in parts]),
                   bands=bands, **per_band)

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
        if results.bands is not None:
            f.attrs["bands"] = json.dumps(list(results.bands))
            for name, dtype in _BAND_DTYPES.items():
                f.create_dataset(name, data=np.asarray(getattr(results, name), dtype))
            f.create_dataset("bands_missing", data=[str(s) for s in results.bands_missing],
                             dtype=_STR)
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
                baseline=f["baseline"][()],
                **_read_bands(f, n, n_classes))
    except (OSError, KeyError, ValueError):
        return None
    if any(len(a) != n for a in (results.status, results.period, results.period_source,
                                 results.n_chunks, results.energy, results.n_points,
                                 results.baseline)):
        return None
    if results.bands is not None and any(
            len(getattr(results, name)) != n for name in BAND_FIELDS):
        return None
    return results


def _read_bands(f, n, n_classes):
    """The per-band arrays of an open shard (``{}`` for a one-band shard)."""
    if "bands" not in f.attrs:
        return {}
    bands = tuple(json.loads(f.attrs["bands"]))
    values = {name: f[name][()] for name in _BAND_DTYPES}
    values["band_prob"] = values["band_prob"].reshape(n, len(bands), n_classes)
    values["bands_missing"] = f["bands_missing"].asstr()[()].astype(object)
    return {"bands": bands, **values}
