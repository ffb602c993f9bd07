"""HDF5 dataset round trip and its failure modes."""

import h5py
import numpy as np
import pytest

from rnngmm.errors import InputError
from rnngmm.io.dataset import Dataset, write_dataset


def write_three(path):
    rng = np.random.default_rng(0)
    curves = [(2458000.0 + np.sort(rng.uniform(0, 100, n)), rng.normal(14, 1, n),
               rng.uniform(0.01, 0.1, n)) for n in (5, 1, 7)]
    objects = {"id": ["a", "b", "c"], "label": ["ECL", "", "M"],
               "period": [0.5, np.nan, 300.0],
               "period_source": ["catalog", "", "lomb-scargle"],
               "period_power": [np.nan, np.nan, 0.8]}
    write_dataset(path, objects, curves, extra={"vmag": [1.5, 2.5, 3.5],
                                                "name": ["x", "y", "z"]},
                  inputs={"catalog": "cat.csv"})
    return objects, curves


def test_round_trip(tmp_path):
    path = tmp_path / "d.h5"
    objects, curves = write_three(path)
    with Dataset(path) as d:
        assert len(d) == 3
        assert list(d.ids) == objects["id"] and list(d.labels) == objects["label"]
        np.testing.assert_array_equal(d.periods, objects["period"])
        assert list(d.period_sources) == objects["period_source"]
        np.testing.assert_array_equal(d.lengths, [5, 1, 7])
        np.testing.assert_array_equal(d.extra("vmag"), [1.5, 2.5, 3.5])
        assert list(d.extra("name")) == ["x", "y", "z"]
        for i, (t, m, e) in enumerate(curves):
            rt, rm, re = d.lightcurve(i)
            assert rt.dtype == np.float64
            np.testing.assert_array_equal(rt, t)  # float64 times exact
            np.testing.assert_allclose(rm, m, rtol=1e-6)
        streamed = list(d.iter_lightcurves([2, 0], block_points=3))
        assert [s[0] for s in streamed] == [2, 0]
        np.testing.assert_array_equal(streamed[0][1], curves[2][0])
        assert '"catalog": "cat.csv"' in d.attrs["inputs"]
    with h5py.File(path) as f:
        assert f["lightcurves/time"].compression == "gzip"
        assert f["lightcurves/time"].chunks is not None


def test_empty_dataset_round_trip(tmp_path):
    write_dataset(tmp_path / "e.h5", {"id": []}, [])
    with Dataset(tmp_path / "e.h5") as d:
        assert len(d) == 0


def test_bad_files_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        Dataset(tmp_path / "none.h5")
    junk = tmp_path / "junk.h5"
    junk.write_text("not hdf5")
    with pytest.raises(InputError, match="not a readable HDF5"):
        Dataset(junk)
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = 1
    with pytest.raises(InputError, match="not an rnngmm dataset"):
        Dataset(tmp_path / "other.h5")
    write_three(tmp_path / "old.h5")
    with h5py.File(tmp_path / "old.h5", "a") as f:
        f.attrs["format_version"] = 99
    with pytest.raises(InputError, match="format version 99"):
        Dataset(tmp_path / "old.h5")


def test_interrupted_write_leaves_no_file(tmp_path):
    with pytest.raises(ValueError):
        write_dataset(tmp_path / "d.h5", {"id": ["a", "b"]}, [([1.0], [1.0], [0.1])])
    assert list(tmp_path.iterdir()) == []


def test_joined_parts_keep_any_text(tmp_path):
    """Ids, labels and text extras written to part files and joined (their
    UTF-8 bytes carried, not decoded) read back as written: non-ASCII, empty,
    over several pieces."""
    from rnngmm.io.dataset import create_column, streamed_dataset
    from rnngmm.io.dataset_parts import STR, PartWriter, join_parts
    from rnngmm.lightcurves.objects import PreparedObject
    out = str(tmp_path / "d.h5")
    ids = ["étoile", "b", "c", "日本", "e", "f"]
    labels = ["", "RR", "EW", "Ω", "EW", "x"]
    names = ["n1", "", "ñ", "z", "q", "w"]
    writer = PartWriter(out, 0, 1, 2, {"name": STR}, piece_objects=3)
    for i, (object_id, label, name) in enumerate(zip(ids, labels, names)):
        t = np.arange(i + 1, dtype=float)
        writer.add_kept(i, object_id, label, PreparedObject(t, t, t, 0.5), {"name": name})
        if i % 2 == 1:
            writer.end_block()
    writer.flush()
    with streamed_dataset(out) as handle:
        join_parts(handle, [writer.pieces], len(ids), 2, {"name": STR}, create_column,
                   lambda *rejects: None)
    with Dataset(out) as d:
        assert list(d.ids) == ids and list(d.labels) == labels
        assert list(d.extra("name")) == names
        np.testing.assert_array_equal(d.lengths, np.arange(1, 7))
