"""Hand-crafted light-curve features for the baselines.

Three groups, all computed after :func:`rnngmm.lightcurves.preprocess.clean` (the one
cleaning routine of the package):

- the ``light-curve`` package's statistics (amplitude, percentiles, Stetson
  K, ...; :func:`build_extractor`);
- a survey-suited Lomb-Scargle periodogram (:func:`periodogram_features`) on
  one fixed frequency grid for every object, from ``LS_MIN_FREQUENCY`` to
  ``LS_MAX_FREQUENCY`` (30 cycles/day) with a step oversampled for a
  ``LS_BASELINE`` (3000-day, the CRTS span) baseline: the ``LS_PEAKS`` highest
  distinct peaks' log10 periods and powers (standard normalisation, 0..1, and
  in robust standard deviations above the periodogram's median);
- a Fourier series fitted at the dataset's period (the catalog period; the
  best periodogram period when the dataset gives none;
  :func:`fourier_features`): amplitude ratios ``R21, R31, R41``, phase
  differences ``phi21, phi31``, the share of the variance the fit explains
  and the fitted folded curve's skewness, plus the log ratio of the dataset period
  to the best periodogram period (0.3 for an eclipsing binary whose
  periodogram finds half the orbit);

then ``log10_period`` (the dataset's period) and ``n_points`` (points left
after cleaning) as the last two columns.

Features are computed once per prepared dataset for ALL its objects and cached
next to it as ``<dataset>.features.h5``. The cache is keyed on the dataset's
provenance and object table plus the feature list and library version; a
stale or foreign cache is recomputed, never silently reused.

An object with fewer than ``MIN_POINTS`` usable points gets a row of NaN (but
its ``log10_period``/``n_points``), and single features that cannot be
computed are NaN too (the baselines impute them with training medians).
"""

import hashlib
import json
import os
import warnings

import h5py
import light_curve
import numpy as np

from rnngmm.errors import BadLightCurve
from rnngmm.io.atomic import atomic_path
from rnngmm.io.dataset import update_digest
from rnngmm.lightcurves.preprocess import clean

#: Bump when the feature list or its preprocessing changes (invalidates caches).
#: 2: survey-suited periodogram and Fourier features (issue 13.1).
FEATURE_SET_VERSION = 2
#: Fewer cleaned points than this give a row of NaN (the library's
#: periodogram aborts on tiny inputs).
MIN_POINTS = 5
CACHE_FORMAT = "rnngmm-features"

#: Periodogram grid, the same for every object: 1000 days (LPV) to 30 cycles/day
#: (HADS/DSCT), step 1 / (LS_SAMPLES_PER_PEAK * LS_BASELINE) for light curves
#: spanning up to LS_BASELINE days (CRTS: ~3000). The 2 * LS_PEAKS highest
#: coarse peaks are then refined on a grid LS_REFINE times finer around each,
#: so the search is as exact as LS_SAMPLES_PER_PEAK * LS_REFINE samples per
#: peak at ~40 ms per CRTS object (a plain 5-samples-per-peak grid: ~90 ms).
LS_MIN_FREQUENCY = 1e-3
LS_MAX_FREQUENCY = 30.0
LS_BASELINE = 3000.0
LS_SAMPLES_PER_PEAK = 2
LS_REFINE = 10
#: Distinct periodogram peaks reported (highest first).
LS_PEAKS = 3
#: Harmonics of the Fourier fit at the dataset period.
FOURIER_HARMONICS = 4

PERIODOGRAM_NAMES = tuple(
    [f"ls_log10_period_{k}" for k in range(1, LS_PEAKS + 1)]
    + [f"ls_power_{k}" for k in range(1, LS_PEAKS + 1)]
    + [f"ls_snr_{k}" for k in range(1, LS_PEAKS + 1)])
FOURIER_NAMES = ("fourier_log10_amplitude", "fourier_r21", "fourier_r31", "fourier_r41",
                 "fourier_phi21", "fourier_phi31", "fourier_explained_variance",
                 "folded_skew", "log10_period_over_ls_period")


def build_extractor():
    """The ``light_curve.Extractor`` of the library features.

    Its own ``Periodogram`` is left out: :func:`periodogram_features` covers
    the survey's frequencies with a grid suited to its baseline.
    """
    lc = light_curve
    return lc.Extractor(
        lc.Amplitude(), lc.AndersonDarlingNormal(), lc.BeyondNStd(1.0), lc.BeyondNStd(2.0),
        lc.Cusum(), lc.Eta(), lc.EtaE(), lc.ExcessVariance(),
        lc.InterPercentileRange(0.25), lc.InterPercentileRange(0.1), lc.Kurtosis(),
        lc.LinearTrend(), lc.MagnitudePercentageRatio(), lc.MaximumSlope(), lc.Mean(),
        lc.Median(), lc.MedianAbsoluteDeviation(), lc.MedianBufferRangePercentage(),
        lc.PercentAmplitude(), lc.PercentDifferenceMagnitudePercentile(0.05),
        lc.ReducedChi2(), lc.Skew(), lc.StandardDeviation(),
        lc.StetsonK(), lc.WeightedMean(),
    )


def feature_names():
    """Column names: the extractor's features, the periodogram and Fourier
    features, then ``log10_period``, ``n_points`` (always the last two)."""
    return (list(build_extractor().names) + list(PERIODOGRAM_NAMES) + list(FOURIER_NAMES)
            + ["log10_period", "n_points"])


def frequency_grid():
    """The fixed periodogram grid ``(fmin, df, n)`` in cycles/day."""
    df = 1.0 / (LS_SAMPLES_PER_PEAK * LS_BASELINE)
    n = int(np.floor((LS_MAX_FREQUENCY - LS_MIN_FREQUENCY) / df)) + 1
    return LS_MIN_FREQUENCY, df, n


def lomb_scargle_power(time, mag, err, fmin=None, df=None, n=None):
    """Standard-normalised Lomb-Scargle power on a regular grid (default
    :func:`frequency_grid`), times taken relative to the first point.

    nifty-ls on one thread (results bitwise stable; callers parallelise over
    objects); astropy when nifty-ls is missing.
    """
    if fmin is None:
        fmin, df, n = frequency_grid()
    time = np.asarray(time, np.float64)
    time = time - time[0]
    try:
        import nifty_ls
    except ImportError:
        from astropy.timeseries import LombScargle
        frequency = fmin + df * np.arange(n)
        return np.asarray(LombScargle(time, mag, err).power(
            frequency, method="fast", assume_regular_frequency=True))
    result = nifty_ls.lombscargle(time, mag, err, fmin=fmin, fmax=fmin + df * (n - 1),
                                  Nf=n, backend="finufft", nthreads=1)
    return np.asarray(result.power)


def _periodogram_backend():
    """``"nifty-ls <version>"`` or ``"astropy <version>"`` (part of the cache key)."""
    try:
        import nifty_ls
        return f"nifty-ls {getattr(nifty_ls, '__version__', '?')}"
    except ImportError:
        import astropy
        return f"astropy {astropy.__version__}"


def top_peaks(power, n_peaks, min_separation):
    """Indices of the ``n_peaks`` highest local maxima of ``power`` at least
    ``min_separation`` grid steps apart (highest first; fewer if there are not
    enough)."""
    p = np.where(np.isfinite(power), power, -np.inf)
    if len(p) < 3:
        return np.zeros(0, np.int64)
    inner = p[1:-1]
    maxima = np.flatnonzero((inner > p[:-2]) & (inner >= p[2:])) + 1
    maxima = maxima[np.isfinite(p[maxima])]
    # candidates: enough of the highest maxima to fill n_peaks after spacing
    n_candidates = min(len(maxima), 64 * n_peaks)
    if n_candidates < len(maxima):
        maxima = maxima[np.argpartition(-p[maxima], n_candidates - 1)[:n_candidates]]
    order = maxima[np.argsort(-p[maxima], kind="stable")]
    chosen = []
    for index in order:
        if all(abs(index - c) >= min_separation for c in chosen):
            chosen.append(int(index))
            if len(chosen) == n_peaks:
                break
    return np.array(chosen, np.int64)


def periodogram_features(time, mag, err):
    """Top ``LS_PEAKS`` peaks of :func:`lomb_scargle_power` of a cleaned curve.

    The ``2 * LS_PEAKS`` highest coarse-grid peaks are refined on a grid
    ``LS_REFINE`` times finer over the two coarse steps around each, then
    ranked by refined power; a peak closer than the light curve's own peak
    width (1 / its baseline) to a higher one is skipped. ``snr`` is
    the peak's height above the periodogram's median in robust standard
    deviations (1.4826 MAD, estimated on every 16th frequency).

    Returns
    -------
    ndarray of float64, shape (len(PERIODOGRAM_NAMES),)
        log10 periods (days), powers, snr; NaN where undefined.
    """
    out = np.full(len(PERIODOGRAM_NAMES), np.nan)
    if len(time) < MIN_POINTS or np.ptp(mag) == 0 or np.ptp(time) == 0:
        return out
    power = lomb_scargle_power(time, mag, err)
    if not np.any(np.isfinite(power)):
        return out
    fmin, df, _ = frequency_grid()
    peak_width = 1.0 / np.ptp(time)
    candidates = top_peaks(power, 2 * LS_PEAKS, max(1, int(round(peak_width / df))))
    sample = power[::16]
    median = np.nanmedian(sample)
    spread = 1.4826 * np.nanmedian(np.abs(sample - median))
    fine = df / LS_REFINE
    refined = []
    for index in candidates:
        frequency, height = fmin + df * index, power[index]
        start = max(fmin + df * (index - 1), fine)
        local = lomb_scargle_power(time, mag, err, start, fine, 2 * LS_REFINE + 1)
        if np.any(np.isfinite(local)) and np.nanmax(local) > height:
            best = int(np.nanargmax(local))
            frequency, height = start + fine * best, local[best]
        refined.append((height, frequency))
    chosen = []
    for height, frequency in sorted(refined, key=lambda hf: -hf[0]):
        if all(abs(frequency - f) >= peak_width for _, f in chosen):
            chosen.append((height, frequency))
    for k, (height, frequency) in enumerate(chosen[:LS_PEAKS]):
        out[k] = -np.log10(frequency)
        out[LS_PEAKS + k] = height
        if spread > 0:
            out[2 * LS_PEAKS + k] = (height - median) / spread
    return out


def fourier_features(time, mag, err, period, ls_period=np.nan):
    """Fourier series of ``FOURIER_HARMONICS`` harmonics fitted at ``period``.

    The fit is weighted by ``1 / err`` (errors floored at a tenth of their
    median). With ``m = A0 + sum_k A_k cos(2 pi k phase + phi_k)``:
    ``log10 A1``, ``R_k1 = A_k / A1``, ``phi_k1 = phi_k - k phi_1`` (mod 2 pi,
    independent of the epoch), the share of the variance the fit explains,
    the skewness of the fitted (folded) curve, and ``log10(period /
    ls_period)`` (``FOURIER_NAMES``, in that order).

    Parameters
    ----------
    period : float
        Days; NaN or non-positive falls back to ``ls_period``.
    ls_period : float
        The best periodogram period (for ``log10_period_over_ls_period``).

    Returns
    -------
    ndarray of float64, shape (len(FOURIER_NAMES),)
    """
    out = np.full(len(FOURIER_NAMES), np.nan)
    if np.isfinite(period) and period > 0 and np.isfinite(ls_period) and ls_period > 0:
        out[8] = np.log10(period / ls_period)
    if not (np.isfinite(period) and period > 0):
        period = ls_period
    n_params = 2 * FOURIER_HARMONICS + 1
    if not (np.isfinite(period) and period > 0) or len(time) < 2 * n_params:
        return out
    phase = np.mod((time - time[0]) / period, 1.0)
    k = np.arange(1, FOURIER_HARMONICS + 1)
    angle = 2 * np.pi * phase[:, None] * k
    design = np.hstack([np.ones((len(time), 1)), np.cos(angle), np.sin(angle)])
    floor = 0.1 * np.median(err)
    weight = 1.0 / np.maximum(err, floor if floor > 0 else 1e-6)
    coef, *_ = np.linalg.lstsq(design * weight[:, None], mag * weight, rcond=None)
    a, b = coef[1:FOURIER_HARMONICS + 1], coef[FOURIER_HARMONICS + 1:]
    amplitude = np.hypot(a, b)
    phi = np.arctan2(-b, a)
    residual = mag - design @ coef
    variance = np.var(mag)
    if amplitude[0] > 0:
        out[0] = np.log10(amplitude[0])
        out[1:4] = amplitude[1:4] / amplitude[0]
        out[4] = np.mod(phi[1] - 2 * phi[0], 2 * np.pi)
        out[5] = np.mod(phi[2] - 3 * phi[0], 2 * np.pi)
    if variance > 0:
        out[6] = 1.0 - np.var(residual) / variance
        model = design @ coef - coef[0]
        spread = np.std(model)
        if spread > 0:
            out[7] = np.mean(model ** 3) / spread ** 3
    return out


def features_of_lightcurve(extractor, time, mag, err, period=np.nan):
    """Feature vector of one raw light curve (NaN for failed features).

    Parameters
    ----------
    extractor : light_curve.Extractor
        From :func:`build_extractor`.
    time, mag, err : array_like
        Raw photometry (cleaned here).
    period : float, optional
        The dataset's period (days) for the Fourier features; NaN: the best
        periodogram period is used.

    Returns
    -------
    features : ndarray of float64, shape (len(feature_names()) - 2,)
        Extractor, periodogram and Fourier features.
    n_points : int
        Points left after cleaning (0 when none).
    """
    n_out = len(extractor.names) + len(PERIODOGRAM_NAMES) + len(FOURIER_NAMES)
    try:
        time, mag, err, _ = clean(time, mag, err)
    except BadLightCurve:
        return np.full(n_out, np.nan), 0
    if len(time) < MIN_POINTS:
        return np.full(n_out, np.nan), len(time)
    try:
        values = extractor(time, mag, err, fill_value=np.nan, sorted=True, check=False)
    except BaseException as exc:  # the Rust library raises PanicException (a BaseException)
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        values = np.full(len(extractor.names), np.nan)
    try:
        periodogram = periodogram_features(time, mag, err)
    except (ValueError, RuntimeError, FloatingPointError):
        periodogram = np.full(len(PERIODOGRAM_NAMES), np.nan)
    ls_period = 10.0 ** periodogram[0]
    try:
        fourier = fourier_features(time, mag, err, float(period), ls_period)
    except (ValueError, np.linalg.LinAlgError):
        fourier = np.full(len(FOURIER_NAMES), np.nan)
    return (np.concatenate([np.asarray(values, dtype=np.float64), periodogram, fourier]),
            len(time))


def compute_features(dataset, indices=None):
    """Features of ``indices`` (default all) of an open ``Dataset``.

    Returns
    -------
    ndarray of float64, shape (n, n_features)
        Columns as :func:`feature_names`.
    """
    indices = np.arange(len(dataset)) if indices is None else np.asarray(indices, np.int64)
    extractor = build_extractor()
    out = np.full((len(indices), len(feature_names())), np.nan)
    position = {int(i): n for n, i in enumerate(indices)}
    with np.errstate(all="ignore"):
        for i, time, mag, err in dataset.iter_lightcurves(indices):
            row = position[i]
            period = dataset.periods[i]
            out[row, :-2], out[row, -1] = features_of_lightcurve(extractor, time, mag, err,
                                                                 period)
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
                light_curve=getattr(light_curve, "__version__", "?"),
                periodogram=_periodogram_backend())
    digest.update(json.dumps(meta, sort_keys=True).encode())
    # the photometry itself, streamed in blocks (far cheaper than extraction)
    return update_digest(digest, dataset).hexdigest()


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
