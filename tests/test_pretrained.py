"""The shipped pretrained models (``pretrained/crts8-v2``, the README's; the v1
models ``crts8-v1`` and ``crts8-ls-v1``): they flag a catalog with no training,
and a run directory works wherever it is copied."""

import importlib.util
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table

import rnngmm
from helpers import run_cli
from rnngmm.io.readers import read_lightcurve
from rnngmm.simulate import simulate_sample, write_sample
from band_files import write_ztf_star
from user_catalog_files import N_GOOD

REPO = Path(__file__).resolve().parents[1]
PRETRAINED = REPO / "pretrained" / "crts8-v1"
#: Its autoencoder with a head for Lomb-Scargle periods (catalogs without periods).
PRETRAINED_LS = REPO / "pretrained" / "crts8-ls-v1"
#: Model v2 (own periods, sampling reference): the README's walkthrough.
PRETRAINED_V2 = REPO / "pretrained" / "crts8-v2"
WALKTHROUGH = PRETRAINED_V2
SHIPPED = [PRETRAINED_V2, PRETRAINED, PRETRAINED_LS]
CRTS_CLASSES = ["CEP", "DSCT", "EA", "EW", "LPV", "ROT", "RRAB", "RRCD"]
#: Simulated classes that have one CRTS class each (the simulator's ECL are
#: detached and contact binaries alike, SR and M both long-period).
SIMULATED = ["RRAB", "RRCD", "DSCT", "ROT"]


def rnngmm_cli(*args):
    """``rnngmm ARGS`` in this process; it must succeed."""
    assert run_cli(*args) == 0, args


@pytest.fixture(scope="module")
def stars(tmp_path_factory):
    """Five simulated stars of each of four classes, ASAS-SN-like CSV files."""
    folder = tmp_path_factory.mktemp("stars")
    write_sample(simulate_sample(5, 0, seed=11, classes=SIMULATED), str(folder))
    return folder


def flag(run_dir, stars, output):
    rnngmm_cli("flag", "--run_dir", run_dir, "--catalog", stars / "catalog.csv",
               "--lightcurves", stars / "lightcurves", "--format", "asassn", "--filter", "V",
               "--label_col", "class", "--output", output)
    return Table.read(output)


def pulsators_right(table):
    """Share of the simulated RRAB, RRCD and DSCT stars given their own class."""
    pulsators = np.isin(np.asarray(table["class"]), ["RRAB", "RRCD", "DSCT"])
    right = np.asarray(table["predicted_class"]) == np.asarray(table["class"])
    return right[pulsators].mean()


@pytest.mark.slow
@pytest.mark.parametrize("run_dir", SHIPPED, ids=lambda p: p.name)
def test_the_model_card_and_run_files_are_shipped(run_dir):
    for name in ("model.keras", "gmm.h5", "config.json", "split.json", "MODEL_CARD.md"):
        assert (run_dir / name).is_file(), name
    card = (run_dir / "MODEL_CARD.md").read_text()
    assert ("benchmarks/make_pretrained_v2.sh" if run_dir == PRETRAINED_V2
            else "benchmarks/make_pretrained.sh") in card
    run = rnngmm.load_run(str(run_dir))
    assert run.class_names == CRTS_CLASSES
    assert run.preprocessing.period_source == ("auto" if run_dir == PRETRAINED
                                               else "lomb-scargle")
    # v2 ranks novelty among training copies observed alike; v1 runs do not
    assert bool(run.novelty.conditions_on_sampling) == (run_dir == PRETRAINED_V2)


def test_the_main_card_says_there_is_no_test_set():
    assert "no test set" in (PRETRAINED / "MODEL_CARD.md").read_text()


@pytest.mark.slow
def test_flags_a_catalog_with_no_training(stars, tmp_path):
    catalog = Table.read(stars / "catalog.csv")
    table = flag(PRETRAINED, stars, tmp_path / "flags.ecsv")
    assert list(table["id"]) == list(catalog["id"])  # one row per catalog row, in order
    assert set(table["status"]) == {"ok"}
    assert set(table["predicted_class"]) <= set(CRTS_CLASSES)
    assert np.all(np.isfinite(table["energy"]))
    for column in ("anomaly_80", "anomaly_95", "anomaly_99"):
        assert table[column].dtype == bool
    # Another survey's simulated stars (ASAS-SN-like V band), yet the pulsators
    # are classified: 15 of 15 RRAB, RRCD and DSCT stars when this was written
    # (the simulator's ROT stars are another matter: 2 of 5).
    assert pulsators_right(table) >= 0.8, table["class", "predicted_class"]


@pytest.mark.slow
def test_the_lomb_scargle_model_searches_every_period_itself(stars, tmp_path):
    """crts8-ls-v1 ignores the catalog's periods (its head learned the folds of
    rnngmm's own search) and still classifies the simulated pulsators: 13 of
    15 when this was written."""
    table = flag(PRETRAINED_LS, stars, tmp_path / "flags_ls.ecsv")
    assert set(table["status"]) == {"ok"}
    assert set(table["period_source"]) == {"lomb-scargle"}
    assert pulsators_right(table) >= 0.7, table["class", "predicted_class"]


@pytest.mark.slow
def test_a_copied_run_directory_gives_the_same_flags(stars, tmp_path):
    here = flag(PRETRAINED, stars, tmp_path / "here.ecsv")
    moved = tmp_path / "elsewhere" / "model"
    shutil.copytree(PRETRAINED, moved)
    there = flag(moved, stars, tmp_path / "there.ecsv")
    assert list(there["predicted_class"]) == list(here["predicted_class"])
    np.testing.assert_allclose(there["energy"], here["energy"], rtol=1e-5)
    # the Python API from the copy: the first star as flag saw it
    run = rnngmm.load_run(str(moved))
    first = Table.read(stars / "catalog.csv")[0]
    time, mag, err = read_lightcurve(stars / "lightcurves" / f"{first['id']}.csv", "asassn",
                                     filter="V")
    result = run.predict(time, mag, err, period=float(first["period"]))
    assert result["predicted_class"][0] == here["predicted_class"][0]
    np.testing.assert_allclose(result["energy"][0], here["energy"][0], rtol=1e-4)


@pytest.mark.slow
def test_a_copied_run_directory_scores_a_dataset(stars, tmp_path):
    moved = tmp_path / "model"
    shutil.copytree(PRETRAINED, moved)
    data = tmp_path / "stars.h5"
    rnngmm_cli("prepare", "--catalog", stars / "catalog.csv",
               "--lightcurves", stars / "lightcurves", "--format", "asassn", "--filter", "V",
               "--label_col", "class", "--period_col", "period", "--output", data)
    rnngmm_cli("score", "--run_dir", moved, "--data", data, "--no_baselines")
    objects = Table.read(moved / "scoring" / "objects.ecsv")
    assert len(objects) == 4 * 5
    assert (moved / "scoring" / "classification_accuracy.json").is_file()


@pytest.mark.slow
def test_v1_commands_ztf_and_gaia(user_catalogs, tmp_path):
    """The v1 model's commands (catalog thresholds, one band) on a ZTF CSV folder
    and a Gaia DR3 epoch-photometry folder (files of the real shapes,
    tests/test_user_catalogs.py): flag with codes, then the report sheet."""
    ztf = tmp_path / "ztf_flags.ecsv"
    rnngmm_cli("flag", "--run_dir", PRETRAINED, "--catalog", user_catalogs / "ztf_catalog.csv",
               "--lightcurves", user_catalogs / "ztf", "--format", "ztf", "--band", "r",
               "--calibrate", "catalog", "--with_code", "--output", ztf)
    table = Table.read(ztf)
    assert list(table["status"][:N_GOOD]) == ["ok"] * N_GOOD and len(table) == N_GOOD + 1
    assert "code_0" in table.colnames
    rnngmm_cli("report", "--table", ztf, "--n", 2, "--output", tmp_path / "report.pdf")
    assert (tmp_path / "report.pdf").stat().st_size > 10_000
    gaia = tmp_path / "gaia_flags.ecsv"
    rnngmm_cli("flag", "--run_dir", PRETRAINED, "--catalog", user_catalogs / "gaia_catalog.parquet",
               "--id_col", "source_id", "--lightcurves", user_catalogs / "gaia", "--format", "gaia",
               "--band", "G", "--calibrate", "catalog", "--with_code", "--output", gaia)
    table = Table.read(gaia)
    assert list(table["status"][:N_GOOD]) == ["ok"] * N_GOOD and len(table) == N_GOOD + 1


def text(value):
    """A text cell as str (an empty cell reads back from ECSV as masked)."""
    return "" if np.ma.is_masked(value) else str(value)


@pytest.mark.slow
def test_readme_several_band_commands_ztf_and_gaia(user_catalogs, tmp_path):
    """The README's several-band commands (issue 25) on files as the archives
    deliver them: IRSA's IPAC tables, one per star and band, with one star
    missing its r file and one whose g band is too short to score; IRSA's CSV
    holding zg and zr rows; Gaia DR3 epoch photometry in G, BP and RP. One
    row per star, scored from the bands it has, and the row says which."""
    ipac = tmp_path / "ipac"
    ipac.mkdir()
    counts = {f"ztf{k}": {"zg": 60, "zr": 80} for k in range(3)}
    counts["no_r"] = {"zg": 60, "zr": None}
    counts["short_g"] = {"zg": 5, "zr": 80}
    for k, (star, rows) in enumerate(counts.items()):
        write_ztf_star(ipac, star, 700000 + k, rows)
    (tmp_path / "stars.csv").write_text("id\n" + "".join(f"{star}\n" for star in counts))
    flags = tmp_path / "flags.ecsv"
    rnngmm_cli("flag", "--run_dir", WALKTHROUGH, "--catalog", tmp_path / "stars.csv",
               "--lightcurves", ipac, "--format", "ztf", "--band", "g", "r",
               "--template", "{id}_{band}.tbl", "--with_code", "--output", flags)
    table = Table.read(flags)
    assert list(table["id"]) == list(counts) and set(table["status"]) == {"ok"}
    row = {str(r["id"]): r for r in table}
    assert row["ztf0"]["bands_used"] == "g,r" and text(row["ztf0"]["bands_missing"]) == ""
    assert abs(row["ztf0"]["colour_g_r"] - 0.5) < 0.05  # mean zg 15.6, zr 15.1
    assert row["ztf0"]["n_points"] == row["ztf0"]["n_points_g"] + row["ztf0"]["n_points_r"]
    assert row["no_r"]["bands_used"] == "g" and row["no_r"]["bands_missing"].startswith("r: ")
    assert row["short_g"]["bands_used"] == "r"
    assert "too few points" in row["short_g"]["bands_missing"]
    assert np.isnan(row["short_g"]["colour_g_r"]) and row["short_g"]["n_points_g"] == 0
    for name in ("predicted_class_g", "predicted_class_r", "energy_percentile_g",
                 "energy_percentile_r", "code_0"):
        assert name in table.colnames, name
    rnngmm_cli("report", "--table", flags, "--n", 2, "--output", tmp_path / "report.pdf")
    assert (tmp_path / "report.pdf").stat().st_size > 10_000

    both = tmp_path / "ztf_csv.ecsv"
    rnngmm_cli("flag", "--run_dir", WALKTHROUGH, "--catalog", user_catalogs / "ztf_catalog.csv",
               "--lightcurves", user_catalogs / "ztf", "--format", "ztf", "--band", "g", "r",
               "--output", both)
    table = Table.read(both)
    assert list(table["status"]) == ["ok"] * (N_GOOD + 1)
    assert list(table["bands_used"]) == ["g,r"] * N_GOOD + ["g"]
    # v2 finds every period itself: the catalog's period column is not used
    assert set(table["period_source"]) == {"lomb-scargle"}
    assert {"n_points", "baseline", "novelty_score"} <= set(table.colnames)

    gaia = tmp_path / "gaia_flags.ecsv"
    rnngmm_cli("flag", "--run_dir", WALKTHROUGH, "--catalog", user_catalogs / "gaia_catalog.parquet",
               "--id_col", "source_id", "--lightcurves", user_catalogs / "gaia", "--format", "gaia",
               "--band", "G", "BP", "RP", "--output", gaia)
    table = Table.read(gaia)
    assert list(table["status"][:N_GOOD]) == ["ok"] * N_GOOD and len(table) == N_GOOD + 1
    assert list(table["bands_used"][:N_GOOD]) == ["G,BP,RP"] * N_GOOD
    # the files' BP is 0.3 mag fainter than G, RP 0.3 fainter than BP
    assert np.allclose(table["colour_G_BP"][:N_GOOD], -0.3, atol=0.05)
    assert np.allclose(table["colour_BP_RP"][:N_GOOD], -0.3, atol=0.05)
    # the last source's fluxes are all negative: no band is usable, and it says so per band
    assert "G:" in table["status"][N_GOOD] and "RP" in table["status"][N_GOOD]


# --- no machine-local paths in what is shipped (issue 23.6) --------------------------

#: Absolute paths of a build machine: POSIX homes and scratch, or a drive letter.
MACHINE_PATH = re.compile(r"(/work/|/tmp/|/home/|/root/|/Users/|/scratch/"
                          r"|(?<![\w/])[A-Za-z]:[\\/])")


def _ship_run_module():
    spec = importlib.util.spec_from_file_location("ship_run",
                                                  REPO / "benchmarks" / "ship_run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _gmm_provenance(path):
    import h5py
    with h5py.File(path, "r") as handle:
        return {k: str(handle.attrs.get(k, "")) for k in ("command", "inputs")}


@pytest.mark.parametrize("run_dir", SHIPPED, ids=lambda p: p.name)
def test_shipped_runs_record_no_machine_local_paths(run_dir):
    texts = {name: (run_dir / name).read_text() for name in ("config.json", "MODEL_CARD.md")}
    texts.update({f"gmm.h5 {k}": v for k, v in _gmm_provenance(run_dir / "gmm.h5").items()})
    for name, text in texts.items():
        found = [text[max(0, m.start() - 30):m.end() + 30]
                 for m in MACHINE_PATH.finditer(text)]
        assert not found, (name, found)


@pytest.mark.slow
def test_ship_run_makes_paths_portable_and_keeps_everything_else(tmp_path):
    ship_run = _ship_run_module()
    run_dir = tmp_path / "crts8-v1"
    shutil.copytree(PRETRAINED, run_dir)
    config = json.loads((run_dir / "config.json").read_text())
    config["train"]["data"] = "/home/someone/work/crts8.h5"
    config["train"]["log_dir"] = "C:\\Users\\someone\\keras_logs"
    config["init_from"] = "/tmp/build/keras_logs/crts/parent"
    attrs = config["dataset"]["attrs"]
    attrs["command"] = ("/opt/venv/bin/rnngmm prepare --catalog /tmp/w/catalog.csv "
                        "--output=/tmp/w/crts8.h5 --format crts")
    inputs = json.loads(attrs["inputs"])
    inputs["lightcurves"] = "/scratch/w/lightcurves"
    attrs["inputs"] = json.dumps(inputs)
    (run_dir / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    dest = tmp_path / "shipped" / "crts8-v1"
    ship_run.ship_run(str(run_dir), str(dest))
    shipped = json.loads((dest / "config.json").read_text())
    text = (dest / "config.json").read_text()
    assert not MACHINE_PATH.search(text), text
    assert shipped["train"]["data"] == "<local>/crts8.h5"
    assert shipped["train"]["log_dir"] == "<local>/keras_logs"
    assert shipped["init_from"] == "<local>/parent"
    assert shipped["dataset"]["attrs"]["command"] == (
        "rnngmm prepare --catalog <local>/catalog.csv --output=<local>/crts8.h5 "
        "--format crts")
    shipped_inputs = json.loads(shipped["dataset"]["attrs"]["inputs"])
    assert shipped_inputs == dict(inputs, lightcurves="<local>/lightcurves")

    def without_paths(value):
        value = json.loads(json.dumps(value))
        for section, key in (("train", "data"), ("train", "log_dir")):
            value[section].pop(key)
        value.pop("init_from")
        value["dataset"]["attrs"].pop("command")
        value["dataset"]["attrs"].pop("inputs")
        value["dataset"].pop("path")
        return value
    assert without_paths(shipped) == without_paths(config)
    assert not any(MACHINE_PATH.search(v) for v in _gmm_provenance(dest / "gmm.h5").values())
    for name in ("model.keras", "split.json", "training.csv", "rejects.ecsv"):
        assert (dest / name).read_bytes() == (run_dir / name).read_bytes(), name
    run, shipped_run = rnngmm.load_run(str(run_dir)), rnngmm.load_run(str(dest))
    assert shipped_run.class_names == run.class_names
    assert shipped_run.preprocessing == run.preprocessing
    assert shipped_run.class_map == run.class_map
    np.testing.assert_array_equal(shipped_run.novelty.train_energy_, run.novelty.train_energy_)
