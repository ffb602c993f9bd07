"""Batched forward passes: padding, compiled shapes, XLA against plain graph."""

import numpy as np
import pytest

from rnngmm.inference import padded_batch_size, predict_chunks
from rnngmm.lightcurves.preprocess import Chunks
from model_helpers import numpy_outputs, sinusoid_chunks, tiny_model


@pytest.mark.parametrize("n, batch, expected", [
    (300, 256, 256), (256, 256, 256), (255, 256, 256), (129, 256, 256),
    (128, 256, 128), (5, 256, 8), (1, 256, 1), (3, 4, 4), (100, 96, 96)])
def test_padded_batch_size(n, batch, expected):
    assert padded_batch_size(n, batch) == expected


def test_few_shapes_for_many_sizes():
    shapes = {padded_batch_size(n, 256) for n in range(1, 1000)}
    assert shapes == {1, 2, 4, 8, 16, 32, 64, 128, 256}


@pytest.fixture(scope="module")
def model_and_chunks():
    inputs, _ = sinusoid_chunks(n=45, seed=3)
    return tiny_model(), Chunks(inputs["x"], inputs["weights"], inputs["supports"])


@pytest.mark.parametrize("xla", [True, False])
def test_predictions_equal_the_eager_model_in_order(model_and_chunks, xla):
    model, chunks = model_and_chunks
    eager = numpy_outputs(model, {"x": chunks.x, "weights": chunks.weights,
                                  "supports": chunks.supports})
    # 45 chunks in batches of 16: two full batches and a last one of 13 padded to 16.
    got = predict_chunks(model, chunks, batch_size=16, xla=xla)
    for name in ("gamma", "z", "code"):
        assert got[name].shape == eager[name].shape
        np.testing.assert_allclose(got[name], eager[name], rtol=1e-4, atol=1e-5)


def test_no_chunks_gives_empty_outputs_of_the_right_width(model_and_chunks):
    model, chunks = model_and_chunks
    empty = Chunks(chunks.x[:0], chunks.weights[:0], chunks.supports[:0])
    got = predict_chunks(model, empty)
    assert got["gamma"].shape == (0, 2) and got["code"].shape == (0, 4)
    assert got["z"].shape == (0, model.z_size)


def test_mean_by_object_averages_rows_and_counts():
    from rnngmm.inference import mean_by_object
    values = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [0.2, 0.8]])
    objects, means, counts = mean_by_object(values, [7, 7, 3, 7])
    assert objects.tolist() == [3, 7] and counts.tolist() == [1, 3]
    np.testing.assert_allclose(means, [[0.5, 0.5], [1.2 / 3, 1.8 / 3]])
    objects, means, _ = mean_by_object([1.0, 3.0, 10.0, 5.0], [7, 7, 2, 7])
    np.testing.assert_allclose(means, [10.0, 3.0])
    with pytest.raises(ValueError):
        mean_by_object([1.0], [1, 2])


def test_score_and_aggregate_objects_match_the_model_and_mixture(model_and_chunks):
    """The one scoring path: per-object values are means of the chunk values,
    and chunk energies are the mixture's energies of the model's z."""
    from rnngmm.inference import aggregate_objects, score_chunks
    from rnngmm.novelty.mixture import GMMNovelty
    model, chunks = model_and_chunks
    direct = numpy_outputs(model, {"x": chunks.x, "weights": chunks.weights,
                                   "supports": chunks.supports})
    mixture = GMMNovelty().fit(direct["z"], direct["gamma"])
    scores = score_chunks(model, mixture, chunks, batch_size=16)
    np.testing.assert_allclose(scores.energy, mixture.energy(direct["z"]), rtol=1e-3, atol=1e-3)
    owners = np.arange(len(chunks)) // 3
    objects = aggregate_objects(scores, owners)
    assert objects.objects.tolist() == sorted(set(owners.tolist()))
    assert objects.n_chunks.tolist() == [3] * 15
    np.testing.assert_allclose(objects.prob[2], scores.gamma[6:9].mean(axis=0))
    np.testing.assert_allclose(objects.energy[2], scores.energy[6:9].mean())
    np.testing.assert_allclose(objects.code[2], scores.code[6:9].mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(objects.prob.sum(axis=1), 1, rtol=1e-5)
