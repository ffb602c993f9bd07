"""Lomb-Scargle periods for objects whose catalog gives none.

Uses nifty-ls (a fast non-uniform FFT periodogram) when installed and
astropy's ``LombScargle`` otherwise; both compute the same standard-normalised
periodogram on the same frequency grid.
"""

import numpy as np

from .errors import BadLightCurve

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


def lomb_scargle_period(time, mag, err, *, min_period=MIN_PERIOD, max_period=MAX_PERIOD,
                        samples_per_peak=SAMPLES_PER_PEAK, backend=None):
    """Period at the highest Lomb-Scargle peak.

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
    time = np.asarray(time, dtype=np.float64)
    mag = np.asarray(mag, dtype=np.float64)
    err = np.asarray(err, dtype=np.float64)
    if len(time) < MIN_POINTS:
        raise BadLightCurve(f"too few points for a period search ({len(time)} < {MIN_POINTS})")
    if np.ptp(mag) == 0:
        raise BadLightCurve("constant magnitudes: no period")
    fmin, df, n = frequency_grid(time, min_period, max_period, samples_per_peak)
    backend = backend or available_backend()
    compute = {"nifty-ls": _power_nifty, "astropy": _power_astropy}[backend]
    # Shift times to start at 0 in float64: smaller phases, same periodogram.
    power = np.asarray(compute(time - time.min(), mag, err, fmin, df, n))
    if not np.any(np.isfinite(power)):
        raise BadLightCurve("Lomb-Scargle periodogram has no finite power")
    best = int(np.nanargmax(power))
    return 1.0 / (fmin + df * best), float(power[best])
