"""2-process training with real horovod (mpirun and horovodrun --gloo).

Each rank dumps its final weights (``RNNGMM_DEBUG_DUMP_WEIGHTS``): with
gradient averaging they must be identical; with averaging switched off
(``RNNGMM_DEBUG_NO_AVERAGING``) the same job must end with different weights,
which shows the first comparison can fail.
"""

import shutil
import subprocess
import sys

import pytest

from training_sim import (max_difference, quiet_env, read_weights, tiny_train_args,
                          write_sim_dataset)

pytestmark = [pytest.mark.mpi, pytest.mark.slow]


@pytest.fixture(scope="module")
def sim_path(tmp_path_factory):
    return write_sim_dataset(tmp_path_factory.mktemp("sim") / "sim.h5")


def _launch(launcher, args, env, timeout=300):
    path = shutil.which(launcher) or shutil.which(launcher, path=str(
        __import__("pathlib").Path(sys.executable).parent))
    if path is None:
        pytest.skip(f"{launcher} not found")
    pytest.importorskip("horovod.tensorflow")
    if launcher == "mpirun":
        command = [path, "--allow-run-as-root", "--oversubscribe", "-np", "2",
                   "-x", "RNNGMM_DEBUG_DUMP_WEIGHTS", "-x", "TF_CPP_MIN_LOG_LEVEL"]
        if "RNNGMM_DEBUG_NO_AVERAGING" in env:
            command += ["-x", "RNNGMM_DEBUG_NO_AVERAGING"]
    else:
        command = [path, "--gloo", "-np", "2", "-H", "localhost:2"]
    command += [sys.executable, "-m", "rnngmm.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)


def _train(launcher, sim_path, tmp_path, name, sequential=False, **env):
    dumps = tmp_path / f"dumps-{name}"
    done = _launch(launcher, tiny_train_args(sim_path, tmp_path, name, epochs=1,
                                             sequential=sequential),
                   quiet_env(RNNGMM_DEBUG_DUMP_WEIGHTS=dumps, **env))
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-3000:])
    return done, [read_weights(dumps / f"weights-rank{r}.h5") for r in (0, 1)]


def test_mpirun_ranks_end_identical_and_differ_without_averaging(sim_path, tmp_path):
    done, (rank0, rank1) = _train("mpirun", sim_path, tmp_path, "avg")
    assert "on 2 ranks (horovod)" in done.stdout
    assert max_difference(rank0, rank1) == 0.0
    # only rank 0 prints and writes
    assert done.stdout.count("run directory:") == 1
    # A job log a cluster user can read: one line per epoch from rank 0, no
    # progress-bar escape codes, no TensorFlow/XLA C++ start-up lines.
    assert "\x1b[" not in done.stdout and "\r" not in done.stdout
    assert done.stdout.count("epoch 1/") == 1
    assert "absl::InitializeLog" not in done.stderr and "XLA service" not in done.stderr
    assert (tmp_path / "crts" / "avg" / "model.keras").is_file()
    _, (solo0, solo1) = _train("mpirun", sim_path, tmp_path, "noavg",
                               RNNGMM_DEBUG_NO_AVERAGING=1)
    assert max_difference(solo0, solo1) > 1e-4
    # rank 0's un-averaged weights are not what averaged training gives
    assert max_difference(solo0, rank0) > 1e-4


def test_horovodrun_gloo_ranks_end_identical(sim_path, tmp_path):
    # sequential, so the cached estimation stage is checked on 2 ranks too
    done, (rank0, rank1) = _train("horovodrun", sim_path, tmp_path, "gloo", sequential=True)
    assert "on 2 ranks (horovod)" in done.stdout
    assert "frozen-autoencoder outputs of" in done.stdout
    assert max_difference(rank0, rank1) == 0.0
