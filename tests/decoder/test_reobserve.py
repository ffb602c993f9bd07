"""Re-observing at another cadence: pattern layout, placement, plan, decoding."""

import numpy as np
import pytest

from rnngmm.errors import InputError
from rnngmm.decoder.generate import balanced_plan
from rnngmm.lightcurves.objects import Chunking, object_chunks
from rnngmm.decoder.reobserve import (add_error_noise, eligible_patterns, pattern_chunks,
                              place_magnitudes, synthetic_id)
from rnngmm.training.reobserve import copies_per_object


def _pattern(n, seed=0, baseline=900.0):
    return np.sort(np.random.default_rng(seed).uniform(55000.0, 55000.0 + baseline, n))


@pytest.mark.parametrize("fold", [False, True])
@pytest.mark.parametrize("n", [25, 70])  # one chunk; three overlapping chunks of 32
def test_decoded_chunks_land_on_their_epochs(fold, n):
    time = _pattern(n)
    chunking = Chunking(20, 32, fold)
    lags, weights, order, bounds = pattern_chunks(time, 0.37, chunking)
    # a "decoder" that returns a known function of each position's epoch
    truth = np.sin(time / 3.0)
    decoded = np.zeros(lags.shape)
    for c, (a, b) in enumerate(bounds):
        decoded[c, :b - a] = truth[order[a:b]]
        decoded[c, b - a:] = 99.0  # padding must be ignored
    np.testing.assert_allclose(place_magnitudes(decoded, order, bounds, 15.0, 0.4),
                               15.0 + 0.4 * truth)
    assert (weights > 0).sum(axis=1).tolist() == [b - a for a, b in bounds]


def test_pattern_lags_are_those_the_encoder_gets():
    time = _pattern(70, seed=2)
    for fold in (False, True):
        chunking = Chunking(20, 32, fold)
        lags, weights, _, _ = pattern_chunks(time, 0.37, chunking)
        real = object_chunks(time, 15 + np.sin(time), np.full(70, 0.05), 0.37, chunking)
        np.testing.assert_array_equal(lags, real.x[..., 0])
        np.testing.assert_array_equal(weights > 0, real.weights > 0)
    unfolded = pattern_chunks(time, 0.37, Chunking(20, 100, False))[0][0]
    np.testing.assert_allclose(unfolded[1:70], np.diff(time), rtol=1e-6)
    assert unfolded[0] == 0


def test_noise_has_the_pattern_errors():
    err = np.full(20000, 0.1)
    noisy = add_error_noise(np.full(20000, 15.0), err, np.random.default_rng(0))
    assert np.std(noisy - 15.0) == pytest.approx(0.1, rel=0.03)


def test_balanced_plan_shares_n_and_uses_every_object_before_repeating():
    members = {"A": np.arange(0, 3), "B": np.arange(10, 20), "C": np.arange(30, 31)}
    labels, sources = balanced_plan(members, 11, np.random.default_rng(0))
    assert [labels.count(c) for c in "ABC"] == [4, 4, 3]
    a = sources[:4]
    assert sorted(a[:3]) == [0, 1, 2] and a[3] in (0, 1, 2)
    assert len(set(sources[4:8])) == 4 and set(sources[4:8]) <= set(range(10, 20))
    assert list(sources[8:]) == [30, 30, 30]
    again = balanced_plan(members, 11, np.random.default_rng(0))
    np.testing.assert_array_equal(sources, again[1])


def test_eligible_patterns_names_the_catalog_problem():
    assert list(eligible_patterns([5, 30, 20, 19], 20)) == [1, 2]
    with pytest.raises(InputError, match="cat.h5 holds no object"):
        eligible_patterns([], 20, catalog="cat.h5")
    with pytest.raises(InputError, match=r"at least 20 points .*longest has 12"):
        eligible_patterns([5, 12], 20, catalog="cat.h5")


def test_copies_per_object_follow_the_fraction():
    objects = np.arange(4000)
    assert set(copies_per_object(objects, 1.0, 0)) == {1}
    half = copies_per_object(objects, 1.5, 0)
    assert set(half) == {1, 2} and half.mean() == pytest.approx(1.5, abs=0.03)
    np.testing.assert_array_equal(half[100:200], copies_per_object(objects[100:200], 1.5, 0))
    assert copies_per_object(objects, 0.25, 1).mean() == pytest.approx(0.25, abs=0.03)


def test_synthetic_ids_say_what_they_are():
    assert synthetic_id(7, "RR-1", "gaia 42") == "synthetic000007:RR-1@gaia 42"


def test_decoding_a_chunk_code_at_its_own_lags_is_its_reconstruction():
    from rnngmm.inference import predict_chunks
    from rnngmm.models.registry import build_model
    from rnngmm.decoder.reobserve import decode_codes
    model = build_model("rnngmm", **{"size": 8, "num_layers": 1, "embedding": 4,
                                     "estnet_size": [8], "n_max": 32, "num_classes": 2})
    model.build()
    time = _pattern(45, seed=4)
    chunks = object_chunks(time, 15 + np.sin(time), np.full(45, 0.05), 0.5,
                           Chunking(20, 32, False))
    codes = predict_chunks(model, chunks)["code"]
    outputs = model({"x": chunks.x, "weights": chunks.weights, "supports": chunks.supports})
    decoded = decode_codes(model, codes, chunks.x[..., 0], chunks.weights, batch_size=1)
    mask = chunks.weights > 0
    np.testing.assert_allclose(decoded[mask], np.asarray(outputs["reconstruction"])[mask],
                               rtol=1e-5, atol=1e-5)
