"""The whole-training-set mixture after training (rnngmm/training/gmm_fit.py)."""

import numpy as np
import pytest

from model_helpers import numpy_outputs, sinusoid_chunks, tiny_model
from rnngmm.dist import Dist
from rnngmm.novelty.mixture import GMMNovelty
from rnngmm.lightcurves.preprocess import Chunks
from rnngmm.training.data import LabelledChunks
from rnngmm.training.distributed import Collectives
from rnngmm.training.gmm_fit import fit_training_gmm

N_CHUNKS = 40
#: Objects of three chunks each, the last with one: 14 objects, numbered 100, 102, ...
OBJECT_INDEX = 100 + 2 * (np.arange(N_CHUNKS) // 3)


@pytest.fixture(scope="module")
def fitted():
    inputs, labels = sinusoid_chunks(N_CHUNKS, seed=2)
    train = LabelledChunks(Chunks(inputs["x"], inputs["weights"], inputs["supports"]),
                           OBJECT_INDEX.astype(np.int64), labels)
    model = tiny_model()
    mixture = fit_training_gmm(model, train, Collectives(Dist()), batch_size=16)
    outputs = numpy_outputs(model, inputs)
    direct = GMMNovelty().fit(outputs["z"], outputs["gamma"], groups=OBJECT_INDEX)
    return mixture, direct, outputs


def test_single_process_fit_equals_a_direct_fit_of_the_model_outputs(fitted):
    mixture, direct, _ = fitted
    np.testing.assert_allclose(mixture.phi_, direct.phi_, rtol=1e-5)
    np.testing.assert_allclose(mixture.mu_, direct.mu_, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mixture.cov_, direct.cov_, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(mixture.train_energy_, direct.train_energy_, rtol=1e-4, atol=1e-4)
    for p in (80.0, 95.0, 99.0):
        assert mixture.thresholds_[p] == pytest.approx(direct.thresholds_[p], rel=1e-4, abs=1e-4)


def test_training_energies_are_one_per_object_the_mean_of_its_chunks(fitted):
    mixture, _, outputs = fitted
    assert len(mixture.train_energy_) == len(np.unique(OBJECT_INDEX)) == 14
    chunk_energy = mixture.energy(outputs["z"])
    first_object = chunk_energy[:3].mean()
    last_object = chunk_energy[39]        # object 126 has a single chunk
    assert mixture.train_energy_[0] == pytest.approx(first_object, rel=1e-4, abs=1e-4)
    assert mixture.train_energy_[-1] == pytest.approx(last_object, rel=1e-4, abs=1e-4)


def test_mixture_is_a_proper_distribution(fitted):
    mixture, _, _ = fitted
    assert mixture.phi_.sum() == pytest.approx(1.0)
    assert mixture.mu_.shape == (2, mixture.cov_.shape[1])
    np.testing.assert_allclose(mixture.cov_, np.transpose(mixture.cov_, (0, 2, 1)), atol=1e-10)
    assert np.all(np.linalg.eigvalsh(mixture.cov_) > -1e-8)
