"""Checkpoints: round trip, validation on load, fallback past damaged files."""

import os

import h5py
import keras
import numpy as np
import pytest

from rnngmm.training import checkpoint as ckpt


def _model(seed=0, units=3):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(units),
                              keras.layers.Dropout(0.5), keras.layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    model.optimizer.build(model.trainable_variables)
    return model


def _train_a_bit(model):
    x = np.random.default_rng(0).normal(size=(16, 4)).astype("float32")
    model.fit(x, x[:, :2], epochs=2, verbose=0)


def test_round_trip_restores_model_and_optimizer(tmp_path):
    model = _model()
    _train_a_bit(model)
    path = tmp_path / ckpt.checkpoint_name(2)
    ckpt.save_checkpoint(path, model, {"epoch": 2, "step": 0, "best": 1.5})
    other = _model(seed=1)
    loaded = ckpt.read_checkpoint(path)
    assert loaded.state["best"] == 1.5 and loaded.position == (2, 0)
    ckpt.restore_checkpoint(loaded, other)
    for a, b in zip(model.variables + model.optimizer.variables,
                    other.variables + other.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert int(other.optimizer.iterations.numpy()) == int(model.optimizer.iterations.numpy()) > 0


def test_restore_into_other_architecture_fails(tmp_path):
    model = _model()
    path = tmp_path / "ckpt-0001.h5"
    ckpt.save_checkpoint(path, model, {"epoch": 1})
    with pytest.raises(ckpt.CheckpointError, match="does not match"):
        ckpt.restore_checkpoint(ckpt.read_checkpoint(path), _model(units=5))


def test_truncated_checkpoint_is_skipped_with_warning(tmp_path):
    model = _model()
    ckpt.save_checkpoint(tmp_path / "ckpt-0001.h5", model, {"epoch": 1})
    _train_a_bit(model)
    newest = tmp_path / "ckpt-0002.h5"
    ckpt.save_checkpoint(newest, model, {"epoch": 2})
    size = os.path.getsize(newest)
    with open(newest, "r+b") as f:
        f.truncate(size // 2)
    warnings = []
    found = ckpt.latest_valid_checkpoint(tmp_path, warn=warnings.append)
    assert found.position == (1, 0)
    assert len(warnings) == 1 and "ckpt-0002.h5" in warnings[0]


def test_corrupted_data_fails_checksum(tmp_path):
    model = _model()
    path = tmp_path / "ckpt-0003.h5"
    ckpt.save_checkpoint(path, model, {"epoch": 3})
    with h5py.File(path, "r") as f:
        offset = f["model/00000"].id.get_chunk_info(0).byte_offset
    with open(path, "r+b") as f:
        f.seek(offset + 4)
        byte = f.read(1)
        f.seek(offset + 4)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ckpt.CheckpointError):
        ckpt.read_checkpoint(path)
    assert ckpt.latest_valid_checkpoint(tmp_path, warn=lambda m: None) is None


def test_unfinished_or_foreign_files_are_rejected(tmp_path):
    model = _model()
    path = tmp_path / "ckpt-0001.h5"
    ckpt.save_checkpoint(path, model, {"epoch": 1})
    with h5py.File(path, "r+") as f:
        f.attrs["complete"] = False
    with pytest.raises(ckpt.CheckpointError, match="not finished"):
        ckpt.read_checkpoint(path)
    (tmp_path / "ckpt-0002.h5").write_text("not hdf5")
    with pytest.raises(ckpt.CheckpointError, match="unreadable"):
        ckpt.read_checkpoint(tmp_path / "ckpt-0002.h5")


def test_names_ordering_and_pruning(tmp_path):
    assert ckpt.parse_checkpoint_name("ckpt-0012-000034.h5") == (12, 34)
    assert ckpt.parse_checkpoint_name(".ckpt-0001.h5.abc.tmp") is None
    for name in ("ckpt-0001.h5", "ckpt-0002.h5", "ckpt-0002-000005.h5", "ckpt-0003.h5",
                 "ckpt-0004.h5"):
        (tmp_path / name).write_bytes(b"")
    ckpt.prune_checkpoints(tmp_path, 2, keep=[tmp_path / "ckpt-0001.h5"])
    assert sorted(os.listdir(tmp_path)) == ["ckpt-0001.h5", "ckpt-0003.h5", "ckpt-0004.h5"]
