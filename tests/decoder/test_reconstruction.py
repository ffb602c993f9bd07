"""rnngmm.decoder.reconstruction: chunks back in magnitudes and times or phases."""

import numpy as np
import pytest

from rnngmm.decoder.reconstruction import invert_chunk, reconstruct_object
from rnngmm.lightcurves.objects import Chunking, object_chunks
from rnngmm.lightcurves.preprocess import chunk_layout, clean, phase_fold


def _light_curve(n=150, seed=3, period=0.731):
    rng = np.random.default_rng(seed)
    time = 56000.0 + np.sort(rng.uniform(0, 700, n))  # MJD: float64 matters
    mag = 13.0 + 0.5 * np.sin(2 * np.pi * time / period) + rng.normal(0, 0.05, n)
    err = rng.uniform(0.02, 0.08, n)
    time, mag, err, _ = clean(time, mag, err)
    return time, mag, err, period


@pytest.mark.parametrize("period_fold", [False, True])
def test_chunks_invert_to_the_cleaned_points(period_fold):
    time, mag, err, period = _light_curve()
    chunking = Chunking(n_min=20, n_max=40, period_fold=period_fold)
    chunks = object_chunks(time, mag, err, period, chunking)
    positions, order, bounds = chunk_layout(time, period, n_min=20, n_max=40,
                                            period_fold=period_fold)
    assert len(bounds) == len(chunks) > 1  # several chunks, the last ones overlapping
    if period_fold:
        np.testing.assert_array_equal(positions, phase_fold(time, period)[order])
    else:
        np.testing.assert_array_equal(order, np.arange(len(time)))
    covered = np.zeros(len(time), bool)
    for c, (start, stop) in enumerate(bounds):
        back = invert_chunk(chunks.x[c], chunks.weights[c], chunks.supports[c],
                            origin=positions[start])
        points = order[start:stop]
        covered[points] = True
        assert len(back.position) == stop - start
        # lags are float32: about 1e-7 relative per lag, summed over the chunk
        np.testing.assert_allclose(back.position, positions[start:stop], rtol=0,
                                   atol=1e-3 if not period_fold else 1e-6)
        if period_fold:
            np.testing.assert_allclose(back.position, phase_fold(time, period)[points],
                                       rtol=0, atol=1e-6)
        else:
            np.testing.assert_allclose(back.position, time[points], rtol=0, atol=1e-3)
        np.testing.assert_allclose(back.mag, mag[points], rtol=0, atol=1e-5)
        assert back.reconstruction is None
    assert covered.all()


def test_a_padded_chunk_inverts_only_its_real_points_and_the_reconstruction():
    time, mag, err, period = _light_curve(n=25)
    chunks = object_chunks(time, mag, err, period, Chunking(n_min=10, n_max=32))
    assert len(chunks) == 1 and (chunks.weights[0] == 0).sum() == 32 - len(time)
    rebuilt = chunks.x[0, :, 1] * 0.5  # a decoder output in standardised units
    back = invert_chunk(chunks.x[0], chunks.weights[0], chunks.supports[0],
                        origin=time[0], reconstruction=rebuilt)
    mean = float(chunks.supports[0, 0])
    assert len(back.position) == len(back.reconstruction) == len(time)
    np.testing.assert_allclose(back.reconstruction, (mag - mean) * 0.5 + mean, atol=1e-5)
    np.testing.assert_allclose(back.position, time, rtol=0, atol=1e-4)


def test_a_constant_chunk_inverts_to_its_constant_magnitude():
    time = 55000.0 + np.arange(30.0)
    mag = np.full(30, 12.5)
    chunks = object_chunks(time, mag, np.full(30, 0.01), 3.0, Chunking(20, 40))
    back = invert_chunk(chunks.x[0], chunks.weights[0], chunks.supports[0], origin=time[0])
    np.testing.assert_allclose(back.mag, mag)


class HalvingModel:
    """Stands in for a run's model: reconstructs half of each standardised magnitude."""

    def __init__(self):
        self.calls = []

    def __call__(self, inputs, training=False):
        self.calls.append((inputs["x"].shape, training))
        return {"reconstruction": inputs["x"][..., 1] * 0.5}


@pytest.mark.parametrize("period_fold", [False, True])
def test_reconstruct_object_gives_each_chunk_at_its_points(period_fold):
    time, mag, err, period = _light_curve()
    chunking = Chunking(n_min=20, n_max=40, period_fold=period_fold)
    model = HalvingModel()
    chunks = reconstruct_object(model, time, mag, err, period, chunking)
    inputs = object_chunks(time, mag, err, period, chunking)
    assert model.calls == [((len(inputs), 40, 2), False)]  # one call, inference mode
    assert len(chunks) == len(inputs) > 1
    positions, order, bounds = chunk_layout(time, period, n_min=20, n_max=40,
                                            period_fold=period_fold)
    for c, (chunk, (start, stop)) in enumerate(zip(chunks, bounds)):
        np.testing.assert_allclose(chunk.position, positions[start:stop], rtol=0,
                                   atol=1e-3)
        np.testing.assert_allclose(chunk.mag, mag[order[start:stop]], rtol=0, atol=1e-5)
        mean = float(inputs.supports[c, 0])  # half of each deviation from the chunk mean
        np.testing.assert_allclose(chunk.reconstruction, mean + (chunk.mag - mean) * 0.5,
                                   rtol=0, atol=1e-5)
