"""``rnngmm adapt``: the autoencoder continues on a new catalog's own light
curves, the head and mixture are refit on the labelled data with the parent's
split, and the new run records its parent and catalog (issue 14.2)."""

import hashlib
import json
import os

import numpy as np
import pytest

from helpers import mpirun, run_cli, run_cli_subprocess
from rnngmm.io.dataset import Dataset, update_digest, write_dataset
from rnngmm.lightcurves.objects import Chunking, Preprocessing, chunk_objects, dataset_records
from rnngmm.training.adapt import preprocessing_conflicts
from rnngmm.training.checkpoint import checkpoint_name, read_checkpoint
from rnngmm.training.signals import EXIT_INTERRUPTED
from training_sim import (max_difference, quiet_env, read_weights, tiny_train_args,
                          write_sim_dataset)

BATCH = 8
CHUNKING = Chunking(20, 32)  # tiny_train_args: --n_min 20 --n_max 32


def write_catalog(path, *, n=40, n_points=30, short=3, seed=5, inputs=None):
    """An unlabelled catalog of another cadence: ``n_points`` epochs over
    three years, fainter and noisier than the training light curves, plus
    ``short`` objects of 5 points (no chunk)."""
    rng = np.random.default_rng(seed)
    curves, periods = [], []
    for i in range(n + short):
        points = 5 if i >= n else n_points
        period = rng.choice([rng.uniform(0.4, 0.7), rng.uniform(0.25, 0.4),
                             rng.uniform(80.0, 200.0)])
        time = np.sort(rng.uniform(57000.0, 57000.0 + 1100.0, points))
        err = rng.uniform(0.05, 0.15, points)
        mag = (17.5 + rng.uniform(0.2, 1.5) * np.sin(2 * np.pi * time / period)
               + rng.normal(0, err))
        curves.append((time, mag, err))
        periods.append(period)
    total = n + short
    objects = {"id": [f"new-{i:03d}" for i in range(total)], "label": [""] * total,
               "period": np.array(periods), "period_source": ["catalog"] * total,
               "period_power": np.full(total, np.nan)}
    write_dataset(path, objects, curves, inputs=inputs or {"simulated": True})
    return path


@pytest.fixture(scope="module")
def sim_path(tmp_path_factory):
    return write_sim_dataset(tmp_path_factory.mktemp("adapt_sim") / "sim.h5")


@pytest.fixture(scope="module")
def catalog_path(tmp_path_factory):
    return write_catalog(tmp_path_factory.mktemp("adapt_catalog") / "newsurvey.h5")


@pytest.fixture(scope="module")
def parent_run(sim_path, tmp_path_factory):
    """A finished sequential tiny run on ``sim_path``."""
    log_dir = tmp_path_factory.mktemp("adapt_logs")
    assert run_cli(*tiny_train_args(sim_path, log_dir, "parent", epochs=1,
                                    sequential=True)) == 0
    return log_dir / "crts" / "parent"


def _read(run_dir, name):
    with open(run_dir / name) as handle:
        return json.load(handle)


def _iterations(run_dir, epochs):
    """The optimizer's step count in the checkpoint after ``epochs`` epochs."""
    path = run_dir / "checkpoints" / checkpoint_name(epochs)
    values = dict(read_checkpoint(path).optimizer_values)
    (key,) = [k for k in values if k.endswith("iteration")]
    return int(values[key])


def _chunk_count(path, ids):
    with Dataset(path) as dataset:
        indices = np.flatnonzero(np.isin(dataset.ids, list(ids)))
        return len(chunk_objects(dataset_records(dataset, indices), CHUNKING).object_index)


def _adapt(parent_run, sim_path, catalog_path, *extra):
    return run_cli("adapt", "--init_from", parent_run, "--data", sim_path,
                   "--catalog", catalog_path, "--threads", "1", *extra)


# ---------------------------------------------------------------- pure parts
def test_preprocessing_conflicts_name_cleaning_always_and_periods_when_folding():
    run = Preprocessing(sigma_clip=5.0)
    assert preprocessing_conflicts(run, Preprocessing(sigma_clip=5.0), True) == []
    assert preprocessing_conflicts(run, Preprocessing(), False) == [
        "sigma_clip: run 5.0, catalog None"]
    other_range = Preprocessing(sigma_clip=5.0, max_period=50.0)
    assert preprocessing_conflicts(run, other_range, False) == []
    (conflict,) = preprocessing_conflicts(run, other_range, True)
    assert conflict.startswith("max_period: run ") and conflict.endswith("catalog 50.0")


# ---------------------------------------------------------------- end to end
@pytest.mark.slow
def test_adapt_records_its_parent_keeps_the_split_and_flag_loads_it(
        parent_run, sim_path, catalog_path, tmp_path):
    assert _adapt(parent_run, sim_path, catalog_path, "--nb_epoch", "1",
                  "--cls_epoch", "1") == 0
    run_dir = parent_run.parent / "parent_adapt-newsurvey"  # beside its parent
    config = _read(run_dir, "config.json")
    assert config["parent"] == os.path.abspath(parent_run)
    assert config["init_from"] == os.path.abspath(parent_run)
    entry = config["adapted_catalog"]
    assert entry["path"] == os.path.abspath(catalog_path)
    with Dataset(catalog_path) as catalog:
        assert entry["sha256"] == update_digest(hashlib.sha256(), catalog).hexdigest()
        assert entry["attrs"]["created"] == str(catalog.attrs["created"])
    assert entry["mix"] == "both" and entry["objects"] == 43
    assert entry["rejected"] == 3 and entry["train_objects"] + entry["validation_objects"] == 43
    assert config["train"]["gmm_on"] is False

    # the labelled objects are split exactly as in the parent run
    parent_split, split = _read(parent_run, "split.json"), _read(run_dir, "split.json")
    for part in ("train", "validation"):
        assert split[part] == parent_split[part]

    # the autoencoder stage ran on the catalog's chunks and the training ones:
    # its one epoch took (training + catalog chunks) // batch optimizer steps
    training_chunks = _chunk_count(sim_path, parent_split["train"])
    chunks = entry["autoencoder_chunks"]
    assert chunks["catalog_train"] > 0
    assert chunks["train"] == training_chunks + chunks["catalog_train"]
    assert _iterations(run_dir, 1) == chunks["train"] // BATCH
    # ... and the estimation stage on the labelled training chunks alone
    assert (_iterations(run_dir, 2)
            == chunks["train"] // BATCH + training_chunks // BATCH)

    from rnngmm.rundir import load_run
    parent, adapted = load_run(parent_run), load_run(run_dir)
    assert adapted.class_names == parent.class_names
    assert max_difference([w.numpy() for w in parent.model.encoder.weights],
                          [w.numpy() for w in adapted.model.encoder.weights]) > 1e-6
    out = tmp_path / "flags.ecsv"
    assert run_cli("flag", "--run_dir", run_dir, "--data", catalog_path,
                   "--output", out) == 0
    from astropy.table import Table
    table = Table.read(out)
    assert len(table) == 43 and np.sum(table["status"] == "ok") == 40
    # score reads the run's labelled dataset and split, as for any run
    assert run_cli("score", "--run_dir", run_dir, "--no_baselines") == 0
    assert any((run_dir / "scoring").iterdir())


@pytest.mark.slow
def test_mix_catalog_trains_the_autoencoder_on_the_catalog_alone(
        parent_run, sim_path, catalog_path):
    assert _adapt(parent_run, sim_path, catalog_path, "--nb_epoch", "1", "--cls_epoch",
                  "0", "--mix", "catalog", "--run_name", "catalog_only") == 0
    run_dir = parent_run.parent / "catalog_only"
    chunks = _read(run_dir, "config.json")["adapted_catalog"]["autoencoder_chunks"]
    assert chunks["train"] == chunks["catalog_train"]
    assert _iterations(run_dir, 1) == chunks["train"] // BATCH


@pytest.mark.slow
def test_a_stopped_adapt_resumes_to_the_uninterrupted_weights(
        parent_run, sim_path, catalog_path, tmp_path):
    """SIGTERM in the middle of the autoencoder epoch (on the mixed chunks),
    then --resume: the catalog is chunked and dealt again the same way."""
    def adapt(name, *extra, **env):
        return run_cli_subprocess(
            "adapt", "--init_from", parent_run, "--data", sim_path, "--catalog",
            catalog_path, "--threads", "1", "--nb_epoch", "2", "--cls_epoch", "1",
            "--log_dir", tmp_path, "--run_name", name, *extra,
            env=quiet_env(RNNGMM_DEBUG_DUMP_WEIGHTS=tmp_path / name, **env))
    full = adapt("full")
    assert full.returncode == 0, full.stderr[-3000:]
    stopped = adapt("run", RNNGMM_DEBUG_SIGNAL_AT="1:4:SIGTERM")
    assert stopped.returncode == EXIT_INTERRUPTED, stopped.stderr[-3000:]
    assert "stopped by SIGTERM at epoch 2 step 4" in stopped.stdout
    resumed = adapt("run", "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming from" in resumed.stdout
    assert max_difference(read_weights(tmp_path / "full" / "weights-rank0.h5"),
                          read_weights(tmp_path / "run" / "weights-rank0.h5")) < 1e-5
    config = _read(tmp_path / "crts" / "run", "config.json")
    assert config["parent"] == os.path.abspath(parent_run)


# ---------------------------------------------------------------- bad inputs
def _error(capsys, code):
    assert code == 2
    return capsys.readouterr().err


@pytest.mark.slow
def test_a_missing_or_unfinished_run_is_refused(parent_run, sim_path, catalog_path,
                                                tmp_path, capsys):
    err = _error(capsys, _adapt(tmp_path / "nowhere", sim_path, catalog_path))
    assert "--init_from" in err and "nowhere" in err and "does not exist" in err
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    (unfinished / "config.json").write_text((parent_run / "config.json").read_text())
    err = _error(capsys, _adapt(unfinished, sim_path, catalog_path))
    assert "is not a finished run" in err and "split.json is missing" in err
    err = _error(capsys, _adapt(parent_run, sim_path, tmp_path / "none.h5"))
    assert "--catalog" in err and "none.h5" in err


@pytest.mark.slow
def test_a_catalog_prepared_otherwise_or_too_sparse_is_refused(
        parent_run, sim_path, tmp_path, capsys):
    clipped = write_catalog(tmp_path / "clipped.h5", inputs={"sigma_clip": 4.0})
    err = _error(capsys, _adapt(parent_run, sim_path, clipped))
    assert "clipped.h5 was prepared with other settings" in err
    assert "sigma_clip: run None, catalog 4.0" in err
    sparse = write_catalog(tmp_path / "sparse.h5", n_points=12)
    err = _error(capsys, _adapt(parent_run, sim_path, sparse))
    assert "sparse.h5: none of its 43 objects gave a chunk" in err and "n_min 20" in err
    assert not (parent_run.parent / "parent_adapt-sparse").exists()


@pytest.mark.slow
def test_training_data_that_does_not_give_the_parents_split_is_refused(
        parent_run, catalog_path, tmp_path, capsys):
    other = write_sim_dataset(tmp_path / "other.h5", n_per_class=10)
    err = _error(capsys, _adapt(parent_run, other, catalog_path))
    assert "does not give the object split of --init_from" in err
    assert "sim.h5" in err  # names the dataset the parent was trained on


# ---------------------------------------------------------------- 2 ranks
@pytest.mark.slow
@pytest.mark.mpi
def test_two_rank_adapt_ends_with_equal_weights(parent_run, sim_path, catalog_path,
                                                tmp_path, monkeypatch):
    pytest.importorskip("horovod.tensorflow")
    dumps = tmp_path / "dumps"
    for key, value in quiet_env(RNNGMM_DEBUG_DUMP_WEIGHTS=dumps).items():
        monkeypatch.setenv(key, value)
    done = mpirun(2, "-m", "rnngmm.cli", "adapt", "--init_from", parent_run, "--data",
                  sim_path, "--catalog", catalog_path, "--threads", "1", "--nb_epoch", "1",
                  "--cls_epoch", "1", "--log_dir", tmp_path, "--run_name", "two")
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-3000:])
    assert "on 2 ranks (horovod)" in done.stdout
    rank0, rank1 = (read_weights(dumps / f"weights-rank{r}.h5") for r in (0, 1))
    assert max_difference(rank0, rank1) == 0.0
    from rnngmm.rundir import load_run
    parent = load_run(parent_run).model
    assert max_difference([w.numpy() for w in parent.trainable_variables], rank0) > 1e-6
    config = _read(tmp_path / "crts" / "two", "config.json")
    assert config["world_size"] == 2 and config["parent"] == os.path.abspath(parent_run)
