"""``rnngmm embed``, ``similar`` and ``map`` end to end with the tiny trained run."""

import numpy as np
import pytest

from flagging_helpers import flag_args
from helpers import mpirun, run_cli
from rnngmm.flagging.output import write_table
from rnngmm.flagging.table import read_table

pytestmark = pytest.mark.slow

K = 5


def embed_args(run_dir, catalog, out, *extra):
    """``flag_args`` with the command ``embed`` (the same flags)."""
    args = list(flag_args(run_dir, catalog, out, *extra))
    assert args[0] == "flag"
    return ("embed", *args[1:])


@pytest.fixture(scope="module")
def embedded(tiny_run_dir, new_catalog, tmp_path_factory):
    """The ECSV table ``rnngmm embed`` writes for the new catalog."""
    out = tmp_path_factory.mktemp("embed") / "codes.ecsv"
    assert run_cli(*embed_args(tiny_run_dir, new_catalog, out)) == 0
    return out


def scored_ids(table):
    return [i for i, s in zip(table["id"], table["status"]) if s == "ok"]


def test_embed_writes_the_flag_table_with_codes(embedded, new_catalog):
    table = read_table(str(embedded))
    assert list(table["id"]) == new_catalog[2]
    codes = [f"code_{k}" for k in range(4)]  # the tiny model's embedding
    assert all(c in table.colnames for c in codes)
    assert not any(c.startswith("code_") for c in table.colnames if c not in codes)
    for name in ("status", "predicted_class", "energy", "anomaly_95", "mean_mag", "class"):
        assert name in table.colnames
    ok = np.asarray(table["status"]) == "ok"
    assert ok.sum() > 40
    values = np.column_stack([np.asarray(table[c], float) for c in codes])
    assert np.isfinite(values[ok]).all() and np.isnan(values[~ok]).all()
    assert table.meta["run_id"] == "tiny"


def test_embed_help_hides_with_code(capsys):
    with pytest.raises(SystemExit):
        run_cli("embed", "--help")
    text = capsys.readouterr().out
    options = text.split("options:")[1]
    assert "--with_code" not in options and "--catalog" in options and "code_0" in options


def test_similar_ids_find_themselves_first(embedded, tmp_path):
    table = read_table(str(embedded))
    ids = scored_ids(table)[:3]
    out = tmp_path / "neighbours.ecsv"
    assert run_cli("similar", "--table", embedded, "--ids", *ids, "--k", K,
                   "--output", out) == 0
    result = read_table(str(out))
    assert len(result) == K * len(ids)
    for name in ("query_id", "rank", "neighbour_id", "distance", "predicted_class",
                 "energy", "anomaly_80", "anomaly_95", "anomaly_99"):
        assert name in result.colnames, name
    by_id = {}
    for row, object_id in enumerate(table["id"]):  # the catalog repeats one id
        by_id.setdefault(object_id, row)
    for q, object_id in enumerate(ids):
        rows = result[q * K:(q + 1) * K]
        assert set(rows["query_id"]) == {object_id}
        assert list(rows["rank"]) == list(range(1, K + 1))
        assert rows["neighbour_id"][0] == object_id and rows["distance"][0] == 0.0
        assert np.all(np.diff(np.asarray(rows["distance"])) >= 0)
        assert len(set(rows["neighbour_id"])) == K
        for row in rows:  # neighbour columns are copied from the neighbour's row
            source = table[by_id[row["neighbour_id"]]]
            assert source["status"] == "ok"
            assert row["predicted_class"] == source["predicted_class"]
            assert row["energy"] == pytest.approx(source["energy"])
            assert row["anomaly_95"] == source["anomaly_95"]


def test_similar_prints_without_output(embedded, capsys):
    object_id = scored_ids(read_table(str(embedded)))[0]
    assert run_cli("similar", "--table", embedded, "--ids", object_id, "--k", 2) == 0
    text = capsys.readouterr().out
    assert "neighbour_id" in text and text.count(object_id) >= 2


def test_similar_to_a_light_curve_file(embedded, new_catalog, tiny_run_dir,
                                       tmp_path):
    from astropy.table import Table
    catalog = Table.read(str(new_catalog[0]), format="ascii.csv")
    table = read_table(str(embedded))
    object_id = scored_ids(table)[4]
    period = float(catalog["period"][list(catalog["id"].astype(str)).index(object_id)])
    out = tmp_path / "neighbours.csv"
    code = run_cli("similar", "--table", embedded, "--lightcurve",
                   new_catalog[1] / f"{object_id}.csv", "--format", "asassn",
                   "--filter", "V", "--period", period, "--run_dir", tiny_run_dir,
                   "--k", 3, "--output", out)
    assert code == 0
    result = read_table(str(out))
    assert len(result) == 3 and set(result["query_id"]) == {object_id}
    # the same light curve, embedded by the API: its own catalog row is nearest
    assert result["neighbour_id"][0] == object_id
    assert result["distance"][0] < 1e-3


@pytest.mark.parametrize("args, message", [
    (("--ids", "no_such_star"), "'no_such_star' was not scored (light-curve file not found"),
    (("--ids", "nowhere"), "'nowhere' is not in the table"),
    (("--ids", "{ok}", "--k", "100000"), "is larger than the"),
    (("--ids", "{ok}", "--k", "0"), "--k must be at least 1"),
    ((), "give --ids and/or --lightcurve"),
    (("--lightcurve", "missing.csv"), "does not exist"),
])
def test_similar_errors(embedded, capsys, args, message):
    ok = scored_ids(read_table(str(embedded)))[0]
    args = [a.format(ok=ok) for a in args]
    assert run_cli("similar", "--table", embedded, *args) == 2
    assert message in capsys.readouterr().err


def test_similar_and_map_need_codes(embedded, tmp_path, capsys):
    table = read_table(str(embedded))
    table.remove_columns([c for c in table.colnames if c.startswith("code_")])
    plain = tmp_path / "flags.ecsv"
    write_table(table, str(plain))
    assert run_cli("similar", "--table", plain, "--ids", scored_ids(table)[0]) == 2
    assert "rnngmm flag --with_code" in capsys.readouterr().err
    assert run_cli("map", "--table", plain, "--output", tmp_path / "map.png") == 2
    assert "rnngmm flag --with_code" in capsys.readouterr().err


def test_map_writes_png_and_pdf(embedded, tmp_path):
    from matplotlib.image import imread
    out = tmp_path / "map.png"
    coords = tmp_path / "map.ecsv"
    assert run_cli("map", "--table", embedded, "--output", out, "--percentile", "80",
                   "--coordinates", coords) == 0
    pdf = tmp_path / "map.pdf"
    assert out.is_file() and pdf.is_file()
    image = imread(str(out))
    assert image.ndim == 3 and image.std() > 0.01 and len(np.unique(image.reshape(-1, 4),
                                                                    axis=0)) > 10
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 1000
    table = read_table(str(coords))
    flags = read_table(str(embedded))
    assert list(table["id"]) == scored_ids(flags)
    xy = np.column_stack([np.asarray(table["x"]), np.asarray(table["y"])])
    assert np.isfinite(xy).all() and xy.std(axis=0).min() > 0


def test_map_subsample_is_seeded(embedded, tmp_path, capsys):
    first, second = tmp_path / "a.ecsv", tmp_path / "b.ecsv"
    for coords in (first, second):
        assert run_cli("map", "--table", embedded, "--output", tmp_path / "m",
                       "--max_objects", 20, "--seed", 3, "--method", "pca",
                       "--coordinates", coords) == 0
    assert "20 of" in capsys.readouterr().out
    a, b = read_table(str(first)), read_table(str(second))
    assert len(a) == 20 and list(a["id"]) == list(b["id"])
    np.testing.assert_array_equal(np.asarray(a["x"]), np.asarray(b["x"]))
    assert (tmp_path / "m.png").is_file() and (tmp_path / "m.pdf").is_file()


def test_map_unknown_percentile(embedded, tmp_path, capsys):
    assert run_cli("map", "--table", embedded, "--output", tmp_path / "m.png",
                   "--percentile", "90") == 2
    assert "anomaly percentiles in it: 80, 95, 99" in capsys.readouterr().err


@pytest.mark.mpi
def test_embed_under_mpirun_equals_one_rank(embedded, tiny_run_dir, new_catalog,
                                            tmp_path):
    double = tmp_path / "double.ecsv"
    result = mpirun(2, "-m", "rnngmm.cli", *embed_args(tiny_run_dir, new_catalog, double),
                    timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    one, two = read_table(str(embedded)), read_table(str(double))
    assert two.meta["n_ranks"] == 2 and one.meta["n_ranks"] == 1
    assert one.colnames == two.colnames and "code_0" in one.colnames
    for name in one.colnames:
        np.testing.assert_array_equal(np.asarray(two[name]), np.asarray(one[name]),
                                      err_msg=name)
