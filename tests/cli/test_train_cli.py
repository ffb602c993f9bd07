"""``rnngmm train`` end to end in one process: flags, run directory, outputs."""

import json
import subprocess
import sys

import numpy as np
import pytest

from rnngmm.cli import main
from training_sim import quiet_env, tiny_train_args, write_sim_dataset


@pytest.fixture(scope="module")
def sim_path(tmp_path_factory):
    return write_sim_dataset(tmp_path_factory.mktemp("sim") / "sim.h5", short=2)


@pytest.fixture(scope="module")
def trained(sim_path, tmp_path_factory):
    log_dir = tmp_path_factory.mktemp("logs")
    done = subprocess.run([sys.executable, "-m", "rnngmm.cli",
                           *tiny_train_args(sim_path, log_dir, "demo",
                                            extra=["--class_weight", "balanced"])],
                          capture_output=True, text=True, env=quiet_env(), timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return log_dir / "crts" / "demo", done.stdout


@pytest.mark.parametrize("flags, message", [
    (["--n_min", "50", "--n_max", "20"], "--n_max (20) must be >= --n_min (50)"),
    (["--batch_size", "0"], "--batch_size must be >= 1"),
    (["--validation_fraction", "1.5"], "--validation_fraction"),
    (["--size", "0"], "size must be >= 1"),
    (["--config", "huge"], "unknown model configuration"),
])
def test_bad_flags_fail_before_any_work(sim_path, tmp_path, capsys, flags, message):
    args = tiny_train_args(sim_path, tmp_path, "bad") + flags
    assert main(args) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "crts").exists()


def test_missing_dataset_and_wrong_num_classes(sim_path, tmp_path, capsys):
    assert main(tiny_train_args(tmp_path / "nope.h5", tmp_path, "x")) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(tiny_train_args(sim_path, tmp_path, "x", extra=["--num_classes", "5"])) == 2
    assert "--num_classes 5" in capsys.readouterr().err


@pytest.mark.slow
def test_run_directory_contents(trained):
    run_dir, stdout = trained
    assert f"run directory: {run_dir.relative_to(run_dir.parent.parent.parent)}" in stdout \
        or str(run_dir) in stdout
    assert "too few points" in stdout
    for name in ("config.json", "split.json", "model.keras", "gmm.h5", "training.csv",
                 "rejects.ecsv"):
        assert (run_dir / name).is_file(), name
    assert any((run_dir / "tensorboard").iterdir())
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == [
        "ckpt-0001.h5", "ckpt-0002.h5"]
    config = json.loads((run_dir / "config.json").read_text())
    assert config["class_names"] == ["EW", "LPV", "RRab"]
    assert config["model"]["num_classes"] == 3 and config["train"]["nb_epoch"] == 2
    weights = config["model"]["class_weights"]  # --class_weight balanced
    assert len(weights) == 3 and all(w > 0 for w in weights) and len(set(weights)) > 1
    assert config["chunking"] == {"n_min": 20, "n_max": 32, "period_fold": False,
                                  "fold_multiple": 1}
    # how flag must prepare new objects: the dataset's own settings
    assert config["preprocessing"]["min_points"] >= 1
    assert config["preprocessing"]["period_source"] in ("auto", "catalog", "lomb-scargle")
    assert "tensorflow" in " ".join(config["versions"]) and config["world_size"] == 1
    split = json.loads((run_dir / "split.json").read_text())
    assert not set(split["train"]) & set(split["validation"])
    assert split["rejected"] == ["short-000", "short-001"]
    rows = (run_dir / "training.csv").read_text().splitlines()
    assert len(rows) == 3 and "val_loss" in rows[0]


@pytest.mark.slow
def test_load_run_and_predict(trained, sim_path):
    from rnngmm.lightcurves.objects import chunk_objects, dataset_records
    from rnngmm.inference import predict_chunks
    from rnngmm.io.dataset import Dataset
    from rnngmm.rundir import load_run
    run = load_run(trained[0])
    assert run.class_names == ["EW", "LPV", "RRab"] and run.run_id == "demo"
    with Dataset(sim_path) as dataset:
        chunks = chunk_objects(dataset_records(dataset, range(7)), run.chunking).chunks
    out = predict_chunks(run.model, chunks, batch_size=4)
    assert out["gamma"].shape == (14, 3) and out["z"].shape == (14, run.model.z_size)
    np.testing.assert_allclose(out["gamma"].sum(axis=1), 1, rtol=1e-5)
    direct = run.model({"x": chunks.x, "weights": chunks.weights,
                        "supports": chunks.supports}, training=False)
    np.testing.assert_allclose(out["z"], np.asarray(direct["z"]), rtol=1e-4, atol=1e-5)
    # training energies are per object (28 training objects), thresholds increasing
    assert len(run.novelty.train_energy_) == len(run.split["train"])
    assert np.all(np.isfinite(run.novelty.energy(out["z"])))


@pytest.mark.slow
def test_existing_run_needs_resume_and_missing_files_are_named(trained, sim_path, capsys,
                                                               tmp_path):
    from rnngmm.errors import InputError
    from rnngmm.rundir import load_run
    run_dir = trained[0]
    log_dir = run_dir.parent.parent
    assert main(tiny_train_args(sim_path, log_dir, "demo")) == 2
    assert "--resume" in capsys.readouterr().err
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "config.json").write_text("{}")
    with pytest.raises(InputError, match="split.json is missing"):
        load_run(tmp_path / "r")


@pytest.mark.slow
def test_sequential_training_runs_both_stages(sim_path, tmp_path):
    args = tiny_train_args(sim_path, tmp_path, "seq", epochs=1)
    args.remove("--gmm_on")
    assert main(args + ["--cls_epoch", "1"]) == 0
    rows = (tmp_path / "crts" / "seq" / "training.csv").read_text().splitlines()
    assert [r.split(",")[1] for r in rows[1:]] == ["autoencoder", "estimation"]
