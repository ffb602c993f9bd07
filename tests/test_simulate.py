"""The ASAS-SN-like simulator: reproducible, realistic, readable by prepare."""

import filecmp

import numpy as np
import pytest
from astropy.table import Table

from helpers import run_cli
from rnngmm.io.readers import read_lightcurve
from rnngmm.simulate import (CLASSES, NOVEL_CLASSES, asassn_cadence, simulate_object,
                             simulate_sample)


def test_same_seed_same_files(tmp_path):
    for name in ("a", "b"):
        assert run_cli("simulate", "--output", tmp_path / name, "--n_per_class", 2,
                       "--n_novel", 1, "--seed", 5) == 0
    same, different, errors = filecmp.cmpfiles(
        tmp_path / "a", tmp_path / "b",
        ["catalog.csv"] + [f"lightcurves/ASASSN-SIM-{k:05d}.csv" for k in range(1, 18)],
        shallow=False)
    assert len(same) == 18 and not different and not errors
    assert run_cli("simulate", "--output", tmp_path / "c", "--n_per_class", 2,
                   "--n_novel", 1, "--seed", 6) == 0
    assert not filecmp.cmp(tmp_path / "a" / "catalog.csv", tmp_path / "c" / "catalog.csv",
                           shallow=False)


def test_catalog_has_every_class_and_blank_novel_periods(small_sample):
    catalog = Table.read(small_sample / "catalog.csv", format="ascii.csv")
    counts = dict(zip(*np.unique(catalog["class"], return_counts=True)))
    assert counts == {**{c: 6 for c in CLASSES}, **{c: 4 for c in NOVEL_CLASSES}}
    novel = np.isin(catalog["class"], NOVEL_CLASSES)
    assert np.all(catalog["period"].mask[novel]) and not np.any(catalog["period"].mask[~novel])


def test_lightcurves_look_like_asassn(small_sample):
    catalog = Table.read(small_sample / "catalog.csv", format="ascii.csv")
    n_non_detections = 0
    for object_id, n_rows in zip(catalog["id"], catalog["n_rows"]):
        counts = {}
        time, mag, err = read_lightcurve(small_sample / "lightcurves" / f"{object_id}.csv",
                                         "asassn", counts, filter="V")
        n_non_detections += counts.get("non-detection", 0)
        assert sum(counts.values()) + len(time) == n_rows
        assert 80 <= len(time) + counts.get("non-detection", 0) <= 400
        assert np.all(err > 0.005) and np.all(err < 1)
        assert time.min() > 2456000 and np.ptp(time) > 365  # several seasons
    assert n_non_detections > 0


def test_cadence_has_nightly_to_few_day_spacing_and_seasonal_gaps():
    rng = np.random.default_rng(2)
    time = asassn_cadence(rng, 300)
    assert len(time) == 300 and np.all(np.diff(time) >= 0)
    nights = np.unique(np.floor(time))
    gaps = np.diff(nights)
    assert np.median(gaps) <= 4
    assert np.sum(gaps > 90) >= 1  # a season break


def test_errors_grow_with_magnitude():
    rng = np.random.default_rng(0)
    objects = [simulate_object(f"x{k}", "ROT", rng) for k in range(30)]
    bright = [o for o in objects if o.mean_mag < 13]
    faint = [o for o in objects if o.mean_mag > 15.5]
    median_err = lambda o: np.median([float(r.split(",")[4]) for r in o.rows
                                      if not r.split(",")[3].startswith(">")])
    assert max(map(median_err, bright)) < min(map(median_err, faint))


@pytest.mark.parametrize("flags, message", [
    (["--classes", "CEPH,XYZ"], "unknown class"),
    (["--n_per_class", "-1"], ">= 0"),
    (["--min_points", "500"], "--min_points"),
])
def test_bad_flags(tmp_path, capsys, flags, message):
    assert run_cli("simulate", "--output", tmp_path / "s", *flags) == 2
    assert message in capsys.readouterr().err


def test_sample_order_is_shuffled_and_ids_unique():
    labels = [o.label for o in simulate_sample(3, 2, seed=0)]
    assert len(labels) == 26
    assert labels != sorted(labels)
