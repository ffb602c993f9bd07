"""The prepare stage: dataset contents, rejects accounting, filters, CLI, MPI."""

import json

import h5py
import numpy as np
import pytest
from astropy.table import Table

from helpers import mpirun, run_cli
from rnngmm.errors import InputError
from rnngmm.io.dataset import Dataset
from rnngmm.prepare import PrepareConfig, parse_class_map, prepare, rejects_path


def crts_like(tmp_path):
    """A catalog of 7 rows and CRTS files: good, unsorted, bad in several ways."""
    lc = tmp_path / "lc"
    lc.mkdir()
    rng = np.random.default_rng(0)
    time = 53000 + np.sort(rng.uniform(0, 1000, 60))
    lines = [f"{float(t)!r} {14 + 0.3 * np.sin(2 * np.pi * t / 0.6):.4f} 0.02" for t in time]
    (lc / "good.dat").write_text("\n".join(lines) + "\n")
    (lc / "unsorted.dat").write_text("\n".join(lines[::-1] + lines[:5]) + "\n")  # + duplicates
    (lc / "short.dat").write_text("\n".join(lines[:5]) + "\n")
    (lc / "empty.dat").write_text("")
    (lc / "binary.dat").write_bytes(b"\x00\x01\x02")
    (lc / "nolabel.dat").write_text("\n".join(lines) + "\n")
    catalog = tmp_path / "cat.csv"
    catalog.write_text("id,class,period,vmag\n"
                       "good,EW,0.6,14.0\n"
                       "unsorted,RRab,,14.5\n"
                       "short,EW,0.6,13.0\n"
                       "empty,EW,0.6,13.0\n"
                       "missing,EW,0.6,13.0\n"
                       "binary,EW,0.6,13.0\n"
                       "good,EW,0.7,14.0\n"
                       "../lc/good,EW,0.6,14.0\n"
                       "nolabel,,0.6,11.0\n")
    return catalog, lc


def config(catalog, lc, out, **kw):
    kw.setdefault("label_col", "class")
    kw.setdefault("period_col", "period")
    kw.setdefault("format", "crts")
    return PrepareConfig(catalog=str(catalog), lightcurves=str(lc), output=str(out),
                         extra_cols=("vmag",), **kw)


def test_dataset_and_rejects_account_for_every_catalog_row(tmp_path):
    catalog, lc = crts_like(tmp_path)
    out = tmp_path / "d.h5"
    result = prepare(config(catalog, lc, out), log=lambda *a: None)
    with Dataset(out) as d:
        assert list(d.ids) == ["good", "unsorted", "nolabel"]  # catalog order
        assert list(d.labels) == ["EW", "RRab", ""]
        assert list(d.period_sources) == ["catalog", "lomb-scargle", "catalog"]
        assert d.periods[1] == pytest.approx(0.6, rel=1e-3)
        assert np.isnan(d.period_powers[0]) and d.period_powers[1] > 0.5
        np.testing.assert_array_equal(d.extra("vmag"), [14.0, 14.5, 11.0])
        t, m, e = d.lightcurve(1)
        assert t.dtype == np.float64 and np.all(np.diff(t) > 0) and len(t) == 60
        assert json.loads(d.attrs["inputs"])["format"] == "crts"
    rejects = Table.read(rejects_path(out), format="ascii.ecsv")
    reasons = dict(zip(rejects["id"], rejects["reason"]))
    assert len(rejects) + 3 == 9 == result.n_input
    assert sorted(reasons) == sorted(["short", "empty", "missing", "binary", "good",
                                      "../lc/good"])
    assert reasons["short"].startswith("too few points")
    assert reasons["empty"] == "empty file"
    assert reasons["missing"].startswith("light-curve file not found")
    assert reasons["binary"] == "not a text file"
    assert reasons["../lc/good"].startswith("unsafe object id")
    assert reasons["good"].startswith("duplicate catalog id")
    assert list(rejects["catalog_row"]) == sorted(rejects["catalog_row"])
    assert result.reject_counts["too few points"] == 1
    assert result.point_counts["duplicate epoch"] == 5


def test_first_block_without_a_kept_object(tmp_path):
    """Blocks of 2 objects: the first block holds only rejects (short, empty
    files after the catalog is reordered), and the join still writes every kept object
    (found by the fuzz test: an unread window was indexed)."""
    catalog, lc = crts_like(tmp_path)
    rows = catalog.read_text().splitlines()
    # header, then short + empty first: block 0 has no kept object
    catalog.write_text("\n".join([rows[0], rows[3], rows[4], rows[1], rows[2]]) + "\n")
    out = tmp_path / "d.h5"
    result = prepare(config(catalog, lc, out, block_objects=2), log=lambda *a: None)
    with Dataset(out) as d:
        assert list(d.ids) == ["good", "unsorted"]
        assert len(d.lightcurve(0)[0]) == 60
    assert result.n_kept == 2 and result.n_input == 4


def test_catalog_read_a_few_rows_at_a_time_gives_the_same_files(tmp_path, monkeypatch):
    """The catalog read in blocks of 2 rows (the duplicate and the rejects in
    other blocks than their first rows), in work blocks of 2 objects, gives
    the files of one block."""
    import rnngmm.io.catalog_file as catalog_file
    catalog, lc = crts_like(tmp_path)
    whole = tmp_path / "whole.h5"
    prepare(config(catalog, lc, whole), log=lambda *a: None)
    monkeypatch.setattr(catalog_file, "BLOCK_ROWS", 2)
    rows = tmp_path / "rows.h5"
    prepare(config(catalog, lc, rows, block_objects=2), log=lambda *a: None)
    assert_same_files(whole, rows, extra=("vmag",))


def test_filters_class_map_and_period_source(tmp_path):
    catalog, lc = crts_like(tmp_path)
    out = tmp_path / "d.h5"
    prepare(config(catalog, lc, out, class_map={"EW": "ECL"}, min_points=1,
                   period_source="catalog"), log=lambda *a: None)
    with Dataset(out) as d:
        assert list(d.ids) == ["good", "short", "nolabel"]
        assert list(d.labels) == ["ECL", "ECL", ""]
    reasons = dict(zip(*(Table.read(rejects_path(out))[c] for c in ("id", "reason"))))
    assert reasons["unsorted"] == "class not in class map (RRab)"
    prepare(config(catalog, lc, out, period_source="lomb-scargle", label_col=None),
            log=lambda *a: None)
    with Dataset(out) as d:
        assert set(d.period_sources) == {"lomb-scargle"} and set(d.labels) == {""}
        # the catalog's periods stay beside the searched ones the model reads
        assert "period" in d.extra_names
        catalog_periods = np.asarray(d.extra("period"), np.float64)
        assert np.isfinite(catalog_periods).any()
        assert not np.allclose(catalog_periods, d.periods, equal_nan=True)


def test_class_prob_cut_on_simulated_sample(small_sample, tmp_path):
    out = tmp_path / "d.h5"
    result = prepare(PrepareConfig(
        catalog=str(small_sample / "catalog.csv"), lightcurves=str(small_sample / "lightcurves"),
        output=str(out), format="asassn", label_col="class", period_col="period",
        reader_options={"filter": "V"}, min_class_prob=0.95), log=lambda *a: None)
    probs = Table.read(small_sample / "catalog.csv")["class_prob"]
    assert result.reject_counts.get("class probability below cut", 0) == np.sum(probs < 0.95)
    assert result.n_kept + sum(result.reject_counts.values()) == len(probs)
    assert result.point_counts["non-detection"] > 0
    with Dataset(out) as d:
        assert "RCB" in set(d.labels)
        rcb = d.labels == "RCB"
        assert set(d.period_sources[rcb]) == {"lomb-scargle"}  # no catalog period


def test_parse_class_map(tmp_path):
    assert parse_class_map("EW:ECL, EA:ECL") == {"EW": "ECL", "EA": "ECL"}
    path = tmp_path / "map.json"
    path.write_text('{"RRab": "RRAB"}')
    assert parse_class_map(str(path)) == {"RRab": "RRAB"}
    path.write_text('["RRab"]')
    with pytest.raises(InputError, match="JSON object"):
        parse_class_map(str(path))
    with pytest.raises(InputError, match="SUB:SUPER"):
        parse_class_map("EW=ECL")


@pytest.mark.parametrize("change, message", [
    ({"catalog": "/nonexistent.csv"}, "--catalog"),
    ({"lightcurves": "/nonexistent"}, "--lightcurves"),
    ({"format": "kepler"}, "--format"),
    ({"min_points": 0}, "--min_points"),
    ({"sigma_clip": -1.0}, "--sigma_clip"),
    ({"min_class_prob": 2.0}, "--class_prob"),
    ({"template": "star.dat"}, "{id}"),
    ({"output": "/nonexistent/d.h5"}, "--output"),
])
def test_bad_flags_are_input_errors_before_any_work(tmp_path, change, message):
    catalog, lc = crts_like(tmp_path)
    cfg = config(catalog, lc, tmp_path / "d.h5")
    for key, value in change.items():
        setattr(cfg, key, value)
    with pytest.raises(InputError, match=message):
        prepare(cfg, log=lambda *a: None)
    assert not (tmp_path / "d.h5").exists()


def test_missing_cut_column_lists_available_columns(tmp_path):
    catalog, lc = crts_like(tmp_path)
    with pytest.raises(InputError, match="ss_resid.*available columns: id, class"):
        prepare(config(catalog, lc, tmp_path / "d.h5", max_ss_resid=0.5),
                log=lambda *a: None)


def test_long_table_input_matches_per_object_files(tmp_path):
    catalog, lc = crts_like(tmp_path)
    rows = ["id,time,mag,err"]
    for name in ("good", "unsorted", "nolabel"):
        for line in (lc / f"{name}.dat").read_text().split("\n"):
            if line:
                rows.append(",".join([name] + line.split()))
    table = tmp_path / "long.csv"
    table.write_text("\n".join(rows) + "\n")
    out_files, out_table = tmp_path / "a.h5", tmp_path / "b.h5"
    prepare(config(catalog, lc, out_files), log=lambda *a: None)
    prepare(config(catalog, table, out_table, format="table"), log=lambda *a: None)
    with Dataset(out_files) as a, Dataset(out_table) as b:
        assert list(a.ids) == list(b.ids)
        for i in range(len(a)):
            np.testing.assert_array_equal(a.lightcurve(i)[0], b.lightcurve(i)[0])


def test_long_table_non_numeric_cell_rejects_only_its_object(tmp_path):
    """An archive's "--" in one object's rows of a (compressed) long table:
    that object is a reject naming the value, every other object is kept."""
    import gzip
    catalog, lc = crts_like(tmp_path)
    rows = ["id,time,mag,err"]
    for name in ("good", "unsorted", "nolabel"):
        for k, line in enumerate(l for l in (lc / f"{name}.dat").read_text().split("\n") if l):
            fields = line.split()
            if name == "unsorted" and k == 7:
                fields[2] = "--"
            rows.append(",".join([name] + fields))
    table = tmp_path / "long.csv.gz"
    table.write_bytes(gzip.compress(("\n".join(rows) + "\n").encode()))
    out = tmp_path / "t.h5"
    prepare(config(catalog, table, out, format="table"), log=lambda *a: None)
    with Dataset(out) as data:
        assert list(data.ids) == ["good", "nolabel"]
    rejects = Table.read(rejects_path(out))
    reasons = dict(zip(rejects["id"], rejects["reason"]))
    assert reasons["unsorted"] == "non-numeric err value '--'"
    n_catalog = len(catalog.read_text().strip().split("\n")) - 1
    assert len(rejects) + 2 == n_catalog, "every catalog row kept or rejected"


def test_cli_prints_counts_and_rejects_bad_flags(small_sample, tmp_path, capsys):
    out = tmp_path / "d.h5"
    code = run_cli("prepare", "--catalog", small_sample / "catalog.csv",
                   "--lightcurves", small_sample / "lightcurves", "--format", "asassn",
                   "--filter", "V", "--label_col", "class", "--period_col", "period",
                   "--class_map", "CEPH:CEPH,ECL:ECL", "--output", out)
    text = capsys.readouterr().out
    assert code == 0 and "prepared 12 of 52 objects" in text
    assert "class not in class map" in text and "non-detection" in text
    code = run_cli("prepare", "--catalog", small_sample / "catalog.csv",
                   "--lightcurves", small_sample / "lightcurves", "--format", "crts",
                   "--filter", "V", "--output", out)
    assert code == 2 and "--filter only applies" in capsys.readouterr().err


def dataset_contents(path):
    with h5py.File(path, "r") as f:
        return {name: f[name][()] for name in
                ["objects/id", "objects/label", "objects/period", "objects/period_source",
                 "objects/period_power", "objects/offset", "objects/length",
                 "lightcurves/time", "lightcurves/mag", "lightcurves/err"]}


def assert_same_files(one, two, extra=()):
    """The same dataset arrays (and ``extra`` columns) and the same rejects table."""
    a, b = dataset_contents(one), dataset_contents(two)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    with Dataset(one) as x, Dataset(two) as y:
        for name in extra:
            np.testing.assert_array_equal(x.extra(name), y.extra(name), err_msg=name)
    assert (Table.read(rejects_path(one)).as_array().tolist()
            == Table.read(rejects_path(two)).as_array().tolist())


@pytest.mark.slow
@pytest.mark.mpi
def test_two_ranks_give_the_same_files_as_one(small_sample, tmp_path):
    args = ["-m", "rnngmm.cli", "prepare", "--catalog", small_sample / "catalog.csv",
            "--lightcurves", small_sample / "lightcurves", "--format", "asassn",
            "--filter", "V", "--label_col", "class", "--period_source", "lomb-scargle",
            "--class_prob", "0.9"]
    serial = tmp_path / "serial.h5"
    assert run_cli(*args[2:], "--output", serial) == 0
    parallel = tmp_path / "parallel.h5"
    # blocks of 4 objects: the ranks interleave, each writes several blocks
    proc = mpirun(2, *args, "--output", parallel, "--block_objects", "4")
    assert proc.returncode == 0, proc.stderr
    assert "on 2 process(es)" in proc.stdout and proc.stdout.count("prepared") == 1
    assert_same_files(serial, parallel)


def test_parts_joined_in_catalog_order_whatever_the_blocks_and_pieces(small_sample, tmp_path,
                                                                     monkeypatch):
    """Blocks of 3 objects, part files of 5 objects and a join that reads a block
    or two of light curves at a time give the file of one block."""
    import rnngmm.prepare as prep
    base = dict(catalog=str(small_sample / "catalog.csv"),
                lightcurves=str(small_sample / "lightcurves"), format="asassn",
                label_col="class", period_col="period", extra_cols=("class_prob",),
                reader_options={"filter": "V"}, min_class_prob=0.9)
    whole = tmp_path / "whole.h5"
    prepare(PrepareConfig(output=str(whole), block_objects=10**6, **base), log=lambda *a: None)
    monkeypatch.setattr(prep, "PIECE_OBJECTS", 5)
    import rnngmm.io.dataset_parts as parts
    monkeypatch.setattr(parts, "JOIN_POINTS", 150)  # light curves read a block or two at a time
    pieces = tmp_path / "pieces.h5"
    result = prepare(PrepareConfig(output=str(pieces), block_objects=3, **base),
                     log=lambda *a: None)
    assert_same_files(whole, pieces, extra=("class_prob",))
    assert result.n_kept + sum(result.reject_counts.values()) == result.n_input
    # no part file is left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "pieces.h5", "pieces.rejects.ecsv", "whole.h5", "whole.rejects.ecsv"]


@pytest.mark.slow
def test_killed_prepare_leaves_no_file_that_looks_complete(small_sample, tmp_path):
    """SIGKILL in the middle of the join: no dataset or rejects table appears,
    only temporaries; the next run removes the stale part files."""
    import os
    import subprocess
    import sys
    from helpers import REPO_ROOT
    out = tmp_path / "data.h5"
    args = [sys.executable, "-m", "rnngmm.cli", "prepare", "--catalog",
            small_sample / "catalog.csv", "--lightcurves", small_sample / "lightcurves",
            "--format", "asassn", "--filter", "V", "--label_col", "class",
            "--period_col", "period", "--output", out, "--block_objects", "2"]
    env = dict(os.environ, RNNGMM_PREPARE_FAULT="0:kill:join:3")
    killed = subprocess.run([str(a) for a in args], capture_output=True, text=True,
                            cwd=REPO_ROOT, env=env, timeout=300)
    assert killed.returncode == -9, killed.stderr
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left and all(".tmp" in name for name in left), left
    assert not out.exists() and not os.path.exists(rejects_path(out))
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    assert not [p for p in tmp_path.iterdir() if ".part-" in p.name]
    with Dataset(out) as dataset:
        assert len(dataset) > 0


@pytest.mark.slow
@pytest.mark.mpi
@pytest.mark.parametrize("kind, code, message", [
    ("error", 2, "error on rank 1 of 2: RNNGMM_PREPARE_FAULT: injected failure on rank 1 "
                 "at block 3; aborting the job"),
    ("raise", 1, "RuntimeError: RNNGMM_PREPARE_FAULT: injected failure on rank 1 at block 3")])
def test_a_failing_rank_aborts_a_two_rank_prepare(small_sample, tmp_path, monkeypatch,
                                                 kind, code, message):
    """Rank 1 fails while rank 0 goes on (and then waits for it to gather the
    parts): the whole job ends with the error instead of hanging, and leaves
    no dataset or rejects table, only temporaries; a rerun succeeds."""
    out = tmp_path / "data.h5"
    args = ["-m", "rnngmm.cli", "prepare", "--catalog", small_sample / "catalog.csv",
            "--lightcurves", small_sample / "lightcurves", "--format", "asassn",
            "--filter", "V", "--label_col", "class", "--period_source", "lomb-scargle",
            "--output", out, "--block_objects", "2"]
    monkeypatch.setenv("RNNGMM_PREPARE_FAULT", f"1:{kind}:block:3")
    proc = mpirun(2, *args, timeout=300)
    assert proc.returncode == code, proc.stderr
    assert message in proc.stderr
    assert "prepared" not in proc.stdout
    assert not out.exists() and not (tmp_path / "data.rejects.ecsv").exists()
    assert all(p.name.endswith(".tmp") for p in tmp_path.iterdir())
    monkeypatch.delenv("RNNGMM_PREPARE_FAULT")
    proc = mpirun(2, *args, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.h5", "data.rejects.ecsv"]
