"""SIGTERM from outside, and a signal on one rank of a 2-rank job."""

import shutil
import signal
import subprocess
import sys
import time

import pytest

from rnngmm.training.signals import EXIT_INTERRUPTED
from training_sim import (max_difference, quiet_env, read_weights, tiny_train_args,
                          write_sim_dataset)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sim_path(tmp_path_factory):
    return write_sim_dataset(tmp_path_factory.mktemp("sim") / "sim.h5")


def test_external_sigterm_writes_checkpoint_and_resume_completes(sim_path, tmp_path):
    args = [sys.executable, "-m", "rnngmm.cli",
            *tiny_train_args(sim_path, tmp_path, "run", epochs=200)]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=quiet_env())
    first = tmp_path / "crts" / "run" / "checkpoints" / "ckpt-0001.h5"
    deadline = time.monotonic() + 300
    while not first.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == EXIT_INTERRUPTED, stderr[-3000:]
    assert "stopped by SIGTERM" in stdout and "--resume" in stderr
    from rnngmm.training.checkpoint import latest_valid_checkpoint
    found = latest_valid_checkpoint(first.parent)
    assert found is not None and found.position >= (1, 0)
    finish = tiny_train_args(sim_path, tmp_path, "run", epochs=found.position[0] + 1,
                             extra=["--resume"])
    done = subprocess.run([sys.executable, "-m", "rnngmm.cli", *finish],
                          capture_output=True, text=True, env=quiet_env(), timeout=600)
    # a changed --nb_epoch is allowed on resume: the run is extended or cut short
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "crts" / "run" / "model.keras").is_file()


@pytest.mark.mpi
def test_signal_on_one_rank_stops_both_and_resume_matches(sim_path, tmp_path):
    mpirun = shutil.which("mpirun")
    if mpirun is None:
        pytest.skip("mpirun not found")
    pytest.importorskip("horovod.tensorflow")

    def launch(name, *extra, **env):
        command = [mpirun, "--allow-run-as-root", "--oversubscribe", "-np", "2"]
        for key in env:
            command += ["-x", key]
        command += [sys.executable, "-m", "rnngmm.cli",
                    *tiny_train_args(sim_path, tmp_path, name, epochs=2, extra=extra)]
        return subprocess.run(command, capture_output=True, text=True,
                              env=quiet_env(**env), timeout=300)

    full = launch("full", RNNGMM_DEBUG_DUMP_WEIGHTS=tmp_path / "full")
    assert full.returncode == 0, full.stderr[-3000:]
    # 56 chunks / 2 ranks / batch 8 = 3 steps per epoch; rank 0 alone gets the signal
    stopped = launch("run", RNNGMM_DEBUG_SIGNAL_AT="1:1:SIGUSR1")
    assert stopped.returncode == EXIT_INTERRUPTED, stopped.stderr[-3000:]
    resumed = launch("run", "--resume", RNNGMM_DEBUG_DUMP_WEIGHTS=tmp_path / "resumed")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    reference = read_weights(tmp_path / "full" / "weights-rank0.h5")
    for rank in (0, 1):
        weights = read_weights(tmp_path / "resumed" / f"weights-rank{rank}.h5")
        assert max_difference(weights, reference) < 1e-5
