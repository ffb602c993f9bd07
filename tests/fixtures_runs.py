"""Reusable trained-run fixtures for tests of score, flag, loco and SLURM scripts.

Import the fixtures into a test module (pytest then finds them there)::

    from fixtures_runs import tiny_run_dir, TINY_TRAIN_FLAGS  # noqa: F401

``tiny_run_dir`` (session scope) trains ONE tiny model with the real
``rnngmm train`` command, in-process, on the ``small_dataset`` fixture of
``tests/conftest.py`` (8 simulated classes x 6 objects + 4 RCB): config
``tiny`` (GRU 8 units, embedding 4, chunks of 32 points), one joint epoch,
RCB held out as the novel class. It returns the run directory (a
``pathlib.Path``) with ``config.json``, ``split.json``, ``model.keras``,
``gmm.h5``. Treat it as read-only; write scoring outputs under a
distinct ``--output``. Training takes about 15 s on 2 cores.
"""

import pytest

from helpers import run_cli

#: ``rnngmm train`` flags of the tiny test model (also used by loco tests).
TINY_TRAIN_FLAGS = ("--config", "tiny", "--n_min", "20", "--gmm_on", "--nb_epoch", "1",
                    "--batch_size", "64", "--threads", "1", "--patience", "0")

#: Novel class of ``tiny_run_dir``.
TINY_NOVEL_CLASS = "RCB"


@pytest.fixture(scope="session")
def tiny_run_dir(small_dataset, tmp_path_factory):
    """Run directory of a tiny model trained once per test session."""
    log_dir = tmp_path_factory.mktemp("tiny_run_logs")
    code = run_cli("train", "--data", small_dataset, *TINY_TRAIN_FLAGS,
                   "--novel_classes", TINY_NOVEL_CLASS, "--log_dir", log_dir,
                   "--sim_type", "test", "--run_name", "tiny")
    assert code == 0, f"rnngmm train of the tiny test model failed with exit code {code}"
    run_dir = log_dir / "test" / "tiny"
    for name in ("config.json", "split.json", "model.keras", "gmm.h5"):
        assert (run_dir / name).exists(), f"tiny run lacks {name}"
    return run_dir
