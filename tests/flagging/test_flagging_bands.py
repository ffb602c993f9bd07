"""Stars read in several bands, through flag's streaming path with the stand-in
model: one row per star scored on all its bands' chunks, per-band columns,
shards, conditioning and the catalog pass counting each star once."""

import h5py
import numpy as np
import pytest

from flagging_helpers import FakeNovelty, FakeScorer, MemorySource
from rnngmm.dist import Dist
from rnngmm.flagging.catalog_pass import Calibration
from rnngmm.flagging.driver import FlagJob, run_flagging
from rnngmm.flagging.output import build_table
from rnngmm.flagging.results import RowResults, read_shard, write_shard
from rnngmm.flagging.sources import BandedRecord, ObjectRecord
from rnngmm.flagging.stream import prepare_batch, score_batch, score_prepared
from rnngmm.flagging.table import read_table
from rnngmm.inference import aggregate_objects
from rnngmm.lightcurves.bands import prepare_bands
from rnngmm.lightcurves.objects import Chunking, Preprocessing

CLASSES = ["A", "B", "C"]
BANDS = ("g", "r")
CHUNKING = Chunking(n_min=10, n_max=50, period_fold=False)
PREPROCESSING = Preprocessing(min_points=15)
#: Mean magnitudes of the simulated bands (colour g-r = 0.45).
MEANS = {"g": 15.45, "r": 15.0}


def curve(rng, n, mean, period=0.7, amplitude=0.3):
    time = rng.uniform(58000.0, 59500.0, n)
    mag = mean + amplitude * np.sin(2 * np.pi * time / period) + rng.normal(0, 0.03, n)
    return time, mag, np.full(n, 0.03)


def star(rng, points, period=0.7):
    """A ``BandedRecord`` with ``points[b]`` points in band b (None: not read)."""
    bands = {b: curve(rng, n, MEANS[b], period) for b, n in points.items() if n is not None}
    missing = {b: f"light-curve file not found (x_{b}.tbl)" for b, n in points.items()
               if n is None}
    return BandedRecord(bands, missing, float(period), "catalog")


#: Stars of the test catalog: (id, points per band or a reader's reason).
STARS = [("both", {"g": 80, "r": 120}),
         ("no_r", {"g": 90, "r": None}),
         ("few_g", {"g": 8, "r": 100}),
         ("none", {"g": 5, "r": None}),
         ("unreadable", "unreadable file (OSError: boom)"),
         ("both2", {"g": 150, "r": 60}),
         ("both3", {"g": 70, "r": 70})]


def BandedSource(stars=STARS, seed=0):
    """A catalog source of stars read in g and r (what CatalogSource yields
    with ``reader_options={"bands": ("g", "r")}``), in memory."""
    rng = np.random.default_rng(seed)
    records = [s[1] if isinstance(s[1], str) else star(rng, s[1]) for s in stars]
    return MemorySource([s[0] for s in stars], records, BANDS,
                        {"note": np.array([f"n{i}" for i in range(len(stars))], dtype=object)})


class RecordingNovelty(FakeNovelty):
    """FakeNovelty conditioned on the sampling: records the points it was given."""

    conditions_on_sampling = True

    def __init__(self):
        self.points = []

    def novelty_scores(self, energy, predicted_class, max_probability=None, n_points=None,
                       baseline=None):
        self.points.append(np.asarray(n_points, np.float64))
        return np.asarray(energy, np.float64)


def make_job(tmp_path, name="flags.ecsv", source=None, novelty=None, **options):
    settings = dict(batch_objects=3, shard_objects=4, progress_interval=0.0)
    settings.update(options)
    return FlagJob(source=source or BandedSource(), scorer=FakeScorer(),
                   novelty=novelty or FakeNovelty(), class_names=CLASSES,
                   preprocessing=PREPROCESSING, chunking=CHUNKING, out=str(tmp_path / name),
                   run_id="test-run", percentiles=(80.0, 95.0), **settings)


@pytest.fixture(scope="module")
def flagged(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("bands")
    job = make_job(tmp_path)
    return job, run_flagging(job, Dist()), read_table(job.out)


def row(table, object_id):
    return table[list(table["id"]).index(object_id)]


def test_one_row_per_star_with_the_per_band_columns(flagged):
    _, table, _ = flagged
    assert list(table["id"]) == [s[0] for s in STARS]
    for name in ("bands_used", "bands_missing", "predicted_class_g", "energy_percentile_g",
                 "n_points_g", "predicted_class_r", "energy_percentile_r", "n_points_r",
                 "colour_g_r"):
        assert name in table.colnames, name
    assert table.colnames.index("colour_g_r") > table.colnames.index("anomaly_95")
    assert table.meta["bands"] == list(BANDS)


def test_a_star_is_scored_from_the_bands_it_has_and_says_which(flagged):
    _, table, _ = flagged
    both, no_r, few_g = row(table, "both"), row(table, "no_r"), row(table, "few_g")
    assert (both["status"], both["bands_used"], both["bands_missing"]) == ("ok", "g,r", "")
    assert (no_r["status"], no_r["bands_used"]) == ("ok", "g")
    assert no_r["bands_missing"] == "r: light-curve file not found (x_r.tbl)"
    assert no_r["predicted_class_r"] == "" and np.isnan(no_r["energy_percentile_r"])
    assert no_r["n_points_r"] == 0 and np.isnan(no_r["colour_g_r"])
    assert (few_g["status"], few_g["bands_used"]) == ("ok", "r")
    assert few_g["bands_missing"] == "g: too few points (8 < min_points=15)"
    # n_points is over the scored bands
    for r in (both, no_r, few_g):
        assert r["n_points"] == r["n_points_g"] + r["n_points_r"]
    assert both["n_points_g"] == 80 and both["n_points_r"] == 120
    assert both["colour_g_r"] == pytest.approx(MEANS["g"] - MEANS["r"], abs=0.05)


def test_a_star_with_no_usable_band_gets_a_reason_naming_each_band(flagged):
    _, table, _ = flagged
    none = row(table, "none")
    assert none["status"] == ("no band usable (g: too few points (5 < min_points=15); "
                              "r: light-curve file not found (x_r.tbl))")
    assert none["bands_used"] == "" and none["n_chunks"] == 0
    assert row(table, "unreadable")["status"] == "unreadable file (OSError: boom)"


def test_the_star_is_the_mean_over_all_bands_chunks_and_each_band_its_own(flagged):
    job, table, _ = flagged
    record = job.source.records[0]
    prepared = prepare_bands(record.bands, record.period, PREPROCESSING, CHUNKING)
    scorer = FakeScorer()
    per_band = {b: scorer.score(prepared.bands[b].chunks) for b in BANDS}
    energies = np.concatenate([per_band[b].energy for b in BANDS])
    both = row(table, "both")
    assert both["energy"] == pytest.approx(energies.mean(), rel=1e-12)
    assert both["n_chunks"] == len(energies)
    for b in BANDS:
        # FakeNovelty: percentile = 20 x energy (clipped)
        expected = np.clip(per_band[b].energy.mean() * 20, 0, 100)
        assert both[f"energy_percentile_{b}"] == pytest.approx(expected, rel=1e-9)
        best = CLASSES[int(np.argmax(per_band[b].gamma.mean(axis=0)))]
        assert both[f"predicted_class_{b}"] == best


def test_streaming_batches_do_not_change_the_rows(tmp_path, flagged):
    _, table, _ = flagged
    other = run_flagging(make_job(tmp_path, "other.ecsv", batch_objects=1, shard_objects=100),
                         Dist())
    for name in table.colnames:
        a, b = np.asarray(table[name]), np.asarray(other[name])
        if a.dtype.kind == "f":
            np.testing.assert_allclose(a, b, rtol=1e-12, equal_nan=True, err_msg=name)
        else:
            assert list(a) == list(b), name


@pytest.mark.parametrize("suffix", [".csv", ".fits", ".h5", ".parquet"])
def test_every_output_format_keeps_the_band_columns(tmp_path, flagged, suffix):
    _, table, _ = flagged
    job = make_job(tmp_path, f"flags{suffix}", keep_table=False)
    run_flagging(job, Dist())
    back = read_table(job.out)
    assert back.colnames == table.colnames
    assert list(back["bands_missing"]) == list(table["bands_missing"])
    np.testing.assert_allclose(np.asarray(back["colour_g_r"], float),
                               np.asarray(table["colour_g_r"], float), equal_nan=True)


def test_column_descriptions_state_the_rule(flagged):
    _, table, written = flagged
    assert "ALL their chunks" in table["bands_used"].description
    assert "minus" in table["colour_g_r"].description
    assert str(table["colour_g_r"].unit) == "mag"
    assert "band g" in written["energy_percentile_g"].description


def test_shards_keep_the_per_band_results(tmp_path):
    items = list(BandedSource().iter_records(range(len(STARS))))
    results = score_batch(items, FakeScorer(), PREPROCESSING, CHUNKING, bands=BANDS)
    path = tmp_path / "shard.h5"
    write_shard(path, results, shard=0, start=0, stop=len(items))
    back = read_shard(path, shard=0, start=0, stop=len(items), n_classes=3)
    assert back.bands == BANDS
    for name in ("band_prob", "band_energy", "band_n_chunks", "band_n_points",
                 "band_baseline", "band_mag"):
        np.testing.assert_array_equal(getattr(back, name), getattr(results, name), name)
    assert list(back.bands_missing) == list(results.bands_missing)
    stacked = RowResults.concatenate([back, back], 3)
    assert stacked.bands == BANDS and stacked.band_prob.shape == (2 * len(STARS), 2, 3)


def test_a_shard_of_the_previous_format_is_redone(tmp_path):
    items = list(BandedSource().iter_records(range(3)))
    results = score_batch(items, FakeScorer(), PREPROCESSING, CHUNKING, bands=BANDS)
    path = tmp_path / "shard.h5"
    write_shard(path, results, shard=0, start=0, stop=3)
    with h5py.File(path, "a") as f:
        f.attrs["format_version"] = 2
    assert read_shard(path, shard=0, start=0, stop=3, n_classes=3) is None


def test_one_band_results_have_no_band_fields_and_no_band_columns(tmp_path):
    rng = np.random.default_rng(1)
    items = [(0, ObjectRecord(*curve(rng, 60, 15.0), 0.7, "catalog"))]
    results = score_batch(items, FakeScorer(), PREPROCESSING, CHUNKING)
    assert results.bands is None and results.band_prob is None
    np.testing.assert_array_equal(results.sampling_points, results.n_points)
    table = build_table(id_name="id", ids=["a"], columns={}, results=results,
                        class_names=CLASSES, novelty=FakeNovelty(), percentiles=(95.0,),
                        meta={})
    assert not [c for c in table.colnames if "band" in c or c.startswith("colour")]


def test_conditioning_uses_the_mean_points_per_scored_band(tmp_path):
    novelty = RecordingNovelty()
    job = make_job(tmp_path, novelty=novelty)
    table = run_flagging(job, Dist())
    both = row(table, "both")
    assert both["n_points"] == 200
    given = np.concatenate(novelty.points)
    assert 100.0 in given  # "both": 200 points over two bands (its bands: 80 and 120)
    assert 200.0 not in given
    batch = prepare_batch(list(job.source.iter_records(range(3))), 3, PREPROCESSING,
                          CHUNKING, BANDS)
    results = score_prepared(batch, FakeScorer(), CHUNKING)
    np.testing.assert_allclose(results.sampling_points[:3], [100.0, 90.0, 100.0])


def test_calibration_on_the_catalog_counts_each_star_once(tmp_path):
    job = make_job(tmp_path, "calibrated.ecsv",
                   calibration=Calibration("catalog", contamination=0.2))
    table = run_flagging(job, Dist())
    ok = np.asarray(table["status"]) == "ok"
    assert table.meta["calibration"] == "catalog"
    # the catalog's thresholds come from one score per scored star (not per band)
    assert table.meta["n_ok"] == int(ok.sum()) == 5
    flagged_rate = np.asarray(table["anomaly_80"])[ok].mean()
    assert flagged_rate <= 0.4


def test_per_band_means_equal_aggregate_objects_of_the_band(flagged):
    job, _, _ = flagged
    items = list(job.source.iter_records([0]))
    batch = prepare_batch(items, 3, PREPROCESSING, CHUNKING, BANDS)
    scorer = FakeScorer()
    results = score_prepared(batch, scorer, CHUNKING)
    g_chunks = batch.results.band_n_chunks[0, 0]
    chunk_scores = FakeScorer().score(batch.parts[0])
    g = aggregate_objects(chunk_scores, np.r_[np.zeros(g_chunks, int),
                                              np.ones(len(chunk_scores) - g_chunks, int)])
    np.testing.assert_allclose(results.band_prob[0], g.prob)
    np.testing.assert_allclose(results.band_energy[0], g.energy)


def test_a_batch_without_band_names_still_conditions_on_points_per_band():
    """score_batch called without ``bands`` (as a library user might) takes
    the names from its BandedRecords, so the conditioned score sees the mean
    points per band, not the star's total."""
    items = list(BandedSource().iter_records(range(len(STARS))))
    named = prepare_batch(items, 3, PREPROCESSING, CHUNKING, bands=BANDS).results
    unnamed = prepare_batch(items, 3, PREPROCESSING, CHUNKING).results
    assert unnamed.bands == BANDS
    np.testing.assert_array_equal(unnamed.sampling_points, named.sampling_points)
    both = list(STARS).index(("both", {"g": 80, "r": 120}))
    assert unnamed.sampling_points[both] == unnamed.n_points[both] / 2
