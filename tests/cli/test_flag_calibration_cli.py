"""``rnngmm flag --calibrate catalog`` and ``--estimate_priors`` with a real (tiny) run."""

import os

import numpy as np
import pytest

from flagging_helpers import flag_args
from helpers import run_cli
from rnngmm.flagging.table import read_table
from rnngmm.flagging.shards import parts_dir
from rnngmm.class_frequencies import reweight

pytestmark = pytest.mark.slow

PERCENTILES = (80, 95, 99)


def flag(run_dir, catalog, out, *extra):
    assert run_cli(*flag_args(run_dir, catalog, out, *extra)) == 0
    return read_table(str(out))


@pytest.fixture(scope="module")
def tables(tiny_run_dir, new_catalog, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("flag_calibration")
    return {"training": flag(tiny_run_dir, new_catalog, tmp / "training.ecsv"),
            "catalog": flag(tiny_run_dir, new_catalog, tmp / "catalog.ecsv",
                            "--calibrate", "catalog", "--contamination", "0.05"),
            "priors": flag(tiny_run_dir, new_catalog, tmp / "priors.ecsv",
                           "--estimate_priors")}


def scores_of(table, run_dir):
    """The run's novelty score of each scored row (network class, energy and
    class probability: a table without --estimate_priors)."""
    from rnngmm.novelty.mixture import GMMNovelty
    novelty = GMMNovelty.load(run_dir / "gmm.h5")
    names = list(table.meta["class_names"])
    column = "network_class" if "network_class" in table.colnames else "predicted_class"
    ok = np.asarray(table["status"] == "ok")
    predicted = np.array([names.index(c) for c in np.asarray(table[column])[ok]])
    assert "network_class" not in table.colnames  # probabilities are the network's
    return ok, novelty.novelty_scores(np.asarray(table["energy"], float)[ok], predicted,
                                      np.asarray(table["class_probability"], float)[ok])


def per_class_rates(table, p):
    ok = np.asarray(table["status"] == "ok")
    predicted = np.asarray(table["predicted_class"]).astype(str)[ok]
    flagged = np.asarray(table[f"anomaly_{p}"], bool)[ok]
    return {c: float(flagged[predicted == c].mean()) for c in set(predicted)}


def test_catalog_thresholds_from_the_catalogs_scores(tables, tiny_run_dir):
    table, reference = tables["catalog"], tables["training"]
    meta = table.meta
    assert meta["calibration"] == "catalog" and meta["contamination"] == 0.05
    thresholds, by_class = meta["catalog_thresholds"], meta["flag_rate_by_class"]
    ok, scores = scores_of(table, tiny_run_dir)
    assert meta["n_calibration_objects"] == ok.sum() > 20
    for p in PERCENTILES:
        expected = np.quantile(scores, p / 100 * 0.95)
        assert thresholds[str(p)] == pytest.approx(expected, rel=1e-12)
        assert meta[f"threshold_{p}"] == pytest.approx(expected, rel=1e-12)
        np.testing.assert_array_equal(np.asarray(table[f"anomaly_{p}"])[ok], scores > expected)
        # Strictly above the quantile of 1 - p/100 (1 - F): never more than that share.
        assert np.mean(scores > expected) <= 1 - p / 100 * 0.95 + 1 / ok.sum()
        # Per predicted class, the calibrated rate beside the training one.
        calibrated, training = per_class_rates(table, p), per_class_rates(reference, p)
        for name, rate in calibrated.items():
            entry = by_class[name]
            assert entry["catalog"][str(p)] == pytest.approx(rate, abs=1e-6)
            assert entry["training"][str(p)] == pytest.approx(training[name], abs=1e-6)
    assert sum(entry["n"] for entry in by_class.values()) == ok.sum()
    # Everything but the flags is the training-mode table.
    for name in ("energy", "energy_percentile", "predicted_class", "class_probability"):
        np.testing.assert_array_equal(np.asarray(table[name]), np.asarray(reference[name]))


def expected_training_prior(run_dir):
    """The prior the run's classifier is calibrated to, from its config.json:
    ``n_c w_c`` with ``n_c`` proportional to ``w_c ** (-1/p)``, or ``phi_``
    when the cross-entropy was not weighted."""
    import json

    from rnngmm.novelty.mixture import GMMNovelty
    config = json.loads((run_dir / "config.json").read_text())
    weights = config["model"].get("class_weights")
    power = {"none": 0.0, "sqrt": 0.5, "balanced": 1.0}.get(
        config["train"]["class_weight"], None)
    if power is None:
        power = float(config["train"]["class_weight"])
    if not weights or power == 0:
        phi = GMMNovelty.load(run_dir / "gmm.h5").phi_
        return phi / phi.sum(), "phi_"
    prior = np.asarray(weights) ** (1 - 1 / power)
    return prior / prior.sum(), "class weights"


def test_estimated_priors(tables, tiny_run_dir):
    table, reference = tables["priors"], tables["training"]
    names = list(table.meta["class_names"])
    priors = table.meta["class_priors"]
    phi, source = expected_training_prior(tiny_run_dir)
    np.testing.assert_allclose([priors["training"][c] for c in names], phi, rtol=1e-9)
    assert source in priors["training_prior_source"]
    catalog_prior = np.array([priors["catalog"][c] for c in names])
    assert catalog_prior.sum() == pytest.approx(1.0) and priors["converged"]
    ok = np.asarray(table["status"] == "ok")
    network = np.stack([np.asarray(reference[f"prob_{c}"], float) for c in names], axis=1)
    adjusted = np.stack([np.asarray(table[f"prob_{c}"], float) for c in names], axis=1)
    np.testing.assert_allclose(adjusted[ok], reweight(network[ok], phi, catalog_prior),
                               rtol=1e-9)
    assert list(table["network_class"]) == list(reference["predicted_class"])
    assert list(np.asarray(table["predicted_class"])[ok]) == list(
        np.array(names)[adjusted[ok].argmax(axis=1)])
    for p in PERCENTILES:  # flags stay calibrated within the network's class
        np.testing.assert_array_equal(table[f"anomaly_{p}"], reference[f"anomaly_{p}"])
    assert table.meta["calibration"] == "training"
    assert set(table.meta["flag_rate_by_class"]) == set(names)


def test_the_log_shows_the_per_class_table(tiny_run_dir, new_catalog, tmp_path,
                                           capsys):
    out = tmp_path / "flags.ecsv"
    flag(tiny_run_dir, new_catalog, out, "--calibrate", "catalog", "--estimate_priors")
    text = capsys.readouterr().out
    assert "thresholds from the catalog (--calibrate catalog, contamination 0.01" in text
    assert "flag rate per predicted class (catalog thresholds | training thresholds)" in text
    assert "estimated class mix of the catalog" in text
    table = read_table(str(out))
    assert table.meta["contamination"] == 0.01  # the default


@pytest.mark.parametrize("extra, message", [
    (("--contamination", "0.05"), "--contamination applies to --calibrate catalog only"),
    (("--calibrate", "catalog", "--contamination", "0.7"), "--contamination must lie in"),
    (("--calibrate", "survey"), "invalid choice"),
])
def test_bad_calibration_flags_fail_before_work(tiny_run_dir, new_catalog, tmp_path,
                                                capsys, extra, message):
    out = tmp_path / "flags.ecsv"
    try:
        code = run_cli(*flag_args(tiny_run_dir, new_catalog, out, *extra))
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    assert code == 2
    assert message in capsys.readouterr().err
    assert not os.path.exists(parts_dir(str(out))) and not out.exists()
