"""Stop-and-resume equals uninterrupted training (single process).

The stop is a real signal delivered to the training process (sent by itself
at an exact step via ``RNNGMM_DEBUG_SIGNAL_AT``, so the test is deterministic).
"""

import subprocess
import sys

import pytest

from rnngmm.training.signals import EXIT_INTERRUPTED
from training_sim import (max_difference, quiet_env, read_weights, tiny_train_args,
                          write_sim_dataset)

pytestmark = pytest.mark.slow

EPOCHS = 3  # 28 training objects x 2 chunks / batch 8 = 7 steps per epoch


@pytest.fixture(scope="module")
def sim_path(tmp_path_factory):
    return write_sim_dataset(tmp_path_factory.mktemp("sim") / "sim.h5")


def _train(sim_path, log_dir, name, *extra, **env):
    args = tiny_train_args(sim_path, log_dir, name, epochs=EPOCHS, extra=extra)
    return subprocess.run([sys.executable, "-m", "rnngmm.cli", *args], capture_output=True,
                          text=True, env=quiet_env(**env), timeout=600)


@pytest.fixture(scope="module")
def uninterrupted(sim_path, tmp_path_factory):
    log_dir = tmp_path_factory.mktemp("full")
    done = _train(sim_path, log_dir, "full", RNNGMM_DEBUG_DUMP_WEIGHTS=log_dir / "dump")
    assert done.returncode == 0, done.stderr[-3000:]
    return read_weights(log_dir / "dump" / "weights-rank0.h5")


def test_sigterm_mid_epoch_then_resume_equals_uninterrupted(sim_path, tmp_path, uninterrupted):
    stopped = _train(sim_path, tmp_path, "run", RNNGMM_DEBUG_SIGNAL_AT="1:3:SIGTERM")
    assert stopped.returncode == EXIT_INTERRUPTED, stopped.stderr[-3000:]
    assert "stopped by SIGTERM at epoch 2 step 3" in stopped.stdout
    checkpoints = tmp_path / "crts" / "run" / "checkpoints"
    assert (checkpoints / "ckpt-0001-000003.h5").is_file()
    assert not (tmp_path / "crts" / "run" / "model.keras").exists()
    resumed = _train(sim_path, tmp_path, "run", "--resume",
                     RNNGMM_DEBUG_DUMP_WEIGHTS=tmp_path / "dump")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming from" in resumed.stdout and "ckpt-0001-000003.h5" in resumed.stdout
    weights = read_weights(tmp_path / "dump" / "weights-rank0.h5")
    assert max_difference(weights, uninterrupted) < 1e-5
    rows = (tmp_path / "crts" / "run" / "training.csv").read_text().splitlines()
    assert len(rows) == EPOCHS + 1


def test_sigusr1_at_epoch_end_truncated_checkpoint_falls_back(sim_path, tmp_path,
                                                               uninterrupted):
    stopped = _train(sim_path, tmp_path, "run", RNNGMM_DEBUG_SIGNAL_AT="1:7:SIGUSR1")
    assert stopped.returncode == EXIT_INTERRUPTED, stopped.stderr[-3000:]
    assert "stopped by SIGUSR1 after epoch 2" in stopped.stdout
    checkpoints = tmp_path / "crts" / "run" / "checkpoints"
    newest = checkpoints / "ckpt-0002.h5"
    assert newest.is_file() and (checkpoints / "ckpt-0001.h5").is_file()
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 3])  # as after kill -9
    resumed = _train(sim_path, tmp_path, "run", "--resume",
                     RNNGMM_DEBUG_DUMP_WEIGHTS=tmp_path / "dump")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "skipping checkpoint" in resumed.stderr and "ckpt-0002.h5" in resumed.stderr
    assert "ckpt-0001.h5 (epoch 1, step 0)" in resumed.stdout
    weights = read_weights(tmp_path / "dump" / "weights-rank0.h5")
    assert max_difference(weights, uninterrupted) < 1e-5


def test_resume_without_a_run_starts_a_new_one(sim_path, tmp_path):
    # A SLURM job requeued before its first start wrote anything resumes nothing.
    done = _train(sim_path, tmp_path, "never", "--resume")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "nothing to resume" in done.stderr
    assert (tmp_path / "crts" / "never" / "model.keras").is_file()
