"""benchmarks/bench_bands.py (issue 25.4): the night split, and both measurements
run end to end on the tiny run and small simulated inputs."""

import importlib.util
import json

import numpy as np
import pytest

from helpers import REPO_ROOT, run_cli


def _bench():
    spec = importlib.util.spec_from_file_location("bench_bands",
                                                  REPO_ROOT / "benchmarks" / "bench_bands.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = _bench()

@pytest.mark.parametrize("site_hours", [0.6, 0.3, 0.9])
def test_night_boundary_falls_in_the_day_and_keeps_nights_whole(site_hours):
    rng = np.random.default_rng(1)
    nights = np.sort(rng.choice(np.arange(55000, 56000), 300, replace=False))
    # 4 exposures ~10 min apart, the night's start within +-3 h of the site's mid-night
    start = nights + site_hours + rng.uniform(-0.12, 0.12, len(nights))
    time = (start[:, None] + np.arange(4) * 0.007).ravel()
    boundary = bench.night_boundary(time)
    distance = abs((boundary - site_hours + 0.5) % 1.0 - 0.5)
    assert distance > 0.3  # far from the observing hours
    in_a = bench.night_halves(time, boundary)
    assert np.all(in_a.reshape(-1, 4) == in_a.reshape(-1, 4)[:, :1])  # a night stays whole
    assert in_a[::4].tolist() == [k % 2 == 0 for k in range(len(nights))]  # alternate nights


def _configurations_make_sense(record, names, n_stars):
    assert set(record["configurations"]) == set(names)
    assert record["n_stars"] == n_stars
    for name, metrics in record["configurations"].items():
        assert {"n_scored", "n_compared", "macro_f1", "accuracy", "flag95_known",
                "top_failures"} <= set(metrics), name
        assert 0 <= metrics["n_compared"] <= metrics["n_scored"] <= n_stars
        for key in ("macro_f1", "accuracy", "flag95_known"):
            assert metrics[key] is None or 0.0 <= metrics[key] <= 1.0, (name, key)


@pytest.fixture(scope="module")
def bands_sample(tmp_path_factory):
    out = tmp_path_factory.mktemp("bands_sample")
    for name, extra in (("one", ()), ("per", ("--per_band_files",))):
        assert run_cli("simulate", "--output", out / name, "--bands", "g", "r",
                       "--n_per_class", 1, "--n_novel", 1, "--seed", 3,
                       "--min_points", 60, "--max_points", 120, *extra) == 0
    return out


@pytest.mark.slow
@pytest.mark.parametrize("shape", ["one", "per"])
def test_simulated_measurement(tiny_run_dir, bands_sample, shape, capsys):
    extra = ["--class_map", "crts"] if shape == "per" else []  # renames both sides
    record = bench.main(["simulated", "--run_dir", str(tiny_run_dir),
                         "--sample", str(bands_sample / shape), "--max_stars", "0", *extra])
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 1 and json.loads(printed[0]) == json.loads(json.dumps(record))
    _configurations_make_sense(record, ["g", "r", "g+r"], 9)
    combined = record["configurations"]["g+r"]
    assert combined["n_scored"] == 9 and combined["n_compared"] == 8  # RCB is novel
    assert combined["n_novel"] == 1 and combined["top_failures"] == {}
    assert set(record["combined_minus_band"]) == {"g", "r"}
    assert record["class_map"] == (bench.SIM_TO_CRTS if extra else {})


@pytest.mark.slow
def test_split_measurement(tiny_run_dir, capsys):
    record = bench.main(["split", "--run_dir", str(tiny_run_dir), "--max_stars", "5",
                         "--seed", "1"])
    assert json.loads(capsys.readouterr().out) == json.loads(json.dumps(record))
    _configurations_make_sense(record, ["A", "B", "A+B", "whole"], 5)
    assert record["configurations"]["A+B"]["n_scored"] == 5
    assert record["configurations"]["whole"]["n_scored"] == 5
    # ASAS-SN-like epochs fall at 0.55-0.85 of the (HJD) day: the cut is outside them
    assert not 0.5 < record["night_boundary_day_fraction"] < 0.9
    assert record["median_nights"] > 10
    for key in ("combined_minus_A", "combined_minus_whole"):
        assert record[key] is None or -1 <= record[key] <= 1
