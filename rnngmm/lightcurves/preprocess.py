"""Light-curve preprocessing as small pure numpy functions (no TensorFlow).

The same functions serve ``prepare``, ``train``, ``score`` and ``flag`` so that
every stage sees identical inputs. Times stay float64 through every
subtraction: MJD in float32 has a resolution of minutes, which would destroy
short periods; only the final lags are cast to float32.
"""

from dataclasses import dataclass

import numpy as np

from rnngmm.errors import BadLightCurve

#: Points further than this from the light curve's median epoch (days) are
#: dropped as implausible: a JD among MJDs is 2.4 million days off, and real
#: CRTS files hold the odd epoch at MJD -2409998.5. 100 years keeps any survey.
MAX_EPOCH_DISTANCE = 36525.0

#: Magnitudes outside this range are dropped as implausible. The Sun is -26.7
#: and the deepest exposures reach about +32, so nothing real lies outside;
#: what does is a fill value (1e30, -99.99, 99.99) that would otherwise top
#: the anomaly list. Differential and instrumental magnitudes fit too.
MAG_RANGE = (-30.0, 40.0)

#: Magnitude errors above this are dropped as implausible: 10 mag is a flux
#: uncertainty of a factor 10^4, i.e. no measurement (ASAS-SN and others
#: write 99.99 for "no error"). Real faint points stay below ~2 mag.
MAX_MAG_ERROR = 10.0

#: Floor on a chunk's magnitude standard deviation, so a constant light curve
#: standardises to zeros instead of dividing by zero.
MIN_STD = 1e-6


@dataclass
class Chunks:
    """Network inputs for the chunks of one or more objects.

    Attributes
    ----------
    x : ndarray, shape (n_chunks, n_max, 2), float32
        Per step: time lag since the previous point (days, or phase when
        folded; 0 for the first point) and standardised magnitude. Padding
        steps (right-padded) are zero.
    weights : ndarray, shape (n_chunks, n_max), float32
        Reconstruction weights ``std / err`` normalised to mean 1 over the
        chunk's valid points; 0 marks padding, so ``weights > 0`` is the mask.
    supports : ndarray, shape (n_chunks, 3), float32
        Mean magnitude, magnitude standard deviation, log10 period (days).
    """

    x: np.ndarray
    weights: np.ndarray
    supports: np.ndarray

    def __len__(self):
        return len(self.x)

    @property
    def mask(self):
        """Boolean (n_chunks, n_max): True on real points."""
        return self.weights > 0

    @staticmethod
    def concatenate(parts, n_max):
        """Stack several ``Chunks`` (an empty list gives zero chunks)."""
        if not parts:
            return Chunks(np.zeros((0, n_max, 2), np.float32),
                          np.zeros((0, n_max), np.float32),
                          np.zeros((0, 3), np.float32))
        return Chunks(np.concatenate([p.x for p in parts]),
                      np.concatenate([p.weights for p in parts]),
                      np.concatenate([p.supports for p in parts]))


def clean(time, mag, err, *, sigma_clip=None):
    """Sort by time and drop unusable points.

    Drops non-finite values, non-positive errors, magnitudes outside
    ``MAG_RANGE`` and errors above ``MAX_MAG_ERROR`` (fill values such as
    1e30 or -99.99 +- 99.99), epochs more than ``MAX_EPOCH_DISTANCE`` days
    from the median epoch (mixed-up JD/MJD, junk epochs) and exact duplicate
    epochs (the first of each is kept); optionally drops points more than
    ``sigma_clip`` robust standard deviations (1.4826 MAD) from the median.

    Parameters
    ----------
    time, mag, err : array_like
        One object's photometry; ``time`` is converted to float64.
    sigma_clip : float, optional
        Clip threshold in robust sigmas; None disables clipping.

    Returns
    -------
    time : ndarray of float64
    mag, err : ndarray of float64
    dropped : dict
        Number of points dropped per reason (only non-zero counts).

    Raises
    ------
    BadLightCurve
        If the arrays have different lengths or no point survives.
    """
    time = np.asarray(time, dtype=np.float64).ravel()
    mag = np.asarray(mag, dtype=np.float64).ravel()
    err = np.asarray(err, dtype=np.float64).ravel()
    if not (len(time) == len(mag) == len(err)):
        raise BadLightCurve(f"time, mag and err have different lengths "
                            f"({len(time)}, {len(mag)}, {len(err)})")
    if len(time) == 0:
        raise BadLightCurve("empty light curve")
    dropped = {}

    def keep(mask, reason):
        nonlocal time, mag, err
        n_bad = int(np.count_nonzero(~mask))
        if n_bad:
            dropped[reason] = dropped.get(reason, 0) + n_bad
            time, mag, err = time[mask], mag[mask], err[mask]

    keep(np.isfinite(time) & np.isfinite(mag) & np.isfinite(err), "non-finite")
    keep(err > 0, "non-positive error")
    # Before the epoch cut, so the median epoch comes from real points.
    keep((mag >= MAG_RANGE[0]) & (mag <= MAG_RANGE[1]), "implausible magnitude")
    keep(err <= MAX_MAG_ERROR, "implausible error")
    if len(time):
        keep(np.abs(time - np.median(time)) <= MAX_EPOCH_DISTANCE, "implausible epoch")
    order = np.argsort(time, kind="stable")
    time, mag, err = time[order], mag[order], err[order]
    if len(time) > 1:
        keep(np.concatenate([[True], np.diff(time) > 0]), "duplicate epoch")
    if sigma_clip is not None and len(mag) > 2:
        median = np.median(mag)
        robust_std = 1.4826 * np.median(np.abs(mag - median))
        if robust_std > 0:
            keep(np.abs(mag - median) <= sigma_clip * robust_std, "sigma-clipped")
    if len(time) == 0:
        reasons = ", ".join(f"{k}: {v}" for k, v in dropped.items())
        raise BadLightCurve(f"no usable points ({reasons})")
    return time, mag, err, dropped


def check_period(period, time=None):
    """Return ``period`` as a float if usable, else raise ``BadLightCurve``.

    A usable period is finite and positive; when ``time`` is given it must
    also not exceed the light curve's baseline (a longer "period" was never
    observed to repeat).
    """
    try:
        period = float(period)
    except (TypeError, ValueError):
        raise BadLightCurve(f"period {period!r} is not a number") from None
    if not np.isfinite(period) or period <= 0:
        raise BadLightCurve(f"no usable period ({period!r})")
    if time is not None and len(time) > 1:
        baseline = float(time[-1] - time[0])
        if period > baseline:
            raise BadLightCurve(
                f"period {period:.6g} d is longer than the baseline {baseline:.6g} d")
    return period


def phase_fold(time, period, epoch=None):
    """Phase in [0, 1) of each time for ``period``, computed in float64."""
    time = np.asarray(time, dtype=np.float64)
    epoch = time[0] if epoch is None else epoch
    return np.mod(time - epoch, period) / period


def chunk_bounds(n_points, n_min, n_max):
    """Start/stop indices of the chunks of a light curve of ``n_points``.

    Curves of at most ``n_max`` points give one chunk (padded later). Longer
    curves give ``ceil(n_points / n_max)`` full chunks of ``n_max`` points with
    evenly spread starts, so every point is used and no chunk is padded
    (consecutive chunks may overlap by a few points).

    Raises
    ------
    BadLightCurve
        If ``n_points < n_min``.
    """
    if n_points < n_min:
        raise BadLightCurve(f"too few points ({n_points} < n_min={n_min})")
    if n_points <= n_max:
        return [(0, n_points)]
    n_chunks = -(-n_points // n_max)
    starts = np.round(np.linspace(0, n_points - n_max, n_chunks)).astype(int)
    return [(int(s), int(s) + n_max) for s in starts]


def standardise_chunk(time, mag, err, period, n_max):
    """Network inputs for one chunk of at most ``n_max`` cleaned points.

    ``time`` may be epochs (float64 days) or phases; lags are taken in float64
    and only then cast. Returns ``(x, weights, supports)`` for a single chunk,
    right-padded to ``n_max`` steps.
    """
    n = len(time)
    mean = float(np.mean(mag))
    std = max(float(np.std(mag)), MIN_STD)
    lags = np.diff(np.asarray(time, dtype=np.float64), prepend=time[0])
    x = np.zeros((n_max, 2), np.float32)
    x[:n, 0] = lags
    x[:n, 1] = (mag - mean) / std
    weights = np.zeros(n_max, np.float32)
    inverse_err = std / np.asarray(err, dtype=np.float64)
    weights[:n] = inverse_err / inverse_err.mean()
    supports = np.array([mean, std, np.log10(period)], np.float32)
    return x, weights, supports


def make_chunks(time, mag, err, period, *, n_min, n_max, period_fold=False):
    """Cut one cleaned light curve into standardised chunks.

    Parameters
    ----------
    time, mag, err : ndarray
        Output of :func:`clean` (sorted, finite, positive errors).
    period : float
        Period in days (checked with :func:`check_period`).
    n_min, n_max : int
        Minimum points of an object, and steps per chunk.
    period_fold : bool
        If True, phase-fold on ``period`` and sort by phase before chunking.

    Returns
    -------
    Chunks
    """
    period = check_period(period)
    positions, order, bounds = chunk_layout(time, period, n_min=n_min, n_max=n_max,
                                            period_fold=period_fold)
    mag, err = mag[order], err[order]
    parts = [standardise_chunk(positions[a:b], mag[a:b], err[a:b], period, n_max)
             for a, b in bounds]
    x, weights, supports = (np.stack(p) for p in zip(*parts))
    return Chunks(x, weights, supports)


def chunk_layout(time, period, *, n_min, n_max, period_fold=False):
    """Where :func:`make_chunks` puts each point: the one definition of the cut.

    Parameters
    ----------
    time : ndarray of float64
        Cleaned, sorted epochs.
    period : float
    n_min, n_max : int
    period_fold : bool

    Returns
    -------
    positions : ndarray of float64
        Epochs, or phases sorted by phase when ``period_fold``.
    order : ndarray of int
        Index into ``time`` of each position.
    bounds : list of (int, int)
        ``[start, stop)`` of each chunk in ``positions``.

    Raises
    ------
    BadLightCurve
        If there are fewer than ``n_min`` points.
    """
    time = np.asarray(time, dtype=np.float64)
    if period_fold:
        phase = phase_fold(time, period)
        order = np.argsort(phase, kind="stable")
        positions = phase[order]
    else:
        order = np.arange(len(time))
        positions = time
    return positions, order, chunk_bounds(len(time), n_min, n_max)
