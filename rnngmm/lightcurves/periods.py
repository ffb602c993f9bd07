"""Lomb-Scargle periods for objects whose catalog gives none.

The period is the highest peak of the standard-normalised, floating-mean
Lomb-Scargle periodogram over the frequencies of :func:`frequency_grid`
(``min_period`` to ``min(max_period, baseline)``, ``samples_per_peak``
samples per peak width 1 / baseline). Two searches:

* **exhaustive** (:func:`exhaustive_period`, the search before issue 16.4 and
  the one used with astropy): the whole grid in one periodogram, nifty-ls
  (a fast non-uniform FFT) when installed, astropy's ``LombScargle``
  otherwise; the answer is the best grid point. ~50 ms per CRTS light curve
  (8-year baseline: 300k frequencies), i.e. 5 core-days for 10^7 objects.
* **coarse then refined** (:func:`lomb_scargle_period` with nifty-ls, issue
  16.4), ~13x faster (3.8 ms per CRTS light curve):

  1. the classical (Schuster) periodogram ``|sum w (y - ybar) exp(2 pi i f t)|^2``
     on a grid of ``COARSE_SAMPLES_PER_PEAK`` samples per peak: one
     single-precision finufft transform whose plan is kept between calls
     (making the plan costs more than the transform);
  2. its ``SCREEN_CANDIDATES`` highest local maxima are screened with the
     exact Lomb-Scargle power (direct sums) at the maximum and half a coarse
     step either side (the classical periodogram is only a guide: near
     window peaks, e.g. f -> 0 or daily aliases, its maxima are shifted);
  3. the ``REFINE_CANDIDATES`` best are refined on every point of the fine
     grid within ``REFINE_HALF_WIDTH`` coarse steps (float32 direct sums),
     climbing uphill past a window edge;
  4. the highest grid maxima (up to ``POLISH_PEAKS`` within ``POLISH_TOLERANCE``
     of the best: a grid point can sit up to 1/10 of a peak width off its top)
     are refined off the grid (:func:`_polish`: 9 points across +-1 grid step
     of each pick the peak, then float64 points across +-1/4 step and a
     parabola refine it to ~1/1000 of a step).

  The answer is thus the exhaustive search's peak refined off the grid
  (power never lower, period within one grid step) unless the exhaustive
  peak was missed by the coarse stage or lost to a higher true peak between
  grid points. Measured on CRTS: ``BENCHMARKS.md``, "Period search (issue 16.4)".

Grids of at most ``SMALL_GRID`` frequencies, or ``GRID_PER_POINT`` per point
(long light curves, where the direct sums cost more than one FFT), get the
exhaustive nifty-ls grid then step 4.

Everything runs on one thread (callers parallelise over objects) and is
bitwise stable: FFTW plans use FFTW_ESTIMATE (no timing-dependent choice),
finufft plans are per thread, and the answer comes from direct sums.
"""

import math
import threading

import numpy as np

from rnngmm.errors import BadLightCurve

#: Shortest period searched (days): below this ground-based cadence aliases dominate.
MIN_PERIOD = 0.05
#: Longest period searched (days), further capped at the light curve's baseline.
MAX_PERIOD = 1000.0
#: Frequency samples per periodogram peak width (1 / baseline).
SAMPLES_PER_PEAK = 5
#: Fewer points than this cannot constrain a period.
MIN_POINTS = 5
#: Largest frequency grid searched: a baseline needing more (e.g. one junk epoch
#: at MJD -2.4e6, seen in real CRTS files) would otherwise take gigabytes.
MAX_FREQUENCIES = 2_000_000

#: Coarse search: samples per peak width of the coarse (Schuster) periodogram.
COARSE_SAMPLES_PER_PEAK = 2.0
#: Highest local maxima of the coarse periodogram screened with the exact power.
SCREEN_CANDIDATES = 100
#: Screened candidates refined on the fine grid.
REFINE_CANDIDATES = 10
#: Half width (coarse steps) of the fine-grid window refined around each.
REFINE_HALF_WIDTH = 1.0
#: Refine the best grid maxima off the grid (to ~1/1000 of a grid step).
POLISH = True
#: Grid maxima refined off the grid: those within this fraction of the highest
#: (a peak sampled 1/5 of its width off its top loses up to ~3%) ...
POLISH_TOLERANCE = 0.04
#: ... at most this many.
POLISH_PEAKS = 4
#: Requested finufft precision of the coarse transform (single precision).
COARSE_EPS = 1e-4
#: Fine grids up to this size are searched exhaustively (as fast, simpler) ...
SMALL_GRID = 4096
#: ... and so are grids of at most this many frequencies per light-curve point:
#: the direct sums of the refinement cost about points x 500, more than one
#: non-uniform FFT of the whole grid for long light curves; this value sits
#: just above the crossover of the two costs.
GRID_PER_POINT = 40
#: finufft plans kept per thread (one per coarse grid size).
PLAN_CACHE_SIZE = 8
#: Largest (frequencies x points) block of a direct evaluation (work arrays
#: of this size are kept per thread).
_DIRECT_BLOCK = 1 << 18
#: Coarse samples per block when looking for the highest local maxima.
_COARSE_BLOCK = 8

_FFTW_ESTIMATE = 64
_local = threading.local()


def frequency_grid(time, min_period=MIN_PERIOD, max_period=MAX_PERIOD,
                   samples_per_peak=SAMPLES_PER_PEAK):
    """Regular frequency grid ``(fmin, df, n)`` in cycles/day for ``time``.

    The step is ``1 / (samples_per_peak * baseline)`` so every peak is sampled;
    the longest period is the smaller of ``max_period`` and the baseline.
    """
    baseline = float(np.max(time) - np.min(time))
    if not baseline > 0:
        raise BadLightCurve("zero time baseline: cannot search a period")
    fmax = 1.0 / min_period
    fmin = 1.0 / min(max_period, baseline)
    df = 1.0 / (samples_per_peak * baseline)
    n = int(np.floor((fmax - fmin) / df)) + 1
    if n < 2:
        raise BadLightCurve(f"baseline {baseline:.3g} d too short for periods "
                            f"above {min_period} d")
    if n > MAX_FREQUENCIES:
        raise BadLightCurve(f"baseline too long for a period search ({baseline:.4g} d "
                            f"needs {n} frequencies > {MAX_FREQUENCIES}; a junk epoch?)")
    return fmin, df, n


def _power_nifty(time, mag, err, fmin, df, n):
    import nifty_ls
    # One thread: MPI ranks already use every core, and results stay bitwise stable.
    result = nifty_ls.lombscargle(time, mag, err, fmin=fmin, fmax=fmin + df * (n - 1),
                                  Nf=n, backend="finufft", nthreads=1)
    return result.power


def _power_astropy(time, mag, err, fmin, df, n):
    from astropy.timeseries import LombScargle
    frequency = fmin + df * np.arange(n)
    return LombScargle(time, mag, err).power(frequency, method="fast",
                                             assume_regular_frequency=True)


def available_backend():
    """``"nifty-ls"`` if importable, else ``"astropy"``."""
    try:
        import nifty_ls  # noqa: F401
    except ImportError:
        return "astropy"
    return "nifty-ls"


def _check(time, mag, err):
    time = np.asarray(time, dtype=np.float64)
    mag = np.asarray(mag, dtype=np.float64)
    err = np.asarray(err, dtype=np.float64)
    if len(time) < MIN_POINTS:
        raise BadLightCurve(f"too few points for a period search ({len(time)} < {MIN_POINTS})")
    if np.ptp(mag) == 0:
        raise BadLightCurve("constant magnitudes: no period")
    return time, mag, err


def _best(power, fmin, df):
    power = np.asarray(power)
    if not np.any(np.isfinite(power)):
        raise BadLightCurve("Lomb-Scargle periodogram has no finite power")
    best = int(np.nanargmax(power))
    return 1.0 / (fmin + df * best), float(power[best])


def exhaustive_period(time, mag, err, *, min_period=MIN_PERIOD, max_period=MAX_PERIOD,
                      samples_per_peak=SAMPLES_PER_PEAK, backend=None):
    """Period at the highest Lomb-Scargle peak of the whole grid (one periodogram).

    Same arguments, result and errors as :func:`lomb_scargle_period`; the
    reference the coarse-then-refined search is checked against, and the
    search used with the astropy backend.
    """
    time, mag, err = _check(time, mag, err)
    fmin, df, n = frequency_grid(time, min_period, max_period, samples_per_peak)
    backend = backend or available_backend()
    compute = {"nifty-ls": _power_nifty, "astropy": _power_astropy}[backend]
    # Shift times to start at 0 in float64: smaller phases, same periodogram.
    power = np.asarray(compute(time - time.min(), mag, err, fmin, df, n))
    return _best(power, fmin, df)


def _plan(n_modes):
    """A cached single-precision type-1 finufft plan for ``n_modes`` modes."""
    import finufft
    cache = getattr(_local, "plans", None)
    if cache is None:
        cache = _local.plans = {}
    plan = cache.pop(n_modes, None)
    if plan is None:
        if len(cache) >= PLAN_CACHE_SIZE:
            cache.pop(next(iter(cache)))  # least recently used
        plan = finufft.Plan(1, (n_modes,), n_trans=1, eps=COARSE_EPS, isign=1,
                            dtype="complex64", nthreads=1, fftw=_FFTW_ESTIMATE,
                            modeord=0)
    cache[n_modes] = plan  # most recently used last
    return plan


def _coarse_size(n):
    """Smallest ``m * 2**k >= n`` with ``8 <= m <= 15`` (few distinct plans)."""
    if n <= 16:
        return 16
    k = int(n).bit_length() - 4
    return -(-n // (1 << k)) << k


def _scratch(name, shape, dtype):
    """A per-thread work array, reused between calls: fresh large arrays cost
    more in page faults than the arithmetic done in them."""
    store = getattr(_local, "scratch", None)
    if store is None:
        store = _local.scratch = {}
    size = math.prod(shape) if isinstance(shape, tuple) else shape
    buffer = store.get((name, dtype))
    if buffer is None or buffer.size < size:
        buffer = store[(name, dtype)] = np.empty(size, dtype)
    return buffer[:size].reshape(shape)


def _schuster(t, wy, fmin, dfc, n_modes, guard):
    """Work array ``padded`` (float32) with ``padded[1:n_modes + 1]`` =
    ``|sum_j wy_j exp(2 pi i f_k t_j)|^2`` at ``f_k = fmin + k dfc`` (non-finite
    values as -inf), one -inf before and ``guard`` -inf after."""
    u = dfc * t
    x = 2 * np.pi * (u - np.round(u))  # exp(i k x) has period 2 pi in x
    # modes -n/2 .. n/2-1 of finufft are frequencies fmin + (k + n/2) dfc
    cycles = fmin * t
    phase = 2 * np.pi * (cycles - np.floor(cycles)) + (n_modes // 2) * x
    plan = _plan(n_modes)
    plan.setpts(x.astype(np.float32))
    amplitude = plan.execute((wy * np.exp(1j * phase)).astype(np.complex64),
                             out=_scratch("amplitude", n_modes, np.complex64))
    padded = _scratch("padded", n_modes + 1 + guard, np.float32)
    padded[0] = -np.inf
    padded[n_modes + 1:] = -np.inf
    power = padded[1:n_modes + 1]
    np.multiply(amplitude.real, amplitude.real, out=power)
    square = _scratch("square", n_modes, np.float32)
    np.multiply(amplitude.imag, amplitude.imag, out=square)
    power += square
    if not np.all(np.isfinite(power)):
        power[~np.isfinite(power)] = -np.inf
    return padded


def _peak_candidates(padded, n, k, block):
    """Indices of the ``k`` highest local maxima of ``power = padded[1:n + 1]``
    (highest first, ties by index; the two ends count as maxima when above
    their neighbour), looked for within the ``4 k`` blocks of ``block``
    samples with the highest maxima (a peak spans at most a few blocks).
    ``padded`` holds -inf before and at least ``block + 1`` values after."""
    n_blocks = -(-n // block)
    tops = padded[1:1 + block * n_blocks:block].copy()
    for j in range(1, block):
        np.maximum(tops, padded[1 + j:1 + block * n_blocks:block], out=tops)
    m = min(4 * k, n_blocks)
    blocks = np.sort(np.argpartition(-tops, m - 1)[:m])
    # samples of the chosen blocks, each with its two neighbours
    index = (blocks[:, None] * block + np.arange(block)).ravel()
    index = index[index < n]
    centre = padded[index + 1]
    is_peak = (centre > padded[index]) & (centre >= padded[index + 2]) & np.isfinite(centre)
    peaks = index[is_peak]
    value = padded[peaks + 1]
    if len(peaks) > k:
        keep = np.argpartition(-value, k - 1)[:k]
        peaks, value = peaks[keep], value[keep]
    return peaks[np.lexsort((peaks, -value))]


def _exact_power(t, w, wy, yy, frequency, single=False):
    """Exact floating-mean Lomb-Scargle power (standard normalisation) at
    ``frequency`` by direct sums (``t`` from 0, ``w`` summing to 1,
    ``wy = w * (y - ybar)``, ``yy = sum wy (y - ybar)``).

    Phases are reduced to one cycle in float64; ``single`` then takes the
    sines and sums in float32 (~1e-7 absolute error in the power, ~3x faster).
    """
    frequency = np.asarray(frequency, np.float64)
    rows = max(1, _DIRECT_BLOCK // max(1, len(t)))
    if len(frequency) > rows:  # bounded work arrays for long light curves
        return np.concatenate([_exact_power(t, w, wy, yy, frequency[i:i + rows], single)
                               for i in range(0, len(frequency), rows)])
    shape = (len(frequency), len(t))
    cycles = _scratch("cycles", shape, np.float64)
    np.multiply.outer(frequency, t, out=cycles)
    whole = _scratch("whole", shape, np.float64)
    np.floor(cycles, out=whole)
    cycles -= whole
    cycles *= 2 * np.pi
    dtype = np.float32 if single else np.float64
    if single:
        angle = _scratch("angle", shape, np.float32)
        angle[...] = cycles
    else:
        angle = cycles
    c = _scratch("cos", shape, dtype)
    s = _scratch("sin", shape, dtype)
    np.cos(angle, out=c)
    np.sin(angle, out=s)
    weights = np.stack([w, wy], axis=1).astype(dtype)
    cw, sw = c @ weights, s @ weights
    C, YC, S, YS = cw[:, 0], cw[:, 1], sw[:, 0], sw[:, 1]
    s *= c
    csw = s @ weights[:, 0]
    c *= c
    ccw = c @ weights[:, 0]
    CC = ccw - C * C
    SS = (1 - ccw) - S * S
    CS = csw - C * S
    with np.errstate(invalid="ignore", divide="ignore"):
        power = (SS * YC * YC + CC * YS * YS - 2 * CS * YC * YS) / (yy * (CC * SS - CS * CS))
    return power.astype(np.float64)


def _finite(power):
    return np.where(np.isfinite(power), power, -np.inf)


def _polish(t, w, wy, yy, frequency, df, fmin, fmax):
    """``(frequency, power)`` of the highest peak near the grid maxima
    ``frequency`` (array), refined off the grid: 9 points across ``+-df`` of
    each (float32) pick the peak; 9 points across ``+-df/4`` of its best point
    and the vertex of the parabola through the best of those and its two
    neighbours (float64, kept if higher) refine it to ~df/1000."""
    offsets = np.arange(-4, 5) / 4.0
    grid = np.clip(np.asarray(frequency, np.float64)[:, None] + df * offsets, fmin, fmax).ravel()
    values = _finite(_exact_power(t, w, wy, yy, grid, single=True))
    if not np.isfinite(np.max(values)):
        raise BadLightCurve("Lomb-Scargle periodogram has no finite power")
    step = df / 4
    grid = np.clip(grid[int(np.argmax(values))] + step * offsets, fmin, fmax)
    values = _finite(_exact_power(t, w, wy, yy, grid))
    k = int(np.argmax(values))
    best, power = float(grid[k]), float(values[k])
    step /= 4  # the spacing of this grid
    if 0 < k < len(grid) - 1 and np.all(np.isfinite(values[k - 1:k + 2])):
        left, mid, right = values[k - 1:k + 2]
        curvature = left - 2 * mid + right
        if curvature < 0:
            vertex = best + 0.5 * step * (left - right) / curvature
            if fmin <= vertex <= fmax:
                value = float(_exact_power(t, w, wy, yy, [vertex])[0])
                if value > power:
                    best, power = vertex, value
    if not np.isfinite(power):
        raise BadLightCurve("Lomb-Scargle periodogram has no finite power")
    return best, power


def _top_maxima(index, power, limit):
    """Positions in ``index`` (sorted grid indices, possibly with gaps) of the
    local maxima of ``power`` within ``POLISH_TOLERANCE`` of its maximum, at
    most ``limit``, highest first. A point next to a gap counts as a maximum
    if it is above its other neighbour."""
    index = np.asarray(index)
    before = np.full(len(power), -np.inf)
    after = np.full(len(power), -np.inf)
    contiguous = np.diff(index) == 1
    before[1:] = np.where(contiguous, power[:-1], -np.inf)
    after[:-1] = np.where(contiguous, power[1:], -np.inf)
    top = np.max(power)
    keep = np.flatnonzero((power > before) & (power >= after)
                          & (power >= top - POLISH_TOLERANCE * abs(top)))
    return keep[np.lexsort((keep, -power[keep]))][:limit]


def _weighted(time, mag, err):
    """``t`` from 0, weights ``w`` summing to 1, ``wy = w (y - ybar)`` and
    ``yy = sum wy (y - ybar)`` of the floating-mean periodogram."""
    t = time - time.min()
    w = 1.0 / err ** 2
    w = w / np.sum(w)
    y = mag - np.dot(w, mag)
    wy = w * y
    return t, w, wy, float(np.dot(wy, y))


def _grid_peaks(t, w, wy, yy, fmin, df, n):
    """Grid indices ``j`` (frequencies ``fmin + j df``) of the highest local
    maxima (float32 exact power) of the fine-grid windows around the best
    coarse peaks, the highest first."""
    fmax = fmin + df * (n - 1)
    n_modes = _coarse_size(int(np.ceil((fmax - fmin) * COARSE_SAMPLES_PER_PEAK * np.ptp(t))) + 2)
    dfc = (fmax - fmin) / (n_modes - 1)
    padded = _schuster(t, wy, fmin, dfc, n_modes, guard=_COARSE_BLOCK + 1)
    fc = fmin + dfc * _peak_candidates(padded, n_modes, SCREEN_CANDIDATES, _COARSE_BLOCK)
    # screen at the candidate and half a coarse step either side (scalloping)
    screen = np.clip(np.concatenate([fc - 0.5 * dfc, fc, fc + 0.5 * dfc]), fmin, fmax)
    score = np.max(_finite(_exact_power(t, w, wy, yy, screen, single=True)).reshape(3, -1),
                   axis=0)
    fc = fc[np.argsort(-score, kind="stable")[:REFINE_CANDIDATES]]
    # every fine-grid point within REFINE_HALF_WIDTH coarse steps of the best candidates
    half = REFINE_HALF_WIDTH * dfc
    lo = np.clip(np.floor((fc - half - fmin) / df).astype(np.int64), 0, n - 1)
    hi = np.clip(np.ceil((fc + half - fmin) / df).astype(np.int64), 0, n - 1)
    index = np.unique(np.concatenate([np.arange(a, b + 1) for a, b in zip(lo, hi)]))
    rough = _finite(_exact_power(t, w, wy, yy, fmin + df * index, single=True))
    if not np.isfinite(np.max(rough)):
        raise BadLightCurve("Lomb-Scargle periodogram has no finite power")
    known = dict(zip(index.tolist(), rough.tolist()))
    peaks = []
    for j in index[_top_maxima(index, rough, POLISH_PEAKS)].tolist():
        top = known[j]
        # a peak may lie beyond its window's edge: climb while the power rises
        for step in (-1, 1):
            while 0 <= j + step < n:
                value = known.get(j + step)
                if value is None:
                    value = known[j + step] = float(_finite(_exact_power(
                        t, w, wy, yy, [fmin + df * (j + step)], single=True))[0])
                if not value > top:
                    break
                j, top = j + step, value
        if j not in peaks:
            peaks.append(j)
    return np.array(peaks)


def lomb_scargle_period(time, mag, err, *, min_period=MIN_PERIOD, max_period=MAX_PERIOD,
                        samples_per_peak=SAMPLES_PER_PEAK, backend=None):
    """Period at the highest Lomb-Scargle peak.

    With nifty-ls (finufft) the highest point of the grid of
    :func:`frequency_grid` is found by a coarse periodogram and a refinement
    of its best peaks (the whole grid when it has at most ``SMALL_GRID``
    frequencies), then refined off the grid to ~1/1000 of a grid step (see
    the module docstring). With astropy the grid maximum of the whole grid is
    returned (:func:`exhaustive_period`, ~10x slower).

    Parameters
    ----------
    time, mag, err : array_like
        A cleaned light curve (time in days, kept float64).
    min_period, max_period : float
        Search range in days (``max_period`` is also capped at the baseline).
    samples_per_peak : int
        Grid oversampling.
    backend : {"nifty-ls", "astropy"}, optional
        Default: nifty-ls when installed.

    Returns
    -------
    period : float
        Days.
    power : float
        Peak power (standard normalisation, 0..1).

    Raises
    ------
    BadLightCurve
        Too few points, zero baseline, constant magnitudes, or no finite peak.
    """
    time, mag, err = _check(time, mag, err)
    fmin, df, n = frequency_grid(time, min_period, max_period, samples_per_peak)
    backend = backend or available_backend()
    if backend not in ("nifty-ls", "astropy"):
        raise KeyError(backend)
    if backend == "astropy":
        return exhaustive_period(time, mag, err, min_period=min_period,
                                 max_period=max_period, samples_per_peak=samples_per_peak,
                                 backend=backend)
    t, w, wy, yy = _weighted(time, mag, err)
    if n <= max(SMALL_GRID, GRID_PER_POINT * len(time)):
        power = _finite(np.asarray(_power_nifty(t, mag, err, fmin, df, n), np.float64))
        if not np.isfinite(np.max(power)):
            raise BadLightCurve("Lomb-Scargle periodogram has no finite power")
        peaks = _top_maxima(np.arange(n), power, POLISH_PEAKS)
    else:
        peaks = _grid_peaks(t, w, wy, yy, fmin, df, n)
    if not POLISH:  # the first (highest) grid maximum, exact power in float64
        top = float(_exact_power(t, w, wy, yy, [fmin + df * peaks[0]])[0])
        return 1.0 / (fmin + df * peaks[0]), top
    frequency, power = _polish(t, w, wy, yy, fmin + df * peaks, df, fmin, fmin + df * (n - 1))
    return 1.0 / frequency, power
