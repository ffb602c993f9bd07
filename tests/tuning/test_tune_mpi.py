"""``rnngmm tune`` under mpirun with 2 ranks: rank 0 talks to Optuna, every
trial trains on both ranks (horovod) and the ranks end with identical weights."""

import json

import pytest

from helpers import mpirun
from training_sim import max_difference, read_weights, write_sim_dataset

pytestmark = [pytest.mark.mpi, pytest.mark.slow]


def test_each_trial_trains_on_both_ranks(tmp_path, monkeypatch):
    pytest.importorskip("horovod.tensorflow")
    optuna = pytest.importorskip("optuna")
    data = write_sim_dataset(tmp_path / "d.h5")
    space = tmp_path / "space.json"
    space.write_text(json.dumps({
        "fixed": {"data": str(data), "config": "tiny", "n_min": 20, "n_max": 32,
                  "batch_size": 8, "gmm_on": True, "nb_epoch": 2, "patience": 0,
                  "threads": 1, "time_budget": 2},
        "search": {"lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True}}}))
    dumps = tmp_path / "dumps"
    monkeypatch.setenv("RNNGMM_DEBUG_DUMP_WEIGHTS", str(dumps))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    done = mpirun(2, "-m", "rnngmm.cli", "tune", "--space", space,
                  "--study", tmp_path / "s.journal", "--trials", 2, "--pruner", "none",
                  "--seed", 0, "--log_dir", tmp_path / "logs", timeout=600)
    assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-3000:])
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend
    study = optuna.load_study(study_name="s", storage=JournalStorage(
        JournalFileBackend(str(tmp_path / "s.journal"))))
    trials = study.get_trials()
    assert [t.state.name for t in trials] == ["COMPLETE", "COMPLETE"]
    for trial in trials:
        config = json.loads((tmp_path / "logs" / "tune" / f"s-trial{trial.number:04d}"
                             / "config.json").read_text())
        assert config["world_size"] == 2
        assert config["train"]["lr"] == trial.params["lr"]
    # one Optuna client: trials are announced once, by rank 0
    assert done.stdout.count("trial 1 finished") == 1
    ranks = [read_weights(dumps / f"weights-rank{r}.h5") for r in (0, 1)]
    assert max_difference(*ranks) == 0.0
