"""``rnngmm report`` end to end with the tiny trained run and a flagged catalog."""

import re

import numpy as np
import pytest

from flagging_helpers import flag_args
from helpers import run_cli
from rnngmm.flagging.table import read_table

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def flagged(tiny_run_dir, new_catalog, tmp_path_factory):
    """The ECSV table ``rnngmm flag --with_code`` writes for the new catalog."""
    out = tmp_path_factory.mktemp("report_flags") / "flags.ecsv"
    assert run_cli(*flag_args(tiny_run_dir, new_catalog, out, "--with_code")) == 0
    return out


def source_args(catalog):
    """The light-curve flags ``flag_args`` gives ``rnngmm flag``."""
    path, lc_dir, _ = catalog
    return ("--catalog", path, "--lightcurves", lc_dir, "--format", "asassn", "--filter", "V")


def pdf_pages(path):
    return len(re.findall(rb"/Type\s*/Page\b", path.read_bytes()))


def assert_not_blank(path, min_height=500):
    import matplotlib.image
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] >= min_height and image.shape[1] >= 800
    rgb = image[..., :3]
    assert rgb.std() > 0.02  # drawn, not one flat colour
    assert (rgb.min(axis=-1) < 0.3).mean() > 0.002  # dark ink: points, text, axes


def test_top_three_make_a_three_page_pdf_and_three_pngs(flagged, new_catalog,
                                                        tmp_path):
    out = tmp_path / "report.pdf"
    assert run_cli("report", "--table", flagged, *source_args(new_catalog), "--n", 3,
                   "--output", out) == 0
    assert out.read_bytes().startswith(b"%PDF") and pdf_pages(out) == 3
    pngs = sorted(p.name for p in tmp_path.glob("report_*.png"))
    assert pngs == ["report_001.png", "report_002.png", "report_003.png"]
    for name in pngs:
        assert_not_blank(tmp_path / name)
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]


def test_pages_hold_the_reconstruction_of_the_points_flag_scored(flagged, new_catalog,
                                                                  tiny_run_dir):
    from rnngmm.report.job import (ReportConfig, collect_objects, open_source,
                                       select_rows)
    from rnngmm.rundir import load_run
    table = read_table(str(flagged))
    rows = select_rows(table, n=3)
    # ranked by the score the flags use (the run's novelty score), not the energy
    score = np.asarray(table["novelty_score"], float)[rows]
    assert np.all(np.diff(score) <= 0)
    ok = np.asarray(table["status"]) == "ok"
    assert score[0] == np.nanmax(np.where(ok, np.asarray(table["novelty_score"], float),
                                          np.nan))
    path, lc_dir, _ = new_catalog
    config = ReportConfig(table=str(flagged), catalog=str(path), lightcurves=str(lc_dir),
                          filter="V")
    run = load_run(tiny_run_dir)
    source = open_source(config, str(tiny_run_dir))
    objects = collect_objects(table, rows, run, source=source, k=3)
    source.close()
    for obj, row in zip(objects, rows):
        assert obj.problem is None and not obj.notes, (obj.problem, obj.notes)
        assert obj.period == pytest.approx(float(table["period"][row]), rel=1e-9)
        assert len(obj.reconstruction) == int(table["n_chunks"][row])
        covered = np.concatenate([c.position for c in obj.reconstruction])
        # every cleaned point is in a chunk, at its own epoch (run trained unfolded)
        assert not run.chunking.period_fold
        nearest = np.abs(obj.time[:, None] - covered[None, :]).min(axis=1)
        assert nearest.max() < 1e-3
        for chunk in obj.reconstruction:
            assert np.isfinite(chunk.reconstruction).all()
            assert len(chunk.reconstruction) == len(chunk.position) == len(chunk.mag)
            # magnitudes of the decoder: around the chunk's magnitudes, not standardised
            assert abs(np.mean(chunk.reconstruction) - np.mean(chunk.mag)) < 5 * np.std(
                chunk.mag) + 0.5
        assert len(obj.neighbours) == 3
        assert all(n.object_id != obj.object_id and n.distance >= 0 for n in obj.neighbours)
        assert [n.distance for n in obj.neighbours] == sorted(n.distance for n in obj.neighbours)


def test_ids_with_the_recorded_inputs_make_one_png_sheet(flagged, tmp_path):
    table = read_table(str(flagged))
    ids = [i for i, s in zip(table["id"], table["status"]) if s == "ok"][:2]
    out = tmp_path / "sheet.png"
    # no light-curve flags: the inputs recorded in the table are read again;
    # an object whose file is missing still gets its part of the sheet
    assert run_cli("report", "--table", flagged, "--ids", *ids, "no_such_star",
                   "--output", out) == 0
    assert_not_blank(out, min_height=3 * 800)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sheet.png"]


def test_an_unknown_id_is_named_and_exits_2(flagged, new_catalog, tmp_path, capsys):
    known = str(read_table(str(flagged))["id"][0])
    out = tmp_path / "report.pdf"
    code = run_cli("report", "--table", flagged, *source_args(new_catalog),
                   "--ids", known, "no_such_object_42", "--output", out)
    assert code == 2
    err = capsys.readouterr().err
    assert "no_such_object_42" in err and "rnngmm report: error" in err
    assert repr(known) not in err
    assert not out.exists()


def test_bad_flags_are_refused_before_any_work(flagged, tmp_path, capsys):
    assert run_cli("report", "--table", flagged, "--output", tmp_path / "r.jpg") == 2
    assert "--output must end in .pdf or .png" in capsys.readouterr().err
    assert run_cli("report", "--table", tmp_path / "none.ecsv") == 2
    assert "does not exist" in capsys.readouterr().err
