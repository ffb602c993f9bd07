"""Hand-crafted light-curve features (``light-curve`` package) for the baselines.

Features are computed once per prepared dataset for ALL its objects and cached
next to it as ``<dataset>.features.h5``. The cache is keyed on the dataset's
provenance and object table plus the feature list and library version; a
stale or foreign cache is recomputed, never silently reused.

Each light curve goes through :func:`rnngmm.preprocess.clean` first (the one
cleaning routine of the package); an object with no usable points gets a row
of NaN, and single features the library cannot compute are NaN too.
"""

import hashlib
import json
import os
import warnings

import h5py
import light_curve
import numpy as np

from ..errors import BadLightCurve
from ..io.atomic import atomic_path
from ..preprocess import clean

#: Bump when the feature list or its preprocessing changes.
FEATURE_SET_VERSION = 1
#: Fewer cleaned points than this give a row of NaN (the library's
#: periodogram aborts on tiny inputs).
MIN_POINTS = 5
CACHE_FORMAT = "rnngmm-features"
#: Points per block when hashing a dataset's photometry for the cache key.
_HASH_BLOCK = 1 << 20


def build_extractor():
    """The ``light_curve.Extractor`` of the baseline features."""
    lc = light_curve
    return lc.Extractor(
        lc.Amplitude(), lc.AndersonDarlingNormal(), lc.BeyondNStd(1.0), lc.BeyondNStd(2.0),
        lc.Cusum(), lc.Eta(), lc.EtaE(), lc.ExcessVariance(),
        lc.InterPercentileRange(0.25), lc.InterPercentileRange(0.1), lc.Kurtosis(),
        lc.LinearTrend(), lc.MagnitudePercentageRatio(), lc.MaximumSlope(), lc.Mean(),
        lc.Median(), lc.MedianAbsoluteDeviation(), lc.MedianBufferRangePercentage(),
        lc.PercentAmplitude(), lc.PercentDifferenceMagnitudePercentile(0.05),
        lc.Periodogram(peaks=3), lc.ReducedChi2(), lc.Skew(), lc.StandardDeviation(),
        lc.StetsonK(), lc.WeightedMean(),
    )


def feature_names():
    """Column names: the extractor's features, then ``log10_period``, ``n_points``."""
    return list(build_extractor().names) + ["log10_period", "n_points"]


def features_of_lightcurve(extractor, time, mag, err):
    """Feature vector of one raw light curve (NaN for failed features).

    Returns
    -------
    features : ndarray of float64, shape (len(extractor.names),)
    n_points : int
        Points left after cleaning (0 when none).
    """
    try:
        time, mag, err, _ = clean(time, mag, err)
    except BadLightCurve:
        return np.full(len(extractor.names), np.nan), 0
    if len(time) < MIN_POINTS:
        return np.full(len(extractor.names), np.nan), len(time)
    try:
        values = extractor(time, mag, err, fill_value=np.nan, sorted=True, check=False)
    except BaseException as exc:  # the Rust library raises PanicException (a BaseException)
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        values = np.full(len(extractor.names), np.nan)
    return np.asarray(values, dtype=np.float64), len(time)


def compute_features(dataset, indices=None):
    """Features of ``indices`` (default all) of an open ``Dataset``.

    Returns
    -------
    ndarray of float64, shape (n, n_features)
        Columns as :func:`feature_names`.
    """
    indices = np.arange(len(dataset)) if indices is None else np.asarray(indices, np.int64)
    extractor = build_extractor()
    out = np.full((len(indices), len(extractor.names) + 2), np.nan)
    position = {int(i): n for n, i in enumerate(indices)}
    with np.errstate(all="ignore"):
        for i, time, mag, err in dataset.iter_lightcurves(indices):
            row = position[i]
            out[row, :-2], out[row, -1] = features_of_lightcurve(extractor, time, mag, err)
            period = dataset.periods[i]
            if np.isfinite(period) and period > 0:
                out[row, -2] = np.log10(period)
    return out


def cache_key(dataset):
    """Hex digest of a dataset's provenance, object table and photometry, and
    of the feature set: any change to any of them invalidates the cache."""
    digest = hashlib.sha256()
    meta = {key: str(dataset.attrs.get(key, "")) for key in
            ("format_version", "created", "command", "inputs", "package_version")}
    meta.update(feature_set=FEATURE_SET_VERSION, names=feature_names(),
                light_curve=getattr(light_curve, "__version__", "?"))
    digest.update(json.dumps(meta, sort_keys=True).encode())
    for array in (dataset.ids.astype("U"), dataset.lengths, dataset.periods, dataset.offsets):
        digest.update(np.ascontiguousarray(array).tobytes())
    # the photometry itself, streamed in blocks (far cheaper than extraction)
    with h5py.File(dataset.path, "r") as f:
        for column in ("time", "mag", "err"):
            values = f[f"lightcurves/{column}"]
            for start in range(0, len(values), _HASH_BLOCK):
                digest.update(np.ascontiguousarray(values[start:start + _HASH_BLOCK]).tobytes())
    return digest.hexdigest()


def cache_path(dataset_path):
    """Where the feature cache of a dataset lives."""
    root, _ = os.path.splitext(os.fspath(dataset_path))
    return root + ".features.h5"


def read_cache(path, key):
    """Cached feature matrix, or None if absent, unreadable or stale."""
    if not os.path.exists(path):
        return None
    try:
        with h5py.File(path, "r") as f:
            if f.attrs.get("format") != CACHE_FORMAT or f.attrs.get("key") != key:
                return None
            return f["features"][()]
    except (OSError, KeyError):
        warnings.warn(f"feature cache {path!r} is unreadable; recomputing")
        return None


def write_cache(path, key, features, names):
    """Write the feature matrix atomically (HDF5, no pickle)."""
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["format"] = CACHE_FORMAT
        f.attrs["key"] = key
        f.attrs["names"] = json.dumps(list(names))
        f.create_dataset("features", data=features, compression="gzip")


def dataset_features(dataset, *, use_cache=True):
    """Features of every object of an open ``Dataset``, using the cache.

    A cache that cannot be written (read-only data folder) only warns.

    Returns
    -------
    ndarray of float64, shape (len(dataset), n_features)
    """
    path = cache_path(dataset.path)
    key = cache_key(dataset)
    if use_cache:
        cached = read_cache(path, key)
        if cached is not None and cached.shape == (len(dataset), len(feature_names())):
            return cached
    features = compute_features(dataset)
    if use_cache:
        try:
            write_cache(path, key, features, feature_names())
        except Exception as exc:  # caching is an optimisation only
            warnings.warn(f"could not write feature cache {path!r}: {exc}")
    return features
