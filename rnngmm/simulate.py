"""ASAS-SN-like simulated light curves of labelled variable stars.

Eight known super-classes as in the ASAS-SN variable-star catalogue used by
the reference work (Jayasinghe et al. 2019; Tsang & Schultz 2019), plus
R Coronae Borealis stars (``RCB``), a class meant to be held out as *novel*:
aperiodic, deep, sudden fades unlike any known class.

Period and amplitude ranges follow the usual literature values (e.g. Catelan &
Smith 2015, *Pulsating Stars*; Drake et al. 2014/2017 for CRTS/ASAS-SN-like
samples): Cepheids 1.5-50 d, 0.3-1 mag with a sawtooth; delta Scuti (HADS)
0.05-0.22 d; eclipsing binaries (EW contact 0.22-0.7 d, EA detached 0.6-12 d);
RRab 0.4-0.9 d, steep rise, Bailey-diagram amplitude-period relation, some
Blazhko modulation; RRc/RRd 0.24-0.45 d near-sinusoidal, some double-mode
(P1/P0 = 0.745); Miras 100-630 d, 2.5-6 mag in V; spotted rotators 0.5-40 d
with evolving spots; semi-regulars 20-250 d with poor coherence and long
secondary periods.

The cadence imitates ASAS-SN: several observing seasons with gaps, nights
observed every one to a few days, 1-3 dithered exposures per night, a few
cameras with small zero-point offsets, errors growing towards the ~17 mag
limit, occasional outliers, and non-detections (written ``>limit`` with error
99.99) when the star is fainter than the night's limit. Everything is drawn
from a seeded ``numpy.random.Generator``, one independent stream per object.

Opt-in (``rnngmm simulate --bands g r``): the same classes seen in several
bands at once, each band with its own epochs, class-dependent amplitude
ratios between bands and class-dependent colours (see
:func:`simulate_bands_object` and the comment above :data:`BAND_WAVELENGTHS`),
written as ``--format table`` files with a band column, or one file per band.
The default sample does not change.
"""

import os
from dataclasses import dataclass

import numpy as np

from rnngmm.io.atomic import atomic_path

#: The 8 ASAS-SN super-classes of the reference work.
CLASSES = ("CEPH", "DSCT", "ECL", "RRAB", "RRCD", "M", "ROT", "SR")
#: Classes meant to be held out of training as novel.
NOVEL_CLASSES = ("RCB",)
#: Columns of the per-object light-curve CSV (as read by the ``asassn`` reader).
LIGHTCURVE_COLUMNS = ("HJD", "camera", "filter", "mag", "mag_err", "flux", "flux_err")
#: Columns of the catalog CSV.
CATALOG_COLUMNS = ("id", "class", "period", "mean_mag", "amplitude", "class_prob", "n_rows")
#: Start of the simulated survey (HJD, early 2012 like ASAS-SN's V-band era).
SURVEY_START = 2456000.0
#: Days of each year after which the g-band seasons begin (ASAS-SN switched in 2018).
G_BAND_START = 2458300.0
_CAMERAS = ("ba", "bb", "bc", "bd", "be", "bf", "bg", "bh")


@dataclass
class SimulatedObject:
    """One simulated star: its catalog row and its light-curve rows."""

    id: str
    label: str
    period: float
    mean_mag: float
    amplitude: float
    class_prob: float
    rows: list


# --------------------------------------------------------------------- shapes
def _smooth_wave(phase, rise, n_harmonics):
    """Periodic waveform in [0, 1] (1 = maximum light): linear rise over
    ``rise`` of the cycle, linear decline after, smoothed to ``n_harmonics``."""
    grid = np.linspace(0.0, 1.0, 512, endpoint=False)
    raw = np.where(grid < rise, grid / rise, (1.0 - grid) / (1.0 - rise))
    spectrum = np.fft.rfft(raw)
    spectrum[n_harmonics + 1:] = 0
    smooth = np.fft.irfft(spectrum, n=len(grid))
    smooth = (smooth - smooth.min()) / np.ptp(smooth)
    return np.interp(np.mod(phase, 1.0), np.append(grid, 1.0), np.append(smooth, smooth[0]))


def _slow_noise(rng, time, timescale):
    """Unit-variance smooth random signal with correlation time ``timescale`` days."""
    t0 = time.min() - 5 * timescale  # margins keep the kernel shorter than the grid
    grid = np.arange(t0, time.max() + 5 * timescale + 1.0, max(timescale / 8.0, 0.5))
    white = rng.normal(size=len(grid))
    sigma = timescale / (grid[1] - grid[0])
    lags = np.arange(-int(4 * sigma) - 1, int(4 * sigma) + 2)
    kernel = np.exp(-0.5 * (lags / sigma) ** 2)
    smooth = np.convolve(white, kernel, mode="same")
    smooth /= smooth.std() or 1.0
    return np.interp(time, grid, smooth)


def _eclipses(phase, depth1, depth2, width, offset2=0.0):
    """Two eclipses (primary at phase 0, secondary near 0.5); magnitudes added."""
    def dip(centre):
        d = np.mod(phase - centre + 0.5, 1.0) - 0.5
        return np.exp(-0.5 * (d / width) ** 2)
    return depth1 * dip(0.0) + depth2 * dip(0.5 + offset2)


# ---------------------------------------------------------- classes (mag delta)
def _ceph(rng, t):
    period = 10 ** np.clip(rng.normal(0.75, 0.3), 0.2, 1.7)
    amplitude = rng.uniform(0.3, 1.0)
    phase = t / period + rng.uniform()
    shape = _smooth_wave(phase, rng.uniform(0.25, 0.4), 6)
    # Hertzsprung-progression bump on the descending branch
    bump = rng.uniform(0, 0.15) * np.exp(-0.5 * ((np.mod(phase, 1) - rng.uniform(0.4, 0.7)) / 0.05) ** 2)
    return -amplitude * (shape + bump), period, amplitude


def _dsct(rng, t):
    period = np.exp(rng.uniform(np.log(0.05), np.log(0.22)))
    amplitude = rng.uniform(0.15, 0.7)
    phase = t / period + rng.uniform()
    delta = -amplitude * _smooth_wave(phase, rng.uniform(0.3, 0.45), 4)
    if rng.uniform() < 0.3:  # double-mode HADS: first overtone / fundamental = 0.773
        delta += rng.uniform(0.2, 0.5) * amplitude * np.sin(2 * np.pi * (t * 0.773 / period + rng.uniform()))
    return delta, period, amplitude


def _ecl(rng, t):
    if rng.uniform() < 0.45:  # contact (EW): near-equal wide minima, ellipsoidal
        period = np.exp(rng.uniform(np.log(0.22), np.log(0.7)))
        depth = rng.uniform(0.2, 0.7)
        depth2, width, offset = depth * rng.uniform(0.7, 1.0), rng.uniform(0.08, 0.12), 0.0
    else:  # detached (EA): narrow minima, unequal depths, maybe eccentric
        period = np.exp(rng.uniform(np.log(0.6), np.log(12.0)))
        depth = rng.uniform(0.2, 1.2)
        depth2, width = depth * rng.uniform(0.05, 0.8), rng.uniform(0.012, 0.035)
        offset = rng.normal(0, 0.015)
    phase = t / period + rng.uniform()
    return _eclipses(phase, depth, depth2, width, offset), period, depth


def _rrab(rng, t):
    period = np.clip(rng.normal(0.57, 0.08), 0.4, 0.9)
    amplitude = np.clip(rng.normal(2.6 - 3.0 * period, 0.12), 0.3, 1.3)  # Bailey diagram
    phase = t / period + rng.uniform()
    envelope = 1.0
    if rng.uniform() < 0.1:  # Blazhko modulation
        blazhko = rng.uniform(20, 200)
        envelope = 1 - rng.uniform(0.1, 0.4) * (0.5 + 0.5 * np.sin(2 * np.pi * t / blazhko))
    return -amplitude * envelope * _smooth_wave(phase, rng.uniform(0.1, 0.2), 10), period, amplitude


def _rrcd(rng, t):
    period = np.clip(rng.normal(0.33, 0.04), 0.24, 0.45)
    amplitude = rng.uniform(0.2, 0.55)
    phase = t / period + rng.uniform()
    delta = -amplitude * _smooth_wave(phase, rng.uniform(0.38, 0.48), 3)
    if rng.uniform() < 0.2:  # RRd: fundamental mode at P1 / 0.745
        delta += rng.uniform(0.4, 1.0) * amplitude / 2 * np.sin(2 * np.pi * (t * 0.745 / period + rng.uniform()))
    return delta, period, amplitude


def _mira(rng, t):
    period = 10 ** np.clip(rng.normal(2.45, 0.15), 2.0, 2.8)
    amplitude = rng.uniform(2.5, 6.0)
    phase = t / period + rng.uniform() + 0.03 * _slow_noise(rng, t, 3 * period)
    cycle_amplitude = amplitude * (1 + 0.08 * _slow_noise(rng, t, period))
    return -cycle_amplitude * _smooth_wave(phase, rng.uniform(0.35, 0.5), 3), period, amplitude


def _rot(rng, t):
    period = np.exp(rng.uniform(np.log(0.5), np.log(40.0)))
    amplitude = rng.uniform(0.04, 0.3)
    # Spot evolution: amplitude and phase wander over ~100 d.
    drift = 0.8 * _slow_noise(rng, t, rng.uniform(60, 200))
    scale = np.clip(1 + 0.3 * _slow_noise(rng, t, rng.uniform(60, 200)), 0.3, 1.6)
    phase = 2 * np.pi * (t / period + rng.uniform()) + drift
    shape = np.sin(phase) + rng.uniform(0, 0.4) * np.sin(2 * phase + rng.uniform(0, 2 * np.pi))
    return amplitude / 2 * scale * shape / np.abs(shape).max(), period, amplitude


def _sr(rng, t):
    period = np.exp(rng.uniform(np.log(20.0), np.log(250.0)))
    amplitude = rng.uniform(0.2, 1.5)
    coherence = rng.uniform(2, 8) * period  # phase drifts by ~1 rad over a few cycles
    phase = 2 * np.pi * (t / period + rng.uniform()) + 1.5 * _slow_noise(rng, t, coherence)
    scale = np.clip(1 + 0.35 * _slow_noise(rng, t, coherence), 0.2, 1.8)
    delta = amplitude / 2 * scale * np.sin(phase)
    if rng.uniform() < 0.3:  # long secondary period
        lsp = period * rng.uniform(5, 10)
        delta += rng.uniform(0.3, 0.8) * amplitude / 2 * np.sin(2 * np.pi * (t / lsp + rng.uniform()))
    delta += 0.1 * amplitude * _slow_noise(rng, t, period / 4)
    return delta, period, amplitude


def _rcb(rng, t):
    """R CrB: small pulsation at maximum, then sudden deep fades, slow recovery."""
    pulsation = rng.uniform(40, 100)
    delta = rng.uniform(0.05, 0.2) * np.sin(2 * np.pi * (t / pulsation + rng.uniform()))
    span = t.max() - t.min()
    n_fades = max(1, rng.poisson(span / 700.0))
    depth_max = 0.0
    for start in rng.uniform(t.min() - 100, t.max() - 50, n_fades):
        depth = rng.uniform(2.0, 6.0)
        fall, recover = rng.uniform(5, 30), rng.uniform(80, 300)
        dt = t - start
        profile = np.where(dt < 0, 0.0, np.where(dt < fall, dt / fall, np.exp(-(dt - fall) / recover)))
        delta += depth * profile
        depth_max = max(depth_max, depth)
    return delta, np.nan, depth_max


SIMULATORS = {"CEPH": _ceph, "DSCT": _dsct, "ECL": _ecl, "RRAB": _rrab, "RRCD": _rrcd,
              "M": _mira, "ROT": _rot, "SR": _sr, "RCB": _rcb}


# ---------------------------------------------------------------- observation
def asassn_cadence(rng, n_points):
    """Sorted HJDs of about ``n_points`` exposures with ASAS-SN-like sampling."""
    per_night = rng.choice([1, 2, 3], p=[0.3, 0.3, 0.4], size=4 * n_points + 8)
    n_nights = int(np.searchsorted(np.cumsum(per_night), n_points)) + 1
    season_length = rng.uniform(150, 260)
    density = rng.uniform(0.3, 0.7)  # fraction of season nights observed (weather, scheduling)
    # At least 3 seasons (> 800 d), so even the longest Mira periods repeat.
    n_seasons = int(np.clip(round(n_nights / (season_length * density)), 3, 6))
    first = SURVEY_START + rng.uniform(0, 365)
    nights = np.concatenate([np.arange(np.floor(first + 365.25 * s),
                                       np.floor(first + 365.25 * s + season_length))
                             for s in range(n_seasons)])
    chosen = np.sort(rng.choice(nights, size=min(n_nights, len(nights)), replace=False))
    counts = per_night[:len(chosen)]
    start = np.repeat(chosen + rng.uniform(0.55, 0.85, len(chosen)), counts)
    dither = np.concatenate([np.arange(c) for c in counts]) * 0.0015  # ~2 minutes apart
    return (start + dither)[:n_points]


def photometric_error(mag, limit=17.0):
    """ASAS-SN-like magnitude error: 0.01 mag floor, ~0.1 mag at the limit."""
    return np.sqrt(0.01 ** 2 + (0.09 * 10 ** (0.4 * (mag - limit))) ** 2)


def _observe(rng, times, true_mag, band):
    """Rows of the light-curve CSV for one band."""
    n = len(times)
    cameras = rng.choice(_CAMERAS, size=rng.integers(1, 4), replace=False)
    camera = rng.choice(cameras, size=n)
    zero_points = {c: rng.normal(0, 0.02) for c in cameras}
    err = photometric_error(true_mag) * rng.uniform(0.95, 1.05, n)
    observed = true_mag + rng.normal(0, 1, n) * err * rng.uniform(1.0, 1.25)
    observed += np.array([zero_points[c] for c in camera])
    outlier = rng.uniform(size=n) < rng.uniform(0.002, 0.02)
    observed[outlier] += rng.choice([-1, 1, 1], size=outlier.sum()) * rng.uniform(0.3, 1.5, outlier.sum())
    limit = 17.3 + rng.normal(0, 0.3, n)
    cloudy = rng.uniform(size=n) < 0.04
    limit[cloudy] -= rng.uniform(0.5, 3.0, cloudy.sum())
    flux = 3.631e6 * 10 ** (-0.4 * observed)  # mJy
    rows = []
    for i in range(n):
        if observed[i] > limit[i]:
            rows.append(f"{times[i]:.5f},{camera[i]},{band},>{limit[i]:.2f},99.990,"
                        f"{flux[i]:.4f},{3.631e6 * 10 ** (-0.4 * limit[i]) / 5:.4f}")
        else:
            rows.append(f"{times[i]:.5f},{camera[i]},{band},{observed[i]:.3f},{err[i]:.3f},"
                        f"{flux[i]:.4f},{flux[i] * err[i] / 1.0857:.4f}")
    return rows


def simulate_object(object_id, label, rng, min_points=100, max_points=400):
    """Simulate one star of class ``label`` with generator ``rng``."""
    times = asassn_cadence(rng, int(rng.integers(min_points, max_points + 1)))
    g_times = np.zeros(0)
    if rng.uniform() < 0.3:  # a later season in g, as after ASAS-SN's 2018 switch
        g_times = G_BAND_START + np.sort(rng.uniform(0, 200, int(rng.integers(20, 80))))
    # One call over both bands, so both see the same star (same period, same fades).
    delta, period, amplitude = SIMULATORS[label](rng, np.concatenate([times, g_times]))
    delta = delta - np.median(delta[:len(times)])
    if label == "M":
        mean_mag = rng.uniform(9.0, 12.5) + amplitude / 2  # bright at maximum, faint at minimum
    else:
        mean_mag = rng.uniform(11.0, 16.3)
    rows = _observe(rng, times, mean_mag + delta[:len(times)], "V")
    if len(g_times):
        g_minus_v = rng.uniform(0.2, 1.0)
        rows += _observe(rng, g_times, mean_mag + g_minus_v + delta[len(times):], "g")
    class_prob = float(np.clip(rng.beta(12, 1), 0.3, 1.0))
    return SimulatedObject(object_id, label, float(period), float(mean_mag),
                           float(amplitude), class_prob, rows)


def simulate_sample(n_per_class, n_novel, seed=0, classes=CLASSES,
                    novel_classes=NOVEL_CLASSES, min_points=100, max_points=400):
    """Yield a shuffled, seeded sample of ``SimulatedObject``.

    Parameters
    ----------
    n_per_class : int
        Objects of each known class.
    n_novel : int
        Objects of each novel class.
    seed : int
        Seed of the whole sample (same seed, same sample).
    classes, novel_classes : sequence of str
        Keys of ``SIMULATORS``.
    min_points, max_points : int
        Range of V-band exposures per star.
    """
    for k, label, rng in _shuffled_labels(n_per_class, n_novel, classes, novel_classes, seed):
        yield simulate_object(f"ASASSN-SIM-{k + 1:05d}", label, rng, min_points, max_points)


def _shuffled_labels(n_per_class, n_novel, classes, novel_classes, seed):
    """``(k, label, rng)`` of a seeded, shuffled sample: one random stream per star."""
    labels = [c for c in classes for _ in range(n_per_class)]
    labels += [c for c in novel_classes for _ in range(n_novel)]
    root = np.random.SeedSequence(seed)
    order = np.random.default_rng(root.spawn(1)[0]).permutation(len(labels))
    streams = root.spawn(len(labels) + 1)[1:]
    for k, i in enumerate(order):
        yield k, labels[i], np.random.default_rng(streams[k])


def _catalog_line(obj, n_rows):
    period = "" if not np.isfinite(obj.period) else f"{obj.period:.7g}"
    return (f"{obj.id},{obj.label},{period},{obj.mean_mag:.3f},{obj.amplitude:.3f},"
            f"{obj.class_prob:.3f},{n_rows}")


def write_sample(objects, output_dir):
    """Write ``lightcurves/<id>.csv`` files and ``catalog.csv`` under ``output_dir``.

    Returns
    -------
    int
        Number of objects written.
    """
    lc_dir = os.path.join(output_dir, "lightcurves")
    os.makedirs(lc_dir, exist_ok=True)
    catalog = [",".join(CATALOG_COLUMNS)]
    for obj in objects:
        with atomic_path(os.path.join(lc_dir, f"{obj.id}.csv")) as tmp:
            with open(tmp, "w", encoding="utf-8") as handle:
                handle.write(",".join(LIGHTCURVE_COLUMNS) + "\n")
                handle.write("\n".join(obj.rows) + "\n")
        catalog.append(_catalog_line(obj, len(obj.rows)))
    with atomic_path(os.path.join(output_dir, "catalog.csv")) as tmp:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write("\n".join(catalog) + "\n")
    return len(catalog) - 1


# ------------------------------------------------------ several bands (opt-in)
# ``rnngmm simulate --bands g r``: the same stars seen in several bands at once,
# as ZTF (g, r, i) or Gaia (G, BP, RP) deliver them. The physics is kept simple:
#
# - each band has its own epochs: the bands share the survey's seasons but are
#   observed on nights chosen independently, each with its own number of
#   exposures (drawn in [min_points, max_points] per band);
# - one star, one signal: the class's simulator is called once over every
#   band's epochs (same period, phase, fades); band ``b`` sees the signal
#   scaled by ``(wavelength_b / 622 nm) ** -beta`` with a class-dependent
#   ``beta`` (:data:`BAND_PHYSICS`): pulsators vary more in the blue
#   (RRab A_g / A_r ~ 1.35), Miras and semi-regulars much more, spotted stars
#   somewhat more, eclipsing binaries are nearly grey (beta ~ 0.1), and the
#   dust fades of R CrB stars are deeper in the blue (extinction ~ 1/lambda);
# - colours: each band's mean magnitude is the 622 nm (r) magnitude plus
#   ``(g - r) * x(lambda)``, with ``x`` linear in 1/lambda (x(g) = 1,
#   x(r) = 0, so r - i ~ 0.6 (g - r)); the star's g - r is its class's
#   intrinsic colour (range in :data:`BAND_PHYSICS`) plus a reddening
#   E(g - r) drawn in [0, 0.25];
# - errors grow towards the 17 mag limit of every band (:func:`photometric_error`),
#   each band has a small zero-point offset, a few outliers, and epochs
#   fainter than the night's limit are not written (no non-detection rows).

#: Effective wavelengths (nm) of common band names. A name not listed is
#: placed by its position in the list given: 450 nm for the first band to
#: 900 nm for the last (so list unknown bands blue to red).
BAND_WAVELENGTHS = {"u": 355.0, "U": 365.0, "B": 445.0, "g": 475.0, "BP": 511.0,
                    "V": 551.0, "r": 622.0, "G": 640.0, "R": 658.0, "i": 763.0,
                    "RP": 777.0, "I": 806.0, "z": 905.0, "y": 1000.0, "J": 1235.0,
                    "H": 1662.0, "K": 2159.0}
#: Wavelength (nm) at which a star's catalog ``mean_mag`` and ``amplitude`` hold (r).
REFERENCE_WAVELENGTH = 622.0
_G_WAVELENGTH = 475.0
#: Per class: amplitude exponent ``beta`` (amplitude ~ wavelength ** -beta) and
#: the range of the intrinsic g - r colour (mag).
BAND_PHYSICS = {"CEPH": (1.0, (0.4, 1.0)), "DSCT": (0.9, (0.0, 0.3)),
                "ECL": (0.1, (0.1, 0.9)), "RRAB": (1.1, (0.15, 0.45)),
                "RRCD": (1.0, (0.1, 0.3)), "M": (2.0, (1.3, 2.0)),
                "ROT": (0.7, (0.6, 1.4)), "SR": (1.5, (0.9, 1.6)),
                "RCB": (1.0, (0.5, 1.0))}
#: Columns of a several-band light-curve CSV (read by ``--format table``).
BAND_LIGHTCURVE_COLUMNS = ("time", "mag", "err", "band")


@dataclass
class SimulatedBandsObject:
    """One simulated star seen in several bands.

    Attributes
    ----------
    id, label : str
    period : float
        Days; NaN for aperiodic classes.
    mean_mag, amplitude : float
        At the reference wavelength (622 nm, r).
    class_prob : float
    bands : dict
        ``{band: (time, mag, err)}`` arrays, in the order the bands were given.
    mean_mags, amplitudes : dict
        ``{band: value}``: each band's mean magnitude and amplitude.
    """

    id: str
    label: str
    period: float
    mean_mag: float
    amplitude: float
    class_prob: float
    bands: dict
    mean_mags: dict
    amplitudes: dict


def band_wavelengths(bands):
    """``{band: wavelength in nm}``: :data:`BAND_WAVELENGTHS`, else by position."""
    n = len(bands)
    return {b: BAND_WAVELENGTHS.get(b, 450.0 + 450.0 * k / max(n - 1, 1))
            for k, b in enumerate(bands)}


def colour_factor(wavelength):
    """``x(lambda)``: a band's mean magnitude minus r's, in units of g - r."""
    return ((1.0 / wavelength - 1.0 / REFERENCE_WAVELENGTH)
            / (1.0 / _G_WAVELENGTH - 1.0 / REFERENCE_WAVELENGTH))


def multiband_cadence(rng, counts):
    """Sorted epochs of each band: shared seasons, nights drawn per band.

    Parameters
    ----------
    rng : numpy.random.Generator
    counts : sequence of int
        Exposures wanted in each band (a band may get fewer when its
        seasons have too few nights).

    Returns
    -------
    list of ndarray
    """
    season_length = rng.uniform(150, 260)
    density = rng.uniform(0.3, 0.7)
    # 1-2 exposures a night; at least 3 seasons so even Mira periods repeat.
    n_seasons = int(np.clip(round(max(counts) / 1.5 / (season_length * density)), 3, 6))
    first = SURVEY_START + rng.uniform(0, 365)
    nights = np.concatenate([np.arange(np.floor(first + 365.25 * s),
                                       np.floor(first + 365.25 * s + season_length))
                             for s in range(n_seasons)])
    epochs = []
    for n in counts:
        per_night = rng.choice([1, 2], p=[0.6, 0.4], size=int(n))
        n_nights = min(int(np.searchsorted(np.cumsum(per_night), n)) + 1, len(nights))
        chosen = np.sort(rng.choice(nights, size=n_nights, replace=False))
        repeats = per_night[:n_nights]
        start = np.repeat(chosen + rng.uniform(0.55, 0.85, n_nights), repeats)
        dither = np.concatenate([np.arange(c) for c in repeats]) * 0.02  # ~30 min apart
        epochs.append((start + dither)[:int(n)])
    return epochs


def _observe_band(rng, times, true_mag, limit=17.0):
    """(time, mag, err) of the epochs detected in one band."""
    n = len(times)
    err = photometric_error(true_mag, limit) * rng.uniform(0.95, 1.05, n)
    observed = true_mag + rng.normal(0, 1, n) * err + rng.normal(0, 0.01)  # band zero point
    outlier = rng.uniform(size=n) < rng.uniform(0.002, 0.01)
    observed[outlier] += rng.choice([-1, 1, 1], size=outlier.sum()) * rng.uniform(0.3, 1.0, outlier.sum())
    detected = observed < limit + 0.3 + rng.normal(0, 0.3, n)
    return times[detected], np.round(observed[detected], 4), np.round(err[detected], 4)


def simulate_bands_object(object_id, label, rng, bands, min_points=100, max_points=400):
    """Simulate one star of class ``label`` in each of ``bands`` (see the
    comment above :data:`BAND_WAVELENGTHS` for the physics)."""
    wavelengths = band_wavelengths(bands)
    counts = rng.integers(min_points, max_points + 1, size=len(bands))
    epochs = multiband_cadence(rng, counts)
    # One call over every band's epochs: one star (same period, phase, fades).
    delta, period, amplitude = SIMULATORS[label](rng, np.concatenate(epochs))
    delta = delta - np.median(delta)
    beta_mean, colour_range = BAND_PHYSICS.get(label, (1.0, (0.3, 1.0)))
    beta = max(rng.normal(beta_mean, 0.1), 0.0)
    g_minus_r = rng.uniform(*colour_range) + rng.uniform(0.0, 0.25)  # intrinsic + reddening
    if label == "M":
        mean_mag = rng.uniform(9.0, 12.5) + amplitude / 2  # bright at maximum
    else:
        mean_mag = rng.uniform(11.0, 16.3)
    observed, mean_mags, amplitudes = {}, {}, {}
    edges = np.cumsum([0] + [len(e) for e in epochs])
    for k, band in enumerate(bands):
        ratio = (wavelengths[band] / REFERENCE_WAVELENGTH) ** -beta
        mean_mags[band] = float(mean_mag + g_minus_r * colour_factor(wavelengths[band]))
        amplitudes[band] = float(amplitude * ratio)
        true_mag = mean_mags[band] + ratio * delta[edges[k]:edges[k + 1]]
        observed[band] = _observe_band(rng, epochs[k], true_mag)
    class_prob = float(np.clip(rng.beta(12, 1), 0.3, 1.0))
    return SimulatedBandsObject(object_id, label, float(period), float(mean_mag),
                                float(amplitude), class_prob, observed, mean_mags, amplitudes)


def simulate_bands_sample(n_per_class, n_novel, bands, seed=0, classes=CLASSES,
                          novel_classes=NOVEL_CLASSES, min_points=100, max_points=400):
    """Yield a shuffled, seeded sample of :class:`SimulatedBandsObject`.

    Same arguments as :func:`simulate_sample`, plus ``bands`` (names, in the
    order the files list them); ``min_points`` and ``max_points`` bound each
    band's exposures. Ids are ``SIM-00001``, ...
    """
    bands = tuple(bands)
    for k, label, rng in _shuffled_labels(n_per_class, n_novel, classes, novel_classes, seed):
        yield simulate_bands_object(f"SIM-{k + 1:05d}", label, rng, bands, min_points,
                                    max_points)


def _band_rows(time, mag, err, band):
    return [f"{t:.5f},{m:.4f},{e:.4f},{band}" for t, m, e in zip(time, mag, err)]


def _write_rows(path, rows):
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(",".join(BAND_LIGHTCURVE_COLUMNS) + "\n")
            handle.write("".join(row + "\n" for row in rows))


def write_bands_sample(objects, output_dir, bands, per_band_files=False):
    """Write a several-band sample and its ``catalog.csv`` under ``output_dir``.

    Parameters
    ----------
    objects : iterable of SimulatedBandsObject
    output_dir : str
    bands : sequence of str
        The sample's bands (catalog columns per band, in this order).
    per_band_files : bool
        False: ``lightcurves/<id>.csv`` holds every band, rows in time order
        (columns ``time, mag, err, band``). True: ``lightcurves/<id>_<band>.csv``,
        one file per band (same columns), as IRSA delivers ZTF light curves.

    The catalog has :data:`CATALOG_COLUMNS` (``mean_mag`` and ``amplitude``
    at 622 nm, ``n_rows`` over all bands) then ``mean_mag_<b>``,
    ``amplitude_<b>`` and ``n_points_<b>`` per band.

    Returns
    -------
    int
        Number of objects written.
    """
    lc_dir = os.path.join(output_dir, "lightcurves")
    os.makedirs(lc_dir, exist_ok=True)
    per_band = [f"{what}_{b}" for b in bands for what in ("mean_mag", "amplitude", "n_points")]
    catalog = [",".join(CATALOG_COLUMNS + tuple(per_band))]
    for obj in objects:
        if per_band_files:
            for band, (t, m, e) in obj.bands.items():
                _write_rows(os.path.join(lc_dir, f"{obj.id}_{band}.csv"), _band_rows(t, m, e, band))
        else:
            time = np.concatenate([t for t, _, _ in obj.bands.values()])
            rows = sum((_band_rows(t, m, e, b) for b, (t, m, e) in obj.bands.items()), [])
            _write_rows(os.path.join(lc_dir, f"{obj.id}.csv"),
                        [rows[k] for k in np.argsort(time, kind="stable")])
        n_rows = sum(len(t) for t, _, _ in obj.bands.values())
        extra = [f"{value:.3f}" if what != "n" else str(value)
                 for b in bands
                 for what, value in (("m", obj.mean_mags[b]), ("a", obj.amplitudes[b]),
                                     ("n", len(obj.bands[b][0])))]
        catalog.append(",".join([_catalog_line(obj, n_rows)] + extra))
    with atomic_path(os.path.join(output_dir, "catalog.csv")) as tmp:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write("\n".join(catalog) + "\n")
    return len(catalog) - 1
