"""``rnngmm generate``: a valid dataset of the run's classes at the catalog's cadence."""

import json
from pathlib import Path

import numpy as np
import pytest

from helpers import mpirun, run_cli
from rnngmm.io.dataset import Dataset, write_dataset
from training_sim import write_sim_dataset

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    """A "new survey": other epochs, 25 points each (the tiny run's n_min is 20)."""
    return write_sim_dataset(tmp_path_factory.mktemp("catalog") / "new_survey.h5",
                             n_per_class=4, n_points=25, seed=5)


@pytest.fixture(scope="module")
def generated(tiny_run_dir, catalog, tmp_path_factory):
    out = tmp_path_factory.mktemp("generated") / "synthetic.h5"
    code = run_cli("generate", "--run_dir", tiny_run_dir, "--times_from", catalog,
                   "--n", 11, "--output", out, "--seed", 3)
    assert code == 0
    return out


def _by_id(dataset):
    return {str(i): n for n, i in enumerate(dataset.ids)}


def test_generated_file_is_a_dataset_of_source_labels_at_pattern_times(
        generated, tiny_run_dir, catalog, small_dataset):
    split = json.loads((tiny_run_dir / "split.json").read_text())
    run_classes = json.loads((tiny_run_dir / "config.json").read_text())["class_names"]
    with Dataset(generated) as syn, Dataset(catalog) as cat, Dataset(small_dataset) as src:
        assert len(syn) == 11
        assert all(i.startswith("synthetic") for i in syn.ids)
        assert len(set(syn.ids)) == 11
        counts = [int(np.sum(syn.labels == c)) for c in run_classes]
        assert sum(counts) == 11 and max(counts) - min(counts) <= 1  # balanced
        sources, patterns = syn.extra("source_id"), syn.extra("pattern_id")
        cat_at, src_at = _by_id(cat), _by_id(src)
        for n in range(len(syn)):
            assert sources[n] in syn.ids[n] and patterns[n] in syn.ids[n]
            assert sources[n] in split["train"]
            s, p = src_at[sources[n]], cat_at[patterns[n]]
            assert syn.labels[n] == src.labels[s]
            assert syn.periods[n] == src.periods[s]
            time, mag, err = syn.lightcurve(n)
            pattern_time, _, pattern_err = cat.lightcurve(p)
            np.testing.assert_array_equal(time, pattern_time)
            np.testing.assert_array_equal(err, pattern_err)
            assert np.all(np.isfinite(mag))
            _, source_mag, _ = src.lightcurve(s)
            # the decoder's standardised output, scaled back with the source's own
            # mean and scale: near the source's mean magnitude, not near 0 or 1
            assert abs(np.mean(mag) - np.mean(source_mag)) < 3 * np.std(source_mag) + 0.2
        generated_by = json.loads(syn.attrs["inputs"])["generated"]
    assert generated_by["run_dir"] == str(tiny_run_dir.resolve())
    assert generated_by["times_from"] == str(Path(catalog).resolve())
    assert generated_by["source"] == str(Path(small_dataset).resolve())
    assert generated_by["seed"] == 3 and generated_by["n"] == 11


def test_same_seed_same_file_and_class_choice(generated, tiny_run_dir, catalog,
                                              tmp_path):
    again = tmp_path / "again.h5"
    assert run_cli("generate", "--run_dir", tiny_run_dir, "--times_from", catalog, "--n", 11,
                   "--output", again, "--seed", 3) == 0
    with Dataset(generated) as a, Dataset(again) as b:
        np.testing.assert_array_equal(a.ids, b.ids)
        for n in range(len(a)):
            np.testing.assert_array_equal(a.lightcurve(n)[1], b.lightcurve(n)[1])
    one = tmp_path / "one_class.h5"
    assert run_cli("generate", "--run_dir", tiny_run_dir, "--times_from", catalog,
                   "--class", "CEPH", "--n", 4, "--output", one) == 0
    with Dataset(one) as d:
        assert list(d.labels) == ["CEPH"] * 4


def test_score_reads_the_generated_dataset(generated, tiny_run_dir):
    assert run_cli("score", "--run_dir", tiny_run_dir, "--data", generated,
                   "--no_baselines", "--output", "score_generated") == 0
    summary = json.loads((tiny_run_dir / "score_generated" /
                          "classification_accuracy.json").read_text())
    assert summary["methods"]["network"]["object"]["n"] == 11


def test_bad_inputs_give_clear_messages(tiny_run_dir, catalog, tmp_path, capsys):
    out = tmp_path / "x.h5"
    assert run_cli("generate", "--run_dir", tiny_run_dir, "--times_from", catalog,
                   "--class", "RCB", "--n", 3, "--output", out) == 2
    assert "--class RCB: not a class of run tiny" in capsys.readouterr().err
    empty = tmp_path / "empty.h5"
    write_dataset(empty, {"id": [], "label": []}, [])
    assert run_cli("generate", "--run_dir", tiny_run_dir, "--times_from", empty, "--n", 3,
                   "--output", out) == 2
    assert "holds no object to take sampling patterns from" in capsys.readouterr().err
    short = write_sim_dataset(tmp_path / "short.h5", n_per_class=2, n_points=10)
    assert run_cli("generate", "--run_dir", tiny_run_dir, "--times_from", short, "--n", 3,
                   "--output", out) == 2
    assert "has at least 20 points" in capsys.readouterr().err
    sparse = tmp_path / "sparse.h5"  # allowed on request, with a warning
    assert run_cli("generate", "--run_dir", tiny_run_dir, "--times_from", short, "--n", 3,
                   "--output", sparse, "--min_points", 10) == 0
    assert "the run does not score synthetic objects with fewer points" in \
        capsys.readouterr().err
    with Dataset(sparse) as d:
        assert list(d.lengths) == [10, 10, 10]
    assert run_cli("generate", "--run_dir", tiny_run_dir, "--times_from", catalog, "--n", 0,
                   "--output", out) == 2
    assert "--n must be >= 1" in capsys.readouterr().err
    assert not out.exists()


def test_two_ranks_write_the_one_rank_file(generated, tiny_run_dir, catalog,
                                           tmp_path):
    out = tmp_path / "two_ranks.h5"
    done = mpirun(2, "-m", "rnngmm.cli", "generate", "--run_dir", tiny_run_dir,
                  "--times_from", catalog, "--n", 11, "--output", out, "--seed", 3)
    assert done.returncode == 0, done.stderr[-3000:]
    with Dataset(generated) as a, Dataset(out) as b:
        np.testing.assert_array_equal(a.ids, b.ids)
        np.testing.assert_array_equal(a.labels, b.labels)
        for n in range(len(a)):
            np.testing.assert_allclose(a.lightcurve(n)[1], b.lightcurve(n)[1], atol=1e-5)
