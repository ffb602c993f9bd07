"""The cached estimation stage trains like the uncached one (same data, seed)."""

import csv

import numpy as np
import pytest

from helpers import run_cli
from rnngmm.rundir import load_model
from training_sim import tiny_train_args, write_sim_dataset

pytestmark = pytest.mark.slow


def _history(run_dir):
    with open(run_dir / "training.csv") as handle:
        return list(csv.DictReader(handle))


def test_cached_estimation_stage_equals_the_uncached_one(tmp_path, capsys):
    data = write_sim_dataset(tmp_path / "sim.h5")
    for name, flag in (("cached", "--cache_estimation"), ("uncached", "--no-cache_estimation")):
        args = tiny_train_args(data, tmp_path, name, epochs=1, sequential=True,
                               extra=(flag, "--patience", "0"))
        assert run_cli(*args) == 0
    log = capsys.readouterr().out
    assert log.count("frozen-autoencoder outputs of") == 1  # only the cached run
    cached, uncached = (tmp_path / "crts" / n for n in ("cached", "uncached"))
    rows = _history(cached), _history(uncached)
    assert [r["stage"] for r in rows[0]] == ["autoencoder", "estimation", "estimation"]
    for a, b in zip(*rows):
        for key in ("loss", "ce", "energy", "recon", "val_loss", "val_accuracy"):
            np.testing.assert_allclose(float(a[key]), float(b[key]), rtol=2e-3, atol=2e-4,
                                       err_msg=f"{a['stage']} {key}")
    for a, b in zip(load_model(cached / "model.keras").get_weights(),
                    load_model(uncached / "model.keras").get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)
