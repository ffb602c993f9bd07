"""``rnngmm flag`` end to end with a real trained (tiny) run."""

import os
import signal

import numpy as np
import pytest

from fixtures_runs import TINY_NOVEL_CLASS
from flagging_helpers import EXTRA_ROWS, flag_args
from helpers import run_cli, run_cli_subprocess
from rnngmm.debug import FLAG_FAULT as FAULT_ENV
from rnngmm.flagging.table import read_table
from rnngmm.flagging.shards import count_shard_files, parts_dir

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def reference(tiny_run_dir, new_catalog, tmp_path_factory):
    out = tmp_path_factory.mktemp("flag_reference") / "flags.ecsv"
    assert run_cli(*flag_args(tiny_run_dir, new_catalog, out)) == 0
    return read_table(str(out))


def test_one_row_per_catalog_row_with_reasons(reference, new_catalog, tiny_run_dir):
    ids = new_catalog[2]
    assert list(reference["id"]) == ids
    status = dict(zip(reference["id"][:-1], reference["status"][:-1]))
    for object_id, reason in EXTRA_ROWS:
        assert status[object_id].startswith(reason)
    assert reference["status"][-1].startswith("duplicate catalog id")
    known = [i for i in ids[:-1] if i not in dict(EXTRA_ROWS)]
    ok = [status[i] == "ok" for i in known]
    assert sum(ok) >= len(known) - 2, "most simulated objects should be scored"
    assert reference.meta["run_id"] == "tiny"
    for name in ("class", "mean_mag", "predicted_class", "energy", "energy_percentile",
                 "anomaly_80", "anomaly_95", "anomaly_99", "n_chunks", "period_source"):
        assert name in reference.colnames
    class_names = reference.meta["class_names"]
    assert TINY_NOVEL_CLASS not in class_names
    assert all(f"prob_{c}" in reference.colnames for c in class_names)
    scored = reference["status"] == "ok"
    assert set(reference["predicted_class"][scored]) <= set(class_names)
    assert np.all(np.isfinite(reference["energy"][scored]))
    assert "catalog" in set(reference["period_source"][scored])


def test_thresholds_are_the_runs(reference, tiny_run_dir):
    from rnngmm.novelty.mixture import GMMNovelty
    novelty = GMMNovelty.load(tiny_run_dir / "gmm.h5")
    assert novelty.novelty_score == "class_energy_msp"  # the default of new runs
    assert reference.meta["novelty_score"] == "class_energy_msp"
    assert reference.meta["expected_flag_rate"] == {"80": 0.2, "95": 0.05, "99": 0.01}
    names = list(reference.meta["class_names"])
    scored = np.asarray(reference["status"] == "ok")
    predicted = np.array([names.index(c) if c else 0 for c in reference["predicted_class"]])
    energy = np.asarray(reference["energy"], float)
    scores = np.full(len(energy), np.nan)
    max_probability = np.asarray(reference["class_probability"], float)
    scores[scored] = novelty.novelty_scores(energy[scored], predicted[scored],
                                            max_probability[scored])
    for p in (80, 95, 99):
        threshold = novelty.score_thresholds([p])[float(p)]
        assert reference.meta[f"threshold_{p}"] == pytest.approx(threshold)
        assert list(reference[f"anomaly_{p}"]) == list(scored & (scores > threshold))
    np.testing.assert_allclose(np.asarray(reference["energy_percentile"], float)[scored],
                               novelty.score_percentile(scores[scored]))


@pytest.mark.parametrize("suffix", [".fits", ".csv", ".h5"])
def test_other_formats_hold_the_same_table(tiny_run_dir, new_catalog, reference,
                                           tmp_path, suffix):
    out = tmp_path / f"flags{suffix}"
    assert run_cli(*flag_args(tiny_run_dir, new_catalog, out)) == 0
    table = read_table(str(out))
    assert table.colnames == reference.colnames
    for name in ("energy", "prob_" + reference.meta["class_names"][0], "period"):
        np.testing.assert_array_equal(np.asarray(table[name], float),
                                      np.asarray(reference[name], float))
    assert list(table["status"]) == list(reference["status"])


def test_prepared_dataset_input(tiny_run_dir, small_dataset, tmp_path):
    out = tmp_path / "flags.ecsv"
    code = run_cli("flag", "--run_dir", tiny_run_dir, "--data", small_dataset,
                   "--output", out, "--label_col", "label", "--progress_interval", "0")
    assert code == 0
    table = read_table(str(out))
    from rnngmm.io.dataset import Dataset
    with Dataset(small_dataset) as data:
        assert list(table["id"]) == list(data.ids)
        assert list(table["label"]) == list(data.labels)
    assert np.mean(table["status"] == "ok") > 0.9


@pytest.mark.parametrize("bad, message", [
    (("--percentiles", "120"), "percentiles"),
    (("--batch_objects", "0"), "batch_objects"),
    (("--output", "flags.txt"), "suffix"),
    (("--output", "/nonexistent_dir/flags.ecsv"), "does not exist"),
    (("--data", "x.h5"), "not both"),
])
def test_bad_flags_fail_before_work(tiny_run_dir, new_catalog, tmp_path, capsys,
                                    bad, message):
    out = tmp_path / "flags.ecsv"
    args = list(flag_args(tiny_run_dir, new_catalog, out))
    if bad[0] in args:
        args[args.index(bad[0]) + 1] = bad[1]
    else:
        args.extend(bad)
    assert run_cli(*args) == 2
    assert message in capsys.readouterr().err
    assert not os.path.exists(parts_dir(str(out)))


def test_killed_run_resumes_to_the_same_file(tiny_run_dir, new_catalog, reference,
                                             tmp_path):
    out = tmp_path / "flags.ecsv"
    args = flag_args(tiny_run_dir, new_catalog, out)
    env = dict(os.environ, **{FAULT_ENV: "0:kill:2"})
    killed = run_cli_subprocess(*args, env=env, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert not out.exists()
    assert count_shard_files(parts_dir(str(out))) == 2
    resumed = run_cli_subprocess(*args, "--resume", timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "flag: 20/" in resumed.stdout, "resume did not start from the completed shards"
    assert "absl::InitializeLog" not in resumed.stderr and "I0000" not in resumed.stderr
    table = read_table(str(out))
    assert table.colnames == reference.colnames
    for name in reference.colnames:
        np.testing.assert_array_equal(np.asarray(table[name]), np.asarray(reference[name]),
                                      err_msg=name)
    assert not os.path.exists(parts_dir(str(out)))


def test_parquet_output_with_codes_describes_itself(reference, tiny_run_dir, new_catalog,
                                                    tmp_path):
    out = tmp_path / "flags.parquet"
    assert run_cli(*flag_args(tiny_run_dir, new_catalog, out), "--with_code") == 0
    table = read_table(str(out))
    codes = [c for c in table.colnames if c.startswith("code_")]
    assert len(codes) == 4  # the tiny model's embedding
    ok = np.asarray(table["status"]) == "ok"
    assert np.isfinite(np.asarray(table[codes[0]])[ok]).all()
    assert np.isnan(np.asarray(table[codes[0]])[~ok]).all()
    # the same rows and numbers as the ECSV reference, plus the codes
    for name in reference.colnames:
        a, b = np.asarray(reference[name]), np.asarray(table[name])
        if a.dtype.kind == "f":
            np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
            np.testing.assert_allclose(a[~np.isnan(a)], b[~np.isnan(b)], err_msg=name)
        else:
            assert list(a.astype(str)) == list(b.astype(str)), name
    assert str(table["period"].unit) == "d" and "HIGHER" in table["energy"].description
    assert all(table[c].description for c in table.colnames if c not in ("mean_mag", "class"))
    assert table.meta["run_id"] == "tiny"


# --- archive inputs with the shipped model (issue 23.6) ------------------------------

PRETRAINED = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "pretrained", "crts8-v1")
#: Stars of the session's simulated sample used below.
STARS = 5


@pytest.fixture(scope="module")
def star_curves(small_sample):
    """``[(id, period, (time, mag, err))]`` of a few simulated stars, V band."""
    from astropy.table import Table

    from rnngmm.io.readers import read_lightcurve
    catalog = Table.read(small_sample / "catalog.csv")[:STARS]
    return [(str(i), float(p), read_lightcurve(small_sample / "lightcurves" / f"{i}.csv",
                                               "asassn", filter="V"))
            for i, p in zip(catalog["id"], catalog["period"])]


def _catalog(path, star_curves, extra=()):
    rows = [f"{i},{p!r}" for i, p, _ in star_curves] + [f"{i},1.0" for i in extra]
    path.write_text("id,period\n" + "\n".join(rows) + "\n")
    return path


def _flag(catalog, lightcurves, out, *options):
    assert run_cli("flag", "--run_dir", PRETRAINED, "--catalog", catalog, "--lightcurves",
                   lightcurves, "--period_col", "period", "--output", out,
                   "--progress_interval", "0", *options) == 0
    return read_table(str(out))


def test_long_table_with_one_non_numeric_cell_rejects_only_that_object(star_curves,
                                                                      tmp_path):
    """An archive's "--" for a missing error in one object's rows of a long
    (gzipped) table: that object's status names the column and value, every
    other object is scored as from a clean table, every catalog row is there."""
    import gzip
    lines = ["id,time,mag,err"]
    for object_id, _, (time, mag, err) in star_curves:
        lines += [f"{object_id},{float(t)!r},{float(m)!r},{float(e)!r}"
                  for t, m, e in zip(time, mag, err)]
    clean = tmp_path / "clean.csv"
    clean.write_text("\n".join(lines) + "\n")
    bad_id = star_curves[1][0]
    row = next(k for k, line in enumerate(lines) if line.startswith(bad_id + ",")) + 3
    dirty_lines = list(lines)
    dirty_lines[row] = ",".join(dirty_lines[row].split(",")[:3] + ["--"])
    dirty = tmp_path / "lightcurves.csv.gz"
    dirty.write_bytes(gzip.compress(("\n".join(dirty_lines) + "\n").encode()))
    catalog = _catalog(tmp_path / "catalog.csv", star_curves, extra=["ghost"])
    reference = _flag(catalog, clean, tmp_path / "clean.ecsv", "--format", "table")
    table = _flag(catalog, dirty, tmp_path / "dirty.ecsv", "--format", "table")
    ids = [i for i, _, _ in star_curves] + ["ghost"]
    assert list(table["id"]) == list(reference["id"]) == ids
    status = dict(zip(table["id"], table["status"]))
    assert status[bad_id] == "non-numeric err value '--'"
    assert status["ghost"] == "no rows in the light-curve table"
    kept = np.asarray(table["id"]) != bad_id
    assert set(np.asarray(table["status"])[kept][:-1]) == {"ok"}
    for name in reference.colnames:
        a, b = np.asarray(table[name])[kept], np.asarray(reference[name])[kept]
        if a.dtype.kind == "f":  # one object fewer in the float32 batches
            np.testing.assert_allclose(a, b, rtol=1e-5, err_msg=name)
        else:
            np.testing.assert_array_equal(a, b, err_msg=name)


def _irsa_tbl(path, object_id, time, mag, err, compress=False):
    """One star as IRSA's ZTF light-curve service writes it by default (IPAC)."""
    import gzip

    from astropy.table import Table
    n = len(time)
    table = Table({"oid": np.full(n, 633210100000000 + int(object_id[-5:]), np.int64),
                   "expid": np.arange(n, dtype=np.int32) + 44000000,
                   "hjd": time + 2400000.5, "mjd": time, "mag": mag, "magerr": err,
                   "catflags": np.zeros(n, np.int32), "filtercode": ["zr"] * n,
                   "ra": np.full(n, 120.5), "dec": np.full(n, 30.25),
                   "exptime": np.full(n, 30.0), "programid": np.ones(n, np.int32)})
    table["mjd"].unit = table["hjd"].unit = "days"
    table["mag"].unit = table["magerr"].unit = "mag"
    table.write(path, format="ascii.ipac", overwrite=True)
    text = ("\\fixlen = T\n\\RowsRetrieved = %d\n"
            "\\ORIGIN  = 'IPAC Infrared Science Archive (IRSA), Caltech/JPL'\n" % n
            + path.read_text())
    if compress:
        path.unlink()
        (path.parent / (path.name + ".gz")).write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
        table.write(path.with_suffix(".csv"), format="ascii.csv", overwrite=True)


def test_ztf_ipac_files_flag_like_csv_files(star_curves, tmp_path):
    """IRSA's default IPAC tables, plain and gzipped, per object
    (--template '{id}_r.tbl'): every star scored, as from the same rows in CSV."""
    lcs = tmp_path / "lcs"
    lcs.mkdir()
    for object_id, _, curve in star_curves:
        _irsa_tbl(lcs / f"{object_id}_r.tbl", object_id, *curve)
        _irsa_tbl(lcs / f"{object_id}_r.tbl", object_id, *curve, compress=True)
        _irsa_tbl(lcs / f"{object_id}_r.tbl", object_id, *curve)
    catalog = _catalog(tmp_path / "catalog.csv", star_curves)
    tables = {template: _flag(catalog, lcs, tmp_path / f"{k}.ecsv", "--format", "ztf",
                              "--band", "r", "--template", template)
              for k, template in enumerate(("{id}_r.csv", "{id}_r.tbl", "{id}_r.tbl.gz"))}
    reference = tables["{id}_r.csv"]
    assert set(reference["status"]) == {"ok"}
    for table in tables.values():
        assert list(table["status"]) == list(reference["status"])
        assert list(table["predicted_class"]) == list(reference["predicted_class"])
        np.testing.assert_allclose(np.asarray(table["energy"], float),
                                   np.asarray(reference["energy"], float), rtol=1e-9)
