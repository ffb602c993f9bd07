"""Survey shifts applied to prepared light curves: pure numpy, seeded.

Used to build the shifted test sets of ``benchmarks/bench_shift.py`` (what a
survey the model was not trained on looks like) and the sparse sub-samples of
the science benchmarks. Every function takes a ``numpy.random.Generator`` and
returns new arrays; nothing is modified in place.

- :func:`subsample` keeps ``n`` epochs drawn uniformly without replacement;
- :func:`gaia_like` keeps 40-70 epochs within a ~3-year window (sparse,
  irregular space-survey sampling);
- :func:`ztf_like` keeps 100-600 epochs within a 3-5-year window with a
  seasonal gap every year (a ground-based survey of the northern sky);
- :func:`add_noise` inflates the errors by a factor and adds the extra noise;
- :func:`offset_zero_point` shifts every magnitude (another band's zero point);
- :func:`reweight_to_mix` picks object indices so that the class mix matches a
  target (label shift), e.g. 74 % EW as in the full Catalina catalogue.
"""

import numpy as np

#: Gaia DR3-like sampling: epochs per object and window (days).
GAIA_EPOCHS = (40, 70)
GAIA_SPAN_DAYS = 3 * 365.25
#: ZTF-like sampling: epochs per object, window (years) and the yearly gap
#: (fraction of the year the field is not observable).
ZTF_EPOCHS = (100, 600)
ZTF_SPAN_YEARS = (3.0, 5.0)
ZTF_SEASON_GAP = 1 / 3
YEAR_DAYS = 365.25


def subsample(time, mag, err, n, rng):
    """``n`` epochs drawn uniformly without replacement (all when fewer), sorted."""
    time = np.asarray(time)
    if len(time) <= n:
        return np.asarray(time), np.asarray(mag), np.asarray(err)
    keep = np.sort(rng.choice(len(time), size=int(n), replace=False))
    return time[keep], np.asarray(mag)[keep], np.asarray(err)[keep]


def gaia_like(time, mag, err, rng, epochs=GAIA_EPOCHS, span=GAIA_SPAN_DAYS):
    """Epochs within a random ``span``-day window, thinned to 40-70 of them.

    The window starts at a random epoch such that it fits in the baseline
    when it can; a baseline shorter than ``span`` is kept whole.
    """
    time, mag, err = window(time, mag, err, span, rng)
    n = int(rng.integers(epochs[0], epochs[1] + 1))
    return subsample(time, mag, err, n, rng)


def window(time, mag, err, span, rng):
    """Epochs within a random ``span``-day window that fits in the baseline
    (the whole light curve when the baseline is shorter)."""
    time = np.asarray(time, np.float64)
    if time[-1] - time[0] > span:
        start = rng.uniform(time[0], time[-1] - span)
        inside = (time >= start) & (time <= start + span)
        return time[inside], np.asarray(mag)[inside], np.asarray(err)[inside]
    return time, np.asarray(mag), np.asarray(err)


def ztf_like(time, mag, err, rng, epochs=ZTF_EPOCHS, span_years=ZTF_SPAN_YEARS,
             season_gap=ZTF_SEASON_GAP):
    """A 3-5-year window with a yearly seasonal gap, thinned to 100-600 epochs.

    The gap falls at a random time of year; a light curve with fewer epochs
    left than drawn keeps them all (a CRTS star rarely has 600).
    """
    span = rng.uniform(*span_years) * YEAR_DAYS
    time, mag, err = window(time, mag, err, span, rng)
    gap_start = rng.uniform(0.0, 1.0)
    phase_of_year = np.mod(time / YEAR_DAYS - gap_start, 1.0)
    visible = phase_of_year >= season_gap
    time, mag, err = time[visible], mag[visible], err[visible]
    n = int(rng.integers(epochs[0], epochs[1] + 1))
    return subsample(time, mag, err, n, rng)


def add_noise(mag, err, factor, rng):
    """Errors times ``factor`` (>= 1) and the matching extra Gaussian noise added."""
    if factor < 1:
        raise ValueError(f"noise factor must be >= 1, got {factor}")
    err = np.asarray(err, np.float64)
    extra = err * np.sqrt(factor ** 2 - 1.0)
    return np.asarray(mag, np.float64) + rng.normal(0.0, 1.0, len(err)) * extra, err * factor


def offset_zero_point(mag, offset):
    """Every magnitude shifted by ``offset`` (a different band or calibration)."""
    return np.asarray(mag, np.float64) + float(offset)


def reweight_to_mix(labels, target, rng, size=None):
    """Object indices (with replacement only where needed) matching a class mix.

    Parameters
    ----------
    labels : array_like of str
    target : dict of str to float
        Wanted fraction per class (normalised here); classes left out keep
        their share of the remaining fraction in the input proportions.
    rng : numpy.random.Generator
    size : int, optional
        Objects in the result (default: as many as keep every class's objects
        unrepeated for the class that limits it).

    Returns
    -------
    ndarray of int
        Sorted indices into ``labels``.
    """
    labels = np.asarray(labels).astype(str)
    classes, counts = np.unique(labels, return_counts=True)
    given = {c: float(target[c]) for c in classes if c in target}
    rest = 1.0 - sum(given.values())
    if rest < -1e-9:
        raise ValueError(f"target fractions sum to more than 1: {target}")
    others = {c: n for c, n in zip(classes, counts) if c not in given}
    total_others = sum(others.values())
    fractions = dict(given)
    for c, n in others.items():
        fractions[c] = max(rest, 0.0) * n / total_others if total_others else 0.0
    if size is None:
        size = int(min(n / fractions[c] for c, n in zip(classes, counts) if fractions[c] > 0))
    picked = []
    for c, n in zip(classes, counts):
        want = int(round(fractions[c] * size))
        members = np.flatnonzero(labels == c)
        picked.append(rng.choice(members, size=want, replace=want > n))
    return np.sort(np.concatenate(picked)) if picked else np.zeros(0, np.int64)


#: Named shifts of the benchmark: name -> function(time, mag, err, rng) -> (t, m, e).
SHIFTS = {
    "unshifted": lambda t, m, e, rng: (t, m, e),
    "gaia_like": gaia_like,
    "ztf_like": ztf_like,
    "sparse_40": lambda t, m, e, rng: subsample(t, m, e, 40, rng),
    "sparse_20": lambda t, m, e, rng: subsample(t, m, e, 20, rng),
    "noise_x2": lambda t, m, e, rng: (t, *add_noise(m, e, 2.0, rng)),
    "zero_point_+0.5": lambda t, m, e, rng: (t, offset_zero_point(m, 0.5), e),
}
