"""rnngmm.latent: codes of a flag table, nearest neighbours, 2-D maps."""

import numpy as np
import pytest
from astropy.table import Table

from rnngmm import latent
from rnngmm.errors import InputError


def code_table(codes, ids=None, status=None, classes=None, anomalous=None):
    """A flag-like table: id, status, predicted_class, energy, anomaly_95, code_*."""
    codes = np.asarray(codes, float)
    n = len(codes)
    table = Table()
    table["id"] = ids if ids is not None else [f"s{k}" for k in range(n)]
    table["status"] = status if status is not None else ["ok"] * n
    table["predicted_class"] = classes if classes is not None else ["A"] * n
    table["energy"] = np.arange(n, dtype=float)
    table["energy_percentile"] = np.linspace(0, 100, n)
    table["anomaly_95"] = anomalous if anomalous is not None else np.zeros(n, bool)
    for k in range(codes.shape[1]):
        table[f"code_{k}"] = codes[:, k]
    table.meta["run_id"] = "hand"
    return table


# Five points on a line (component 0; component 1 is constant).
LINE = np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0], [7.0, 0.0], [7.5, 0.0]])


def test_catalog_codes_keeps_scored_rows_with_finite_codes():
    codes = np.array([[0.0, 1.0], [np.nan, np.nan], [2.0, 3.0], [4.0, 5.0], [6.0, 7.0]])
    table = code_table(codes, ids=["a", "b", "c", "d", "a"],
                       status=["ok", "missing", "ok", "too few points", "ok"])
    catalog = latent.catalog_codes(table)
    assert list(catalog.ids) == ["a", "c"]  # b, d not scored; the repeated a keeps row 0
    assert list(catalog.rows) == [0, 2]
    np.testing.assert_array_equal(catalog.codes, [[0.0, 1.0], [2.0, 3.0]])
    assert catalog.code_names == ["code_0", "code_1"] and catalog.id_col == "id"


def test_code_columns_in_component_order_even_when_shuffled():
    table = code_table(np.arange(24.0).reshape(2, 12))
    shuffled = table[["id", "status", "code_10", "code_2", "code_0", "code_1", *[
        f"code_{k}" for k in (3, 4, 5, 6, 7, 8, 9, 11)]]]
    assert latent.code_column_names(shuffled) == [f"code_{k}" for k in range(12)]


def test_table_without_codes_says_how_to_get_them():
    table = code_table(LINE)
    table.remove_columns(["code_0", "code_1"])
    with pytest.raises(InputError, match="--with_code"):
        latent.catalog_codes(table)


def test_standardiser_handles_constant_components():
    mean, scale = latent.fit_standardiser([[1.0, 5.0], [3.0, 5.0]])
    np.testing.assert_array_equal(mean, [2.0, 5.0])
    np.testing.assert_array_equal(scale, [1.0, 1.0])
    np.testing.assert_array_equal(latent.standardise([[3.0, 5.0]], mean, scale), [[1.0, 0.0]])


def test_nearest_neighbours_of_points_on_a_line():
    distances, indices = latent.nearest_neighbours(LINE, LINE[[0, 3]], 3)
    np.testing.assert_array_equal(indices, [[0, 1, 2], [3, 4, 2]])
    np.testing.assert_allclose(distances, [[0.0, 1.0, 3.0], [0.0, 0.5, 4.0]])
    # an outside query at 6.0 is nearest to 7.0, then 7.5, then 3.0
    distances, indices = latent.nearest_neighbours(LINE, [[6.0, 0.0]], 3)
    np.testing.assert_array_equal(indices, [[3, 4, 2]])
    np.testing.assert_allclose(distances, [[1.0, 1.5, 3.0]])


def test_a_query_in_the_catalog_comes_first_even_among_ties():
    points = np.array([[1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [5.0, 5.0]])
    for own in range(3):
        distances, indices = latent.nearest_neighbours(points, points[[own]], 3,
                                                       self_rows=[own])
        assert indices[0, 0] == own and distances[0, 0] == 0.0
        assert sorted(indices[0]) == [0, 1, 2]
    # k = n works with self_rows (no spare row to fetch)
    _, indices = latent.nearest_neighbours(points, points[[3]], 4, self_rows=[3])
    assert indices[0, 0] == 3 and sorted(indices[0]) == [0, 1, 2, 3]


@pytest.mark.parametrize("k", [0, 6])
def test_k_outside_the_catalog_is_an_input_error(k):
    with pytest.raises(InputError, match="between 1 and the 5 objects"):
        latent.nearest_neighbours(LINE, LINE[:1], k)


def test_distances_are_on_standardised_codes():
    # component 1 spans 1000x the range of component 0: raw Euclidean would
    # only see it; standardised, both components count equally.
    codes = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1000.0], [1.0, 1000.0]])
    table = code_table(codes)
    result = latent.neighbour_table(table, latent.catalog_codes(table), ["q"],
                                    [[0.1, 600.0]], 4)
    # standardised: query is (-0.8, 0.2); (0, 1000) -> (-1, 1): nearest in z units
    assert list(result["neighbour_id"]) == ["s2", "s0", "s3", "s1"]
    np.testing.assert_allclose(result["distance"][0], np.hypot(0.2, 0.8))


def test_catalog_search_standardises_queries_with_the_catalog():
    codes = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1000.0], [1.0, 1000.0]])
    catalog = latent.catalog_codes(code_table(codes))
    distances, indices = latent.catalog_search(catalog, [[0.1, 600.0]], 4)
    assert list(indices[0]) == [2, 0, 3, 1]
    np.testing.assert_allclose(distances[0, 0], np.hypot(0.2, 0.8))
    # catalog objects as queries: each ranked first, at distance 0
    distances, indices = latent.catalog_search(catalog, catalog.codes[[3, 0]], 2,
                                               self_rows=[3, 0])
    assert list(indices[:, 0]) == [3, 0] and not distances[:, 0].any()


def test_neighbour_table_keeps_metadata_of_any_format():
    table = code_table(LINE)
    table.meta.clear()  # as a FITS table holds it: upper-case keys, JSON text
    table.meta.update({"RUN_ID": "fits-run", "CLASS_NAMES": '["A", "B"]'})
    catalog = latent.catalog_codes(table)
    result = latent.neighbour_table(table, catalog, ["s0"], catalog.codes[[0]], 2,
                                    self_rows=[0])
    assert result.meta["run_id"] == "fits-run"
    assert result.meta["class_names"] == ["A", "B"]
    assert "percentiles" not in result.meta


def test_neighbour_table_rows_and_columns():
    table = code_table(LINE, classes=["A", "A", "B", "C", "C"],
                       anomalous=[False, False, False, True, False])
    catalog = latent.catalog_codes(table)
    rows = latent.explain_missing_ids(table, catalog, ["s3", "s0"])
    result = latent.neighbour_table(table, catalog, ["s3", "s0"], catalog.codes[rows], 2,
                                    self_rows=rows)
    assert result.colnames == ["query_id", "rank", "neighbour_id", "distance",
                               "predicted_class", "energy", "energy_percentile", "anomaly_95"]
    assert list(result["query_id"]) == ["s3", "s3", "s0", "s0"]
    assert list(result["rank"]) == [1, 2, 1, 2]
    assert list(result["neighbour_id"]) == ["s3", "s4", "s0", "s1"]
    assert list(result["predicted_class"]) == ["C", "C", "A", "A"]
    assert list(result["anomaly_95"]) == [True, False, False, False]
    assert list(result["energy"]) == [3.0, 4.0, 0.0, 1.0]
    assert result["distance"][0] == 0.0 and result["distance"][2] == 0.0
    assert result.meta["metric"] == "euclidean" and result.meta["k"] == 2
    assert result.meta["run_id"] == "hand"
    assert result["distance"].description


def test_unknown_and_unscored_ids_are_named():
    table = code_table([[0.0], [1.0], [np.nan]], ids=["a", "b", "c"],
                       status=["ok", "ok", "light-curve file not found"])
    catalog = latent.catalog_codes(table)
    with pytest.raises(InputError) as info:
        latent.explain_missing_ids(table, catalog, ["a", "zz", "c"])
    message = str(info.value)
    assert "'zz' is not in the table" in message
    assert "'c' was not scored (light-curve file not found)" in message
    assert "'a'" not in message


def test_subsample_is_deterministic_and_sorted():
    np.testing.assert_array_equal(latent.subsample(5, 10), np.arange(5))
    first = latent.subsample(1000, 50, seed=3)
    assert len(first) == 50 and len(set(first)) == 50
    assert np.all(np.diff(first) > 0) and first.max() < 1000
    np.testing.assert_array_equal(first, latent.subsample(1000, 50, seed=3))
    assert not np.array_equal(first, latent.subsample(1000, 50, seed=4))


def clusters(n_per=20, seed=0):
    """Three well separated 4-D blobs."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0, 0, 0, 0], [6, 0, 0, 0], [0, 6, 6, 0]], float)
    codes = np.concatenate([c + rng.normal(0, 0.3, (n_per, 4)) for c in centres])
    labels = np.repeat(["A", "B", "C"], n_per)
    return codes, labels


@pytest.mark.parametrize("method", ["tsne", "pca"])
def test_map_coordinates_are_finite_and_seeded(method):
    codes, _ = clusters()
    first = latent.map_coordinates(codes, method=method, seed=0)
    assert first.shape == (len(codes), 2) and np.isfinite(first).all()
    np.testing.assert_array_equal(first, latent.map_coordinates(codes, method=method, seed=0))


def test_tsne_map_keeps_clusters_apart():
    codes, labels = clusters()
    coords = latent.map_coordinates(codes, seed=1)
    centres = {c: coords[labels == c].mean(axis=0) for c in "ABC"}
    spread = max(np.linalg.norm(coords[labels == c] - centres[c], axis=1).max() for c in "ABC")
    gaps = [np.linalg.norm(centres[a] - centres[b]) for a, b in ("AB", "AC", "BC")]
    assert min(gaps) > spread


def test_tiny_catalogs_and_bad_methods():
    assert latent.map_coordinates([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0]]).shape == (3, 2)
    assert np.isfinite(latent.map_coordinates([[0.0], [1.0], [3.0]])).all()
    with pytest.raises(InputError, match="at least 2"):
        latent.map_coordinates([[0.0, 1.0]])
    with pytest.raises(InputError, match="umap"):
        latent.map_coordinates(clusters()[0], method="umap")


def test_catalog_map_subsamples_deterministically():
    codes, labels = clusters(n_per=30)
    anomalous = np.zeros(len(codes), bool)
    anomalous[::7] = True
    table = code_table(codes, classes=labels, anomalous=anomalous)
    full = latent.catalog_map(table, max_objects=1000, seed=0)
    assert len(full.ids) == full.n_catalog == 90
    assert list(full.anomalous) == list(anomalous)
    part = latent.catalog_map(table, max_objects=40, seed=2)
    assert len(part.ids) == 40 and part.n_catalog == 90 and np.isfinite(part.coords).all()
    again = latent.catalog_map(table, max_objects=40, seed=2)
    assert list(part.ids) == list(again.ids)
    np.testing.assert_array_equal(part.coords, again.coords)
    rows = [int(i[1:]) for i in part.ids]  # the ids are s<row>
    assert list(part.classes) == list(labels[rows])
    assert list(part.anomalous) == list(anomalous[rows])
    assert part.to_table().colnames == ["id", "x", "y", "predicted_class", "anomalous"]


def test_catalog_map_needs_the_anomaly_column():
    table = code_table(clusters()[0])
    with pytest.raises(InputError, match="anomaly percentiles in it: 95"):
        latent.catalog_map(table, percentile=99)


def test_plot_map_writes_png_and_pdf(tmp_path):
    from matplotlib.image import imread
    codes, labels = clusters()
    coords = latent.map_coordinates(codes, method="pca")
    anomalous = np.zeros(len(codes), bool)
    anomalous[:3] = True
    paths = latent.plot_map(coords, labels, anomalous, str(tmp_path / "map"),
                            class_order=["C", "B", "A"], anomaly_label="anomaly_95",
                            title="test")
    assert paths == [str(tmp_path / "map.png"), str(tmp_path / "map.pdf")]
    image = imread(paths[0])
    assert image.ndim == 3 and image.std() > 0.01
    assert (tmp_path / "map.pdf").read_bytes().startswith(b"%PDF")


def test_map_stem():
    assert latent.map_stem("out/map.png") == "out/map"
    assert latent.map_stem("out/map.PDF") == "out/map"
    assert latent.map_stem("out/map") == "out/map"
    assert latent.map_stem("out/map.v2") == "out/map.v2"
