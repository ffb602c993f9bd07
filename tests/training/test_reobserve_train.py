"""``rnngmm train --reobserve_from``: synthetic chunks in the estimation stage only."""

import csv
import json
import logging
import re

import numpy as np
import pytest

from helpers import run_cli
from rnngmm.novelty.mixture import GMMNovelty
from rnngmm.training.config import TrainConfig
from rnngmm.training.driver import run_training
from training_sim import tiny_train_args, write_sim_dataset


class _Lines(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@pytest.fixture
def training_log():
    """Info lines of rnngmm.training, whatever the CLI did to the package logger."""
    logger = logging.getLogger("rnngmm.training")
    handler, level = _Lines(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler.lines
    logger.removeHandler(handler)
    logger.setLevel(level)


def _history(run_dir):
    with open(run_dir / "training.csv") as handle:
        return list(csv.DictReader(handle))


def _cached_chunks(lines):
    return [int(re.search(r"outputs of (\d+) chunks", line).group(1)) for line in lines
            if "frozen-autoencoder outputs" in line]


@pytest.mark.slow
def test_synthetic_copies_join_training_chunks_but_never_validation(tmp_path, training_log):
    data = write_sim_dataset(tmp_path / "train.h5")
    catalog = write_sim_dataset(tmp_path / "new_survey.h5", n_per_class=4, n_points=25, seed=5)
    seen = {}
    for name, extra in (("plain", {}), ("reobserved", {"reobserve_from": str(catalog),
                                                       "reobserve_fraction": 1.5})):
        config = TrainConfig(data=str(data), config="tiny", n_min=20, n_max=32, batch_size=8,
                             nb_epoch=1, cls_epoch=2, threads=1, seed=3, patience=0,
                             log_dir=str(tmp_path), run_name=name, **extra).validate()
        rows = seen[name] = []

        def on_epoch(row, model, validation, rows=rows):
            rows.append((row["stage"], len(validation), np.asarray(validation.object_index)))
            return False

        assert run_training(config, on_epoch=on_epoch) == 0
    plain, reobserved = tmp_path / "crts" / "plain", tmp_path / "crts" / "reobserved"
    split = json.loads((plain / "split.json").read_text())
    assert json.loads((reobserved / "split.json").read_text()) == split
    # the autoencoder stage is untouched, and validation holds the same real chunks
    assert _history(plain)[0] == _history(reobserved)[0]
    n_val = seen["plain"][0][1]
    for stage, length, objects in seen["reobserved"]:
        assert length == n_val and np.all(objects >= 0), stage
    estimation = [o for s, _, o in seen["reobserved"] if s == "estimation"]
    np.testing.assert_array_equal(estimation[0], [o for s, _, o in seen["plain"]
                                                  if s == "estimation"][0])
    # the synthetic chunks are there, in the training chunks only
    copies = [line for line in training_log if "synthetic copies" in line]
    assert len(copies) == 1
    n_copies, n_objects, n_synthetic = map(int, re.search(
        r"(\d+) synthetic copies of (\d+) training objects .*\((\d+) chunks", copies[0]).groups())
    assert n_objects == len(split["train"]) and n_objects < n_copies < 2 * n_objects
    plain_cached, reobserved_cached = _cached_chunks(training_log)
    assert reobserved_cached - plain_cached == n_synthetic >= n_copies
    # the mixture and its thresholds: real training objects only
    for run in (plain, reobserved):
        assert len(GMMNovelty.load(run / "gmm.h5").train_energy_) == len(split["train"])
    assert json.loads((reobserved / "config.json").read_text())["train"][
        "reobserve_from"] == str(catalog)


@pytest.mark.slow
def test_patterns_as_short_as_score_n_min_are_used(tmp_path, training_log):
    """A sparse catalog (25 points) lends its cadence to a run that chunks at
    n_min 30 but scores from 20 points (--score_n_min): the patterns count."""
    data = write_sim_dataset(tmp_path / "train.h5", n_per_class=4, n_points=64)
    catalog = write_sim_dataset(tmp_path / "sparse.h5", n_per_class=4, n_points=25, seed=5)
    config = TrainConfig(data=str(data), config="tiny", n_min=30, n_max=32, score_n_min=20,
                         batch_size=8, nb_epoch=1, cls_epoch=1, threads=1, seed=3, patience=0,
                         reobserve_from=str(catalog), reobserve_fraction=1.0,
                         log_dir=str(tmp_path), run_name="sparse").validate()
    assert run_training(config) == 0
    copies = [line for line in training_log if "synthetic copies" in line]
    assert len(copies) == 1 and int(re.search(r"\((\d+) chunks", copies[0]).group(1)) > 0


def test_reobserve_bad_inputs_stop_before_training(tmp_path, capsys):
    data = write_sim_dataset(tmp_path / "train.h5", n_per_class=4)
    short = write_sim_dataset(tmp_path / "short.h5", n_per_class=2, n_points=10)
    cases = [
        (("--reobserve_from", tmp_path / "missing.h5"), "does not exist", True),
        (("--reobserve_from", short), "has at least 20 points", True),
        (("--reobserve_from", short, "--score_n_min", "12"), "has at least 12 points", True),
        (("--reobserve_from", short), "drop --gmm_on", False),
        (("--reobserve_from", short, "--reobserve_fraction", "0"),
         "--reobserve_fraction must be > 0", True),
    ]
    for n, (flags, message, sequential) in enumerate(cases):
        args = tiny_train_args(data, tmp_path, f"bad{n}", epochs=1, sequential=sequential,
                               extra=flags)
        assert run_cli(*args) == 2, message
        err = capsys.readouterr().err
        assert message in err, err
        assert not (tmp_path / "crts" / f"bad{n}" / "training.csv").exists()


@pytest.mark.slow
@pytest.mark.mpi
def test_two_ranks_reobserve_every_training_object_once_and_agree(tmp_path):
    """Under mpirun each rank re-observes its own training objects: together
    exactly the one-rank set of copies, and the ranks end with equal weights."""
    import shutil
    import subprocess
    import sys

    from rnngmm.io.dataset import Dataset
    from rnngmm.training.reobserve import copies_per_object
    from training_sim import max_difference, quiet_env, read_weights
    launcher = shutil.which("mpirun")
    if launcher is None:
        pytest.skip("mpirun not found")
    pytest.importorskip("horovod.tensorflow")
    data = write_sim_dataset(tmp_path / "train.h5")
    catalog = write_sim_dataset(tmp_path / "new_survey.h5", n_per_class=4, n_points=25, seed=5)
    dumps = tmp_path / "dumps"
    args = tiny_train_args(data, tmp_path, "two", epochs=1, sequential=True,
                           extra=("--reobserve_from", catalog, "--reobserve_fraction", "1.5",
                                  "--patience", "0"))
    done = subprocess.run([launcher, "--allow-run-as-root", "--oversubscribe", "-np", "2",
                           "-x", "RNNGMM_DEBUG_DUMP_WEIGHTS", "-x", "TF_CPP_MIN_LOG_LEVEL",
                           sys.executable, "-m", "rnngmm.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=600,
                          env=quiet_env(RNNGMM_DEBUG_DUMP_WEIGHTS=dumps))
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-3000:])
    assert "on 2 ranks (horovod)" in done.stdout
    n_copies, n_objects = map(int, re.search(r"(\d+) synthetic copies of (\d+) training",
                                             done.stdout).groups())
    split = json.loads((tmp_path / "crts" / "two" / "split.json").read_text())
    with Dataset(data) as dataset:
        train = np.flatnonzero(np.isin(dataset.ids, split["train"]))
    assert n_objects == len(train)
    assert n_copies == int(copies_per_object(train, 1.5, 0).sum())
    rank0, rank1 = (read_weights(dumps / f"weights-rank{r}.h5") for r in (0, 1))
    assert max_difference(rank0, rank1) == 0.0
