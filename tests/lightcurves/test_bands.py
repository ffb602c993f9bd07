"""A star of several bands: each band cleaned and chunked, one period per star."""

import numpy as np
import pytest

from rnngmm.errors import BadLightCurve
from rnngmm.lightcurves.bands import multiband_period, prepare_bands
from rnngmm.lightcurves.objects import Chunking, Preprocessing
from rnngmm.lightcurves.periods import lomb_scargle_period

PERIOD = 0.61234
SETTINGS = Preprocessing(min_points=20)
CHUNKING = Chunking(n_min=10, n_max=32, period_fold=True)


def band(rng, n, amplitude, mean, period=PERIOD, noise=0.05, start=58000.0, span=1800.0):
    """A sinusoid sampled at ``n`` random epochs (raw, unsorted)."""
    time = rng.uniform(start, start + span, n)
    mag = (mean + amplitude * np.sin(2 * np.pi * time / period + 0.7)
           + rng.normal(0, noise, n))
    return time, mag, np.full(n, noise)


def test_two_band_sinusoid_recovers_its_period():
    rng = np.random.default_rng(1)
    bands = {"g": band(rng, 60, 0.5, 15.3), "r": band(rng, 120, 0.35, 14.9)}
    cleaned = {b: tuple(np.asarray(a)[np.argsort(t)] for a in (t, m, e))
               for b, (t, m, e) in bands.items()}
    period, power = multiband_period(cleaned, min_period=0.05, max_period=1000.0)
    assert period == pytest.approx(PERIOD, rel=1e-4)
    assert 0.5 < power <= 1.0


def test_two_sparse_bands_together_beat_either_alone():
    # 14 points per band: neither band alone pins the period, both together do
    found_single, found_joint = 0, 0
    for seed in range(6):
        rng = np.random.default_rng(100 + seed)
        bands = {name: tuple(np.asarray(a)[np.argsort(lc[0])] for a in lc)
                 for name, lc in (("g", band(rng, 14, 0.5, 15.0, noise=0.15)),
                                  ("r", band(rng, 14, 0.4, 14.6, noise=0.15)))}
        joint, _ = multiband_period(bands, min_period=0.05, max_period=1000.0)
        single, _ = lomb_scargle_period(*bands["g"], min_period=0.05, max_period=1000.0)
        found_joint += abs(joint / PERIOD - 1) < 1e-3
        found_single += abs(single / PERIOD - 1) < 1e-3
    assert found_joint >= found_single
    assert found_joint >= 4


def test_prepare_bands_drops_a_band_with_few_points_and_says_why():
    rng = np.random.default_rng(2)
    bands = {"g": band(rng, 12, 0.5, 15.3), "r": band(rng, 150, 0.35, 14.9)}
    star = prepare_bands(bands, np.nan, SETTINGS, CHUNKING, missing={"i": "no file"},
                         order=("g", "r", "i"))
    assert list(star.bands) == ["r"]
    assert list(star.dropped) == ["g", "i"]
    assert star.dropped["g"] == "too few points (12 < min_points=20)"
    assert star.dropped["i"] == "no file"
    assert star.period_source == "lomb-scargle"
    assert star.period == pytest.approx(PERIOD, rel=1e-4)
    assert star.n_points == 150
    assert len(star.bands["r"].chunks) >= 1


def test_catalog_period_is_checked_against_the_union_of_the_bands():
    rng = np.random.default_rng(3)
    # each band spans 100 d, together 1000 d: a 500 d catalog period is usable
    bands = {"g": band(rng, 40, 0.5, 15.3, period=500.0, span=100.0),
             "r": band(rng, 40, 0.4, 14.9, period=500.0, start=58900.0, span=100.0)}
    star = prepare_bands(bands, 500.0, SETTINGS, CHUNKING)
    assert (star.period, star.period_source) == (500.0, "catalog")
    assert star.baseline > 900.0
    assert set(star.bands) == {"g", "r"}


def test_every_band_chunked_at_the_one_period():
    rng = np.random.default_rng(4)
    bands = {"g": band(rng, 80, 0.5, 15.3), "r": band(rng, 80, 0.35, 14.9)}
    star = prepare_bands(bands, PERIOD, SETTINGS, CHUNKING)
    assert star.period_source == "catalog"
    supports = [star.bands[b].chunks.supports for b in ("g", "r")]
    # the log period the network sees is the same for both bands
    assert np.allclose(supports[0][:, -1], supports[1][:, -1])
    # each band's mean magnitude is its own (the colour columns)
    assert star.bands["g"].mean_mag - star.bands["r"].mean_mag == pytest.approx(0.4, abs=0.1)


def test_no_usable_band_names_each_band():
    rng = np.random.default_rng(5)
    bands = {"g": band(rng, 5, 0.5, 15.3)}
    with pytest.raises(BadLightCurve) as info:
        prepare_bands(bands, np.nan, SETTINGS, CHUNKING, missing={"r": "no rows of band zr"},
                      order=("g", "r"))
    assert info.value.reason == ("no band usable (g: too few points (5 < min_points=20); "
                                 "r: no rows of band zr)")
