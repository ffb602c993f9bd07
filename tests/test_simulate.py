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


# --- several bands at once (issue 25.4) ----------------------------------------

from rnngmm.simulate import simulate_bands_object  # noqa: E402


def test_bands_sample_one_file_with_band_column_reads_per_band(tmp_path):
    assert run_cli("simulate", "--output", tmp_path / "s", "--bands", "g", "r",
                   "--n_per_class", 1, "--n_novel", 1, "--seed", 2) == 0
    catalog = Table.read(tmp_path / "s" / "catalog.csv", format="ascii.csv")
    assert len(catalog) == len(CLASSES) + len(NOVEL_CLASSES)
    assert {"mean_mag_g", "amplitude_r", "n_points_g", "n_points_r"} <= set(catalog.colnames)
    for row in catalog:
        path = tmp_path / "s" / "lightcurves" / f"{row['id']}.csv"
        table = Table.read(path, format="ascii.csv")
        assert table.colnames == ["time", "mag", "err", "band"]
        assert np.all(np.diff(table["time"]) >= 0)  # bands interleaved in time order
        assert len(table) == row["n_rows"] == row["n_points_g"] + row["n_points_r"]
        times = {}
        for band in ("g", "r"):
            time, mag, err = read_lightcurve(path, "table", band=band)
            assert len(time) == row[f"n_points_{band}"] and np.all(err > 0)
            times[band] = time
        # each band its own epochs: hardly any shared
        assert len(np.intersect1d(times["g"], times["r"])) < 0.05 * len(times["r"])


def test_bands_sample_per_band_files_hold_the_same_photometry(tmp_path):
    for name, extra in (("one", ()), ("per", ("--per_band_files",))):
        assert run_cli("simulate", "--output", tmp_path / name, "--bands", "G", "BP", "RP",
                       "--n_per_class", 1, "--n_novel", 0, "--seed", 4, *extra) == 0
    assert filecmp.cmp(tmp_path / "one" / "catalog.csv", tmp_path / "per" / "catalog.csv",
                       shallow=False)
    ids = Table.read(tmp_path / "one" / "catalog.csv", format="ascii.csv")["id"]
    for object_id in ids[:3]:
        for band in ("G", "BP", "RP"):
            whole = read_lightcurve(tmp_path / "one" / "lightcurves" / f"{object_id}.csv",
                                    "table", band=band)
            own = read_lightcurve(tmp_path / "per" / "lightcurves" / f"{object_id}_{band}.csv",
                                  "table", band=band)
            np.testing.assert_array_equal(whole, own)


def test_bands_amplitude_ratios_and_colours_depend_on_class():
    rng = np.random.default_rng(7)
    ratio = {label: [] for label in ("RRAB", "ECL", "M")}
    colour = {label: [] for label in ("DSCT", "M")}
    for label in ("RRAB", "ECL", "M", "DSCT"):
        for k in range(20):
            obj = simulate_bands_object(f"x{k}", label, rng, ("g", "r"), 60, 80)
            if label in ratio:
                ratio[label].append(obj.amplitudes["g"] / obj.amplitudes["r"])
            if label in colour:
                colour[label].append(obj.mean_mags["g"] - obj.mean_mags["r"])
    assert 1.2 < np.median(ratio["RRAB"]) < 1.5  # pulsators: larger in the bluer band
    assert 0.97 < np.median(ratio["ECL"]) < 1.08  # eclipses: nearly grey
    assert np.median(ratio["M"]) > np.median(ratio["RRAB"])
    assert np.median(colour["M"]) > np.median(colour["DSCT"]) + 0.8  # Miras are red


def test_bands_default_sample_unchanged_and_seeded(tmp_path):
    assert run_cli("simulate", "--output", tmp_path / "a", "--n_per_class", 1, "--n_novel", 0,
                   "--seed", 5) == 0
    assert (tmp_path / "a" / "lightcurves" / "ASASSN-SIM-00001.csv").exists()
    for name in ("b", "c"):
        assert run_cli("simulate", "--output", tmp_path / name, "--bands", "g", "r",
                       "--n_per_class", 1, "--n_novel", 0, "--seed", 5) == 0
    assert filecmp.cmp(tmp_path / "b" / "lightcurves" / "SIM-00003.csv",
                       tmp_path / "c" / "lightcurves" / "SIM-00003.csv", shallow=False)


@pytest.mark.parametrize("flags, message", [
    (["--per_band_files"], "needs --bands"),
    (["--bands", "g", "g"], "more than once"),
    (["--bands", "g", "r/x"], "not a band name"),
])
def test_bands_bad_flags(tmp_path, capsys, flags, message):
    assert run_cli("simulate", "--output", tmp_path / "s", *flags) == 2
    assert message in capsys.readouterr().err
