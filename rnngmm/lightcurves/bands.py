"""One star observed in several bands: clean each band, one period, chunk each band.

The several-band path of :mod:`rnngmm.lightcurves.objects` (used when
``--band g r`` asks for several bands; a run's model learned one band, so
each band is scored as that band's light curve would be)::

    {band: raw (time, mag, err)} + catalog period
        -- prepare_bands(..., Preprocessing, Chunking) --> PreparedBands

1. every band is cleaned on its own (:func:`rnngmm.lightcurves.preprocess.clean`
   with the run's settings); a band with fewer than ``min_points`` cleaned
   points is dropped and the reason recorded (the star is scored from the
   others);
2. ONE period per star: the catalog period when the one period rule accepts
   it against the union of the usable bands' epochs
   (:func:`rnngmm.lightcurves.objects.catalog_period_problem`), else one
   multi-band Lomb-Scargle search across the usable bands
   (:func:`multiband_period`, same period range as the single-band search);
3. every usable band is chunked on its own at that period
   (:func:`rnngmm.lightcurves.objects.object_chunks`); a band that gives no
   chunk is dropped too.

A star none of whose bands survives raises :class:`BadLightCurve` naming each
band's problem. Pure numpy (astropy for the multi-band periodogram's final
refinement).
"""

from dataclasses import dataclass, field

import numpy as np

from rnngmm.errors import BadLightCurve
from rnngmm.lightcurves.objects import clean_enough, object_chunks, period_by_rule
from rnngmm.lightcurves.periods import (MIN_POINTS, POLISH_PEAKS, SAMPLES_PER_PEAK,
                                        _power_astropy, _power_nifty, _top_maxima,
                                        available_backend, frequency_grid,
                                        lomb_scargle_period)

#: Points across +-1 grid step of a grid maximum where the multi-band power is
#: evaluated exactly (astropy ``LombScargleMultiband``) to refine the period.
REFINE_POINTS = 21


@dataclass
class PreparedBand:
    """One band of a star, cleaned and chunked.

    Attributes
    ----------
    time, mag, err : ndarray of float64
        Sorted, cleaned photometry.
    chunks : rnngmm.lightcurves.preprocess.Chunks
        Network inputs at the star's period.
    """

    time: np.ndarray
    mag: np.ndarray
    err: np.ndarray
    chunks: object

    @property
    def n_points(self):
        """Cleaned points."""
        return len(self.time)

    @property
    def baseline(self):
        """Last minus first cleaned epoch (days)."""
        return float(self.time[-1] - self.time[0]) if len(self.time) else np.nan

    @property
    def mean_mag(self):
        """Mean cleaned magnitude (unweighted)."""
        return float(np.mean(self.mag)) if len(self.mag) else np.nan


@dataclass
class PreparedBands:
    """A star's usable bands and its one period.

    Attributes
    ----------
    bands : dict
        ``{band: PreparedBand}`` of the bands scored, in the order given.
    dropped : dict
        ``{band: reason}`` of the bands given (or missing) and not scored.
    period : float
    period_source : str
        ``"catalog"`` (or the given source name) or ``"lomb-scargle"``.
    period_power : float
        Multi-band Lomb-Scargle power, NaN for a catalog period.
    """

    bands: dict
    dropped: dict = field(default_factory=dict)
    period: float = np.nan
    period_source: str = ""
    period_power: float = np.nan

    @property
    def n_points(self):
        """Cleaned points over the scored bands."""
        return int(sum(b.n_points for b in self.bands.values()))

    @property
    def baseline(self):
        """Last minus first cleaned epoch over the scored bands (days)."""
        times = [b.time for b in self.bands.values() if len(b.time)]
        if not times:
            return np.nan
        return float(max(t[-1] for t in times) - min(t[0] for t in times))


def no_band_reason(dropped):
    """The status of a star none of whose bands could be used."""
    return "no band usable (" + "; ".join(f"{b}: {r}" for b, r in dropped.items()) + ")"


def clean_bands(bands, settings):
    """Clean every band on its own; drop those with too few points.

    Parameters
    ----------
    bands : dict
        ``{band: (time, mag, err)}`` as read.
    settings : rnngmm.lightcurves.objects.Preprocessing

    Returns
    -------
    cleaned : dict
        ``{band: (time, mag, err)}`` sorted and cleaned, at least
        ``settings.min_points`` points each.
    dropped : dict
        ``{band: reason}``.
    """
    cleaned, dropped = {}, {}
    for band, (time, mag, err) in bands.items():
        try:
            cleaned[band] = clean_enough(time, mag, err, settings)[:3]
        except BadLightCurve as exc:
            dropped[band] = exc.reason
    return cleaned, dropped


def _band_power(time, mag, err, fmin, df, n, backend):
    compute = {"nifty-ls": _power_nifty, "astropy": _power_astropy}[backend]
    return np.asarray(compute(time, mag, err, fmin, df, n), np.float64)


def _chi2_reference(mag, err):
    """Weighted squared residuals about the weighted mean: a band's weight in
    the multi-band power (its share of the total variance to explain)."""
    w = 1.0 / np.asarray(err, np.float64) ** 2
    mean = np.dot(w, mag) / np.sum(w)
    return float(np.dot(w, (mag - mean) ** 2))


def multiband_period(bands, *, min_period, max_period, samples_per_peak=SAMPLES_PER_PEAK,
                     backend=None):
    """Period at the highest peak of the multi-band Lomb-Scargle periodogram.

    The model: one frequency shared by the bands, each band with its own
    mean, amplitude and phase (astropy's ``LombScargleMultiband`` with
    ``nterms_base=0, nterms_band=1``). Its standard-normalised power is the
    chi-square reduction over all bands, i.e. the bands' single-band
    powers weighted by each band's chi-square about its mean, so it is
    computed on the grid of :func:`rnngmm.lightcurves.periods.frequency_grid`
    (over the union of the bands' epochs) with the fast single-band
    periodogram of each band; the best grid maxima are then refined with
    astropy's exact multi-band power over +-1 grid step. A single usable band
    gives the single-band search
    (:func:`rnngmm.lightcurves.periods.lomb_scargle_period`).

    Parameters
    ----------
    bands : dict
        ``{band: (time, mag, err)}`` cleaned, sorted.
    min_period, max_period : float
        Search range in days (capped at the union's baseline).
    samples_per_peak : int
    backend : {"nifty-ls", "astropy"}, optional

    Returns
    -------
    period : float
    power : float

    Raises
    ------
    BadLightCurve
        When no band can constrain a period (too few points, constant).
    """
    usable = {b: tuple(np.asarray(a, np.float64) for a in lc) for b, lc in bands.items()
              if len(lc[0]) >= MIN_POINTS and np.ptp(lc[1]) > 0}
    if not usable:
        raise BadLightCurve("no band can constrain a period (too few points or constant)")
    if len(usable) == 1:
        time, mag, err = next(iter(usable.values()))
        return lomb_scargle_period(time, mag, err, min_period=min_period,
                                   max_period=max_period, samples_per_peak=samples_per_peak,
                                   backend=backend)
    union = np.concatenate([lc[0] for lc in usable.values()])
    fmin, df, n = frequency_grid(union, min_period, max_period, samples_per_peak)
    start = float(union.min())
    backend = backend or available_backend()
    power = np.zeros(n)
    total = 0.0
    for time, mag, err in usable.values():
        weight = _chi2_reference(mag, err)
        band_power = _band_power(time - start, mag, err, fmin, df, n, backend)
        power += weight * np.where(np.isfinite(band_power), band_power, 0.0)
        total += weight
    power /= total
    peaks = _top_maxima(np.arange(n), power, POLISH_PEAKS)
    if not len(peaks):
        raise BadLightCurve("multi-band Lomb-Scargle periodogram has no peak")
    return _refine(usable, start, fmin + df * np.asarray(peaks), df, fmin, fmin + df * (n - 1))


def _refine(bands, start, frequency, df, fmin, fmax):
    """``(period, power)`` of the best exact multi-band power within +-df of the
    grid maxima ``frequency``."""
    from astropy.timeseries import LombScargleMultiband
    time = np.concatenate([lc[0] for lc in bands.values()]) - start
    mag = np.concatenate([lc[1] for lc in bands.values()])
    err = np.concatenate([lc[2] for lc in bands.values()])
    names = np.concatenate([np.full(len(lc[0]), str(b)) for b, lc in bands.items()])
    offsets = np.linspace(-1.0, 1.0, REFINE_POINTS)
    grid = np.unique(np.clip(frequency[:, None] + df * offsets, fmin, fmax).ravel())
    periodogram = LombScargleMultiband(time, mag, names, err, nterms_base=0, nterms_band=1)
    exact = np.asarray(periodogram.power(grid, method="flexible"), np.float64)
    exact = np.where(np.isfinite(exact), exact, -np.inf)
    best = int(np.argmax(exact))
    if not np.isfinite(exact[best]):
        raise BadLightCurve("multi-band Lomb-Scargle periodogram has no finite power")
    return 1.0 / float(grid[best]), float(exact[best])


def star_period(cleaned, catalog_period, settings, catalog_source="catalog"):
    """The one period rule for a star of several bands: ``(period, source, power)``.

    :func:`rnngmm.lightcurves.objects.period_by_rule` with the catalog period
    checked against the union of the bands' epochs and the multi-band search.

    Raises
    ------
    BadLightCurve
        When no usable period is found.
    """
    union = np.sort(np.concatenate([lc[0] for lc in cleaned.values()]))

    def search():
        return multiband_period(cleaned, min_period=settings.min_period,
                                max_period=settings.max_period)
    return period_by_rule(union, catalog_period, settings, search,
                          search_name="multi-band Lomb-Scargle", catalog_source=catalog_source)


def prepare_bands(bands, catalog_period, preprocessing, chunking, *, missing=None,
                  catalog_source="catalog", order=None):
    """Clean, give one period to and chunk a star's bands.

    Parameters
    ----------
    bands : dict
        ``{band: (time, mag, err)}`` raw photometry of the bands read.
    catalog_period : float
        NaN when the catalog has none.
    preprocessing : rnngmm.lightcurves.objects.Preprocessing
    chunking : rnngmm.lightcurves.objects.Chunking
    missing : dict, optional
        ``{band: reason}`` of bands asked for and not read; kept in ``dropped``.
    catalog_source : str
        Name recorded for a usable catalog period.
    order : sequence of str, optional
        Band order of ``dropped`` (default: ``bands`` then ``missing``).

    Returns
    -------
    PreparedBands

    Raises
    ------
    BadLightCurve
        When no band can be scored; the reason names each band's problem.
    """
    missing = dict(missing or {})
    cleaned, dropped = clean_bands(bands, preprocessing)
    dropped.update(missing)

    def ordered(reasons):
        names = list(order) if order is not None else list(bands) + list(missing)
        names += [b for b in reasons if b not in names]
        return {b: reasons[b] for b in names if b in reasons}

    if not cleaned:
        raise BadLightCurve(no_band_reason(ordered(dropped)))
    period, source, power = star_period(cleaned, catalog_period, preprocessing,
                                        catalog_source)
    prepared = {}
    for band, (time, mag, err) in cleaned.items():
        try:
            chunks = object_chunks(time, mag, err, period, chunking)
        except BadLightCurve as exc:
            dropped[band] = exc.reason
            continue
        prepared[band] = PreparedBand(time, mag, err, chunks)
    if not prepared:
        raise BadLightCurve(no_band_reason(ordered(dropped)))
    return PreparedBands(prepared, ordered(dropped), float(period), source, float(power))
