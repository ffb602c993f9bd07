"""The Python API: rnngmm.load_run(...).predict / .embed give flag's results."""

import re
import subprocess
import sys

import numpy as np
import pytest
from astropy.table import Table, vstack

from helpers import REPO_ROOT, run_cli
from rnngmm.errors import InputError
from rnngmm.flagging.table import read_table
from rnngmm.io.readers import read_lightcurve

pytestmark = pytest.mark.slow

IDS = ("ASASSN-SIM-00001", "ASASSN-SIM-00002", "ASASSN-SIM-00003")


def light_curves(small_sample):
    """(time, mag, err) of a few simulated objects, read as flag reads them."""
    directory = small_sample / "lightcurves"
    return [read_lightcurve(directory / f"{object_id}.csv", "asassn", filter="V")
            for object_id in IDS]


def test_readme_example_runs(tiny_run_dir, small_sample, tmp_path):
    """The README's Python example, run as written with its two paths filled in."""
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme[readme.index("## Python API"):]
    code = section[section.index("```python") + len("```python"):]
    code = code[:code.index("```")]
    assert len(code.strip().splitlines()) <= 10
    code = code.replace("keras_logs/demo/joint_small", str(tiny_run_dir)).replace(
        "demo_output/asassn/lightcurves", str(small_sample / "lightcurves"))
    script = tmp_path / "example.py"
    script.write_text(code)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "predicted_class" in done.stdout and "(1, 4)" in done.stdout


def test_predict_equals_flag_rows(tiny_run_dir, small_sample, tmp_path):
    """Same objects, same periods: identical result columns from the API and flag."""
    catalog = Table.read(small_sample / "catalog.csv")
    catalog = catalog[np.isin(catalog["id"].astype(str), IDS)]
    catalog.write(tmp_path / "catalog.csv")
    out = tmp_path / "flags.ecsv"
    assert run_cli("flag", "--run_dir", tiny_run_dir, "--catalog", tmp_path / "catalog.csv",
                   "--lightcurves", small_sample / "lightcurves", "--format", "asassn",
                   "--filter", "V", "--output", out, "--progress_interval", "0") == 0
    flagged = read_table(str(out))
    periods = {str(i): float(p) for i, p in zip(catalog["id"], catalog["period"])}
    import rnngmm
    run = rnngmm.load_run(tiny_run_dir)
    tables = []
    for object_id, (time, mag, err) in zip(IDS, light_curves(small_sample)):
        tables.append(Table({"id": [object_id] * len(time), "time": time, "mag": mag,
                             "err": err, "period": [periods[object_id]] * len(time)}))
    predicted = run.predict(vstack(tables))
    order = [list(flagged["id"]).index(i) for i in predicted["id"]]
    for name in predicted.colnames[1:]:
        expected = np.asarray(flagged[name])[order]
        if expected.dtype.kind == "f":
            np.testing.assert_allclose(np.asarray(predicted[name], float), expected,
                                       rtol=1e-5, atol=1e-6, err_msg=name)
        else:
            assert list(np.asarray(predicted[name])) == list(expected), name


def test_timeseries_and_tuple_inputs_and_bad_rows(tiny_run_dir, small_sample):
    from astropy.time import Time
    from astropy.timeseries import TimeSeries
    import rnngmm
    run = rnngmm.load_run(tiny_run_dir)
    time, mag, err = light_curves(small_sample)[1]
    series = TimeSeries(time=Time(time, format="mjd"), data={"mag": mag, "err": err})
    from_series = run.predict(series)
    from_arrays = run.predict(time, mag, err)
    np.testing.assert_allclose(from_series["energy"], from_arrays["energy"], rtol=1e-6)
    short = (time[:3], mag[:3], err[:3])
    both = run.predict([(time, mag, err), short], ids=["good", "short"])
    assert list(both["status"])[0] == "ok"
    assert both["status"][1].startswith("too few points") and not both["anomaly_95"][1]
    codes = run.embed([(time, mag, err), short])
    assert np.isfinite(codes[0]).all() and np.isnan(codes[1]).all()
    with pytest.raises(InputError, match="err is required"):
        run.predict(time, mag)


def run_with_score(tmp_path, score):
    """A copy of the shipped run whose mixture uses novelty score ``score``."""
    import shutil

    import h5py
    run_dir = tmp_path / f"run_{score}"
    shutil.copytree(REPO_ROOT / "pretrained" / "crts8-v1", run_dir)
    with h5py.File(run_dir / "gmm.h5", "r+") as handle:
        handle.attrs["novelty_score"] = score
    return run_dir


@pytest.mark.parametrize("score", ["class_energy_msp", "class_energy", "energy"])
def test_descriptions_name_the_runs_novelty_score(small_sample, tmp_path, score):
    """predict and flag describe energy_percentile and anomaly_<p> by the run's
    own score (runs default to class_energy_msp, not class_energy)."""
    import rnngmm
    from rnngmm.novelty.mixture import NOVELTY_SCORES
    assert score in NOVELTY_SCORES
    run_dir = run_with_score(tmp_path, score)
    # the other scores by name ("energy" alone is also a plain word)
    others = [s for s in NOVELTY_SCORES if s != score and "_" in s]
    table = rnngmm.load_run(run_dir).predict(light_curves(small_sample), ids=IDS)
    catalog = Table.read(small_sample / "catalog.csv")
    catalog[np.isin(catalog["id"].astype(str), IDS)].write(tmp_path / "catalog.csv")
    out = tmp_path / "flags.ecsv"
    assert run_cli("flag", "--run_dir", run_dir, "--catalog", tmp_path / "catalog.csv",
                   "--lightcurves", small_sample / "lightcurves", "--format", "asassn",
                   "--filter", "V", "--output", out, "--progress_interval", "0") == 0
    for result in (table, read_table(str(out))):
        for name in ("energy_percentile", "anomaly_95"):
            description = result[name].description
            assert re.search(rf"\b{score}\b", description), (name, description)
            assert not any(re.search(rf"\b{o}\b", description) for o in others), description
            assert "default" not in description
        same_class = "predicted as the same class" in result["energy_percentile"].description
        assert same_class == (score != "energy")
