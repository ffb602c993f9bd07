"""The catalog pass of ``flag --calibrate catalog`` / ``--estimate_priors`` on one
process, with the stand-in model of the plumbing tests."""

import numpy as np
import pytest

from flagging_helpers import FakeNovelty, FakeScorer, write_catalog
from rnngmm.dist import Dist
from rnngmm.errors import InputError
from rnngmm.flagging.catalog_pass import Calibration
from rnngmm.flagging.driver import FlagJob, run_flagging
from rnngmm.flagging.table import read_table
from rnngmm.flagging.sources import CatalogSource
from rnngmm.lightcurves.objects import Chunking, Preprocessing
from rnngmm.class_frequencies import reweight

CLASSES = ["A", "B", "C"]
PERCENTILES = (50.0, 80.0)
TRAIN_PRIOR = np.array([0.2, 0.5, 0.3])


def run_job(tmp_path, catalog, name, calibration=None):
    source = CatalogSource(catalog[0], catalog[1], "crts", id_col="id", period_col="period",
                           pass_through=["vmag"])
    job = FlagJob(source=source, scorer=FakeScorer(), novelty=FakeNovelty(),
                  class_names=CLASSES, preprocessing=Preprocessing(min_points=10),
                  chunking=Chunking(n_min=10, n_max=50, period_fold=False),
                  out=str(tmp_path / name), run_id="test-run", percentiles=PERCENTILES,
                  batch_objects=4, shard_objects=7, progress_interval=0.0,
                  calibration=calibration, training_prior=(TRAIN_PRIOR, "test prior"))
    table = run_flagging(job, Dist())
    return job, table, read_table(job.out)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("catalog_pass")
    catalog = write_catalog(str(tmp_path), n_good=40)
    return {"training": run_job(tmp_path, catalog, "training.ecsv"),
            "catalog": run_job(tmp_path, catalog, "catalog.ecsv",
                               Calibration("catalog", contamination=0.1)),
            "priors": run_job(tmp_path, catalog, "priors.ecsv",
                              Calibration("training", estimate_priors=True))}


def rates_by_class(table, column):
    ok = np.asarray(table["status"] == "ok")
    predicted = np.asarray(table["predicted_class"])[ok]
    flagged = np.asarray(table[column], bool)[ok]
    return {c: (float(flagged[predicted == c].mean()) if np.any(predicted == c) else None)
            for c in CLASSES}


def test_training_mode_keeps_todays_table(runs):
    job, _, written = runs["training"]
    assert job.adjustment is None
    assert written.meta["calibration"] == "training"
    assert "catalog_thresholds" not in written.meta


def test_catalog_thresholds_set_the_flags(runs):
    _, reference, _ = runs["training"]
    job, _, written = runs["catalog"]
    ok = np.asarray(written["status"] == "ok")
    energy = np.asarray(written["energy"], float)[ok]
    assert written.meta["calibration"] == "catalog" and written.meta["contamination"] == 0.1
    for p in PERCENTILES:
        threshold = np.quantile(energy, p / 100 * 0.9)  # the fake score is the energy
        label = f"{p:g}"
        assert written.meta["catalog_thresholds"][label] == pytest.approx(threshold)
        assert written.meta[f"threshold_{label}"] == pytest.approx(threshold)
        assert written.meta["training_thresholds"][label] == pytest.approx(p / 20)
        np.testing.assert_array_equal(np.asarray(written[f"anomaly_{label}"])[ok],
                                      energy > threshold)
        # Side by side: rates with the catalog's thresholds and the training ones.
        by_class = written.meta["flag_rate_by_class"]
        assert {c: by_class[c]["catalog"][label] for c in CLASSES} == pytest.approx(
            rates_by_class(written, f"anomaly_{label}"), abs=1e-6)
        assert {c: by_class[c]["training"][label] for c in CLASSES} == pytest.approx(
            rates_by_class(reference, f"anomaly_{label}"), abs=1e-6)
        assert written.meta["flag_rate_overall"]["catalog"][label] == pytest.approx(
            np.mean(energy > threshold))
    assert sum(written.meta["flag_rate_by_class"][c]["n"] for c in CLASSES) == ok.sum()
    assert written.meta["n_calibration_objects"] == ok.sum()
    assert "above the 80th percentile of the catalog" in written["anomaly_80"].description
    # Only the flags change.
    for name in ("energy", "energy_percentile", "predicted_class", "prob_A"):
        np.testing.assert_array_equal(np.asarray(written[name]), np.asarray(reference[name]))
    lines = job.adjustment.lines()
    assert "thresholds from the catalog" in lines[0]
    assert any(line.split()[:1] == ["all"] for line in lines)


def test_estimated_priors_reweight_the_classes(runs):
    _, reference, _ = runs["training"]
    job, _, written = runs["priors"]
    meta = written.meta["class_priors"]
    assert meta["training"] == pytest.approx(dict(zip(CLASSES, TRAIN_PRIOR)))
    assert meta["training_prior_source"] == "test prior" and meta["converged"]
    catalog_prior = np.array([meta["catalog"][c] for c in CLASSES])
    assert catalog_prior.sum() == pytest.approx(1.0)
    ok = np.asarray(written["status"] == "ok")
    network = np.stack([np.asarray(reference[f"prob_{c}"], float) for c in CLASSES], axis=1)
    adjusted = np.stack([np.asarray(written[f"prob_{c}"], float) for c in CLASSES], axis=1)
    np.testing.assert_allclose(adjusted[ok], reweight(network[ok], TRAIN_PRIOR, catalog_prior),
                               rtol=1e-12)
    # The mix is a fixed point: the mean re-weighted probability.
    np.testing.assert_allclose(adjusted[ok].mean(axis=0), catalog_prior, atol=1e-6)
    assert list(written["predicted_class"][ok]) == list(np.array(CLASSES)[
        adjusted[ok].argmax(axis=1)])
    assert list(written["network_class"]) == list(reference["predicted_class"])
    assert written.colnames.index("network_class") == written.colnames.index(
        "class_probability") + 1
    # The flags stay those of the network's class (training thresholds here).
    for p in PERCENTILES:
        np.testing.assert_array_equal(written[f"anomaly_{p:g}"], reference[f"anomaly_{p:g}"])
    assert any("estimated class mix" in line for line in job.adjustment.lines())


def test_no_scored_object_is_a_clear_error(tmp_path):
    catalog = write_catalog(str(tmp_path), n_good=0, duplicate=False)
    with pytest.raises(InputError, match="--calibrate catalog: no scored object"):
        run_job(tmp_path, catalog, "none.ecsv", Calibration("catalog"))
    with pytest.raises(InputError, match="--estimate_priors: no object"):
        run_job(tmp_path, catalog, "none.ecsv", Calibration(estimate_priors=True))


@pytest.mark.parametrize("calibration, message", [
    (Calibration("catalgo"), "--calibrate 'catalgo'"),
    (Calibration("training", contamination=0.05), "--calibrate catalog only"),
    (Calibration("catalog", contamination=0.5), "--contamination must lie in"),
])
def test_bad_settings(calibration, message):
    with pytest.raises(InputError, match=message):
        calibration.validate()
