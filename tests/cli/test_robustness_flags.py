"""Issue 7, bad flags: for every command, a nonsense flag value, a missing
file or an unknown choice gives ONE clear message, a non-zero exit code, and
nothing is written (no output file, run directory, parts folder or temporary
file appears anywhere under the test's directory).

Commands run in-process through ``rnngmm.cli.main``; argparse's own errors
(unknown choice, a word where a number belongs) exit through SystemExit(2),
which is caught and treated the same way.
"""

import os

import pytest

from helpers import run_cli

pytestmark = pytest.mark.slow


def snapshot(root):
    """Every path under ``root`` with its size and mtime."""
    found = {}
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(directory, name)
            stat = os.lstat(path)
            found[path] = (stat.st_size, stat.st_mtime_ns)
    return found


def run_bad(args, capsys):
    """Run the CLI; returns (exit code, stderr). SystemExit counts as an exit."""
    capsys.readouterr()
    try:
        code = run_cli(*args)
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.err, captured.out


@pytest.fixture
def world(tmp_path, small_dataset, tiny_run_dir):
    """Valid inputs, so that each case breaks exactly one thing."""
    lc = tmp_path / "lc"
    lc.mkdir()
    (lc / "a.dat").write_text("".join(f"{53000 + k} {15 + (k % 3) * 0.1} 0.02\n"
                                      for k in range(40)))
    catalog = tmp_path / "catalog.csv"
    catalog.write_text("id,period\na,0.5\n")
    out = tmp_path / "out"
    out.mkdir()
    return {"tmp": tmp_path, "lc": lc, "catalog": catalog, "out": out,
            "data": small_dataset, "run": tiny_run_dir}


def prepare_args(w, **change):
    flags = {"--catalog": w["catalog"], "--lightcurves": w["lc"], "--format": "crts",
             "--output": w["out"] / "d.h5", "--period_col": "period"}
    flags.update(change)
    return ["prepare", *[x for k, v in flags.items() if v is not None for x in (k, v)]]


def train_args(w, *extra):
    return ["train", "--data", w["data"], "--config", "tiny", "--n_min", "20",
            "--log_dir", w["out"] / "logs", "--sim_type", "t", "--run_name", "r",
            "--threads", "1", "--nb_epoch", "1", "--gmm_on", *extra]


def flag_args(w, **change):
    flags = {"--run_dir": w["run"], "--catalog": w["catalog"], "--lightcurves": w["lc"],
             "--format": "crts", "--output": w["out"] / "flags.ecsv", "--progress_interval": "0"}
    flags.update(change)
    return ["flag", *[x for k, v in flags.items() if v is not None for x in (k, v)]]


def score_args(w, *extra):
    return ["score", "--run_dir", w["run"], "--output", "robust_scoring", *extra]


def loco_args(w, *extra):
    return ["loco", "run", "--data", w["data"], "--results_dir", w["out"] / "loco",
            "--log_dir", w["out"] / "loco_logs", "--held_out", "RCB", *extra]


CASES = {
    # simulate
    "simulate negative size": (lambda w: ["simulate", "--output", w["out"] / "sim",
                                          "--n_per_class", "-1"], ">= 0"),
    "simulate min>max points": (lambda w: ["simulate", "--output", w["out"] / "sim",
                                           "--min_points", "50", "--max_points", "10"],
                                "--min_points <= --max_points"),
    "simulate unknown class": (lambda w: ["simulate", "--output", w["out"] / "sim",
                                          "--classes", "NOPE"], "unknown class"),
    "simulate word for int": (lambda w: ["simulate", "--output", w["out"] / "sim",
                                         "--n_per_class", "many"], "invalid int value"),
    # prepare
    "prepare unknown format": (lambda w: prepare_args(w, **{"--format": "kepler"}),
                               "invalid choice: 'kepler'"),
    "prepare missing catalog": (lambda w: prepare_args(w, **{"--catalog": w["tmp"] / "no.csv"}),
                                "does not exist"),
    "prepare missing lightcurves": (lambda w: prepare_args(w, **{"--lightcurves":
                                                                 w["tmp"] / "nolc"}),
                                    "does not exist"),
    "prepare min_points 0": (lambda w: prepare_args(w, **{"--min_points": "0"}),
                             "--min_points must be >= 1"),
    "prepare periods reversed": (lambda w: prepare_args(w, **{"--min_period": "10",
                                                             "--max_period": "1"}),
                                 "--min_period < --max_period"),
    "prepare negative sigma_clip": (lambda w: prepare_args(w, **{"--sigma_clip": "-3"}),
                                    "--sigma_clip must be > 0"),
    "prepare output dir missing": (lambda w: prepare_args(w, **{"--output":
                                                               w["tmp"] / "nodir" / "d.h5"}),
                                   "does not exist"),
    "prepare missing id column": (lambda w: prepare_args(w, **{"--id_col": "oid"}),
                                  "no column(s) oid"),
    "prepare template without id": (lambda w: prepare_args(w, **{"--template": "x.dat"}),
                                    "must contain '{id}'"),
    # train
    "train n_max < n_min": (lambda w: train_args(w, "--n_max", "10"),
                            "--n_max (10) must be >= --n_min (20)"),
    "train negative batch": (lambda w: train_args(w, "--batch_size", "-5"),
                             "--batch_size must be >= 1"),
    "train missing data": (lambda w: ["train", "--data", w["tmp"] / "no.h5",
                                      "--log_dir", w["out"] / "logs"], "does not exist"),
    "train zero lr": (lambda w: train_args(w, "--lr", "0"), "--lr must be > 0"),
    "train unknown config": (lambda w: train_args(w, "--config", "huge"), "huge"),
    "train run_name path": (lambda w: train_args(w, "--run_name", "../escape"),
                            "plain directory name"),
    "train not a dataset": (lambda w: ["train", "--data", w["catalog"], "--config", "tiny",
                                       "--n_min", "20", "--log_dir", w["out"] / "logs"],
                            "not a readable HDF5 file"),
    # score
    "score missing run": (lambda w: ["score", "--run_dir", w["tmp"] / "norun"],
                          "is not a directory"),
    "score bad percentile": (lambda w: score_args(w, "--percentiles", "0"),
                             "strictly between 0 and 100"),
    "score zero batch": (lambda w: score_args(w, "--batch_size", "0"),
                         "--batch_size must be positive"),
    "score escaping out_name": (lambda w: ["score", "--run_dir", w["run"], "--output",
                                           "../../x"], "inside the run directory"),
    "score missing data": (lambda w: score_args(w, "--data", w["tmp"] / "no.h5"),
                           "does not exist"),
    # flag
    "flag unknown format": (lambda w: flag_args(w, **{"--format": "kepler"}),
                            "invalid choice: 'kepler'"),
    "flag missing catalog": (lambda w: flag_args(w, **{"--catalog": w["tmp"] / "no.csv"}),
                             "does not exist"),
    "flag missing run": (lambda w: flag_args(w, **{"--run_dir": w["tmp"] / "norun"}),
                         "does not exist"),
    "flag negative batch": (lambda w: flag_args(w, **{"--batch_objects": "-1"}),
                            "--batch_objects must be at least 1"),
    "flag zero shard": (lambda w: flag_args(w, **{"--shard_objects": "0"}),
                        "--shard_objects must be at least 1"),
    "flag bad suffix": (lambda w: flag_args(w, **{"--output": w["out"] / "flags.txt"}),
                        "unknown suffix"),
    "flag periods reversed": (lambda w: flag_args(w, **{"--min_period": "10",
                                                       "--max_period": "1"}),
                              "--min_period < --max_period"),
    "flag negative period": (lambda w: flag_args(w, **{"--min_period": "-1"}),
                             "--min_period < --max_period"),
    "flag filter with crts": (lambda w: flag_args(w, **{"--filter": "V"}),
                              "--filter only applies"),
    "flag data and catalog": (lambda w: flag_args(w, **{"--data": w["data"]}), "not both"),
    "flag unreadable catalog": (lambda w: flag_args(w, **{"--catalog": w["lc"] / "a.dat",
                                                         "--catalog_format": "fits"}),
                                "could not be read"),
    # loco
    "loco missing data": (lambda w: ["loco", "run", "--data", w["tmp"] / "no.h5",
                                     "--results_dir", w["out"] / "loco", "--held_out", "RCB"],
                          "does not exist"),
    "loco bad percentile": (lambda w: loco_args(w, "--percentiles", "150"),
                            "strictly between 0 and 100"),
    "loco zero batch": (lambda w: loco_args(w, "--batch_size", "0"), "--batch_size"),
    "loco unknown class": (lambda w: ["loco", "run", "--data", w["data"], "--results_dir",
                                      w["out"] / "loco", "--log_dir", w["out"] / "loco_logs",
                                      "--class_index", "99"], "outside"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_flag_gives_one_message_and_writes_nothing(world, capsys, name):
    make_args, fragment = CASES[name]
    args = make_args(world)
    before = snapshot(world["tmp"])
    code, err, out = run_bad(args, capsys)
    assert code not in (0, None), f"{name}: exit code {code}"
    assert fragment in err, f"{name}: {fragment!r} not in stderr:\n{err}"
    assert "Traceback" not in err and "Traceback" not in out
    error_lines = [line for line in err.splitlines() if "error:" in line]
    assert len(error_lines) == 1, f"{name}: expected one error line:\n{err}"
    after = snapshot(world["tmp"])
    assert after == before, f"{name}: files appeared or changed: {set(after) ^ set(before)}"
    # score writes under the run directory: it must not have appeared there either
    assert not (world["run"] / "robust_scoring").exists()
