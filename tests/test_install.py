"""A built wheel works outside the checkout (what a cluster install gets).

The editable install of ``scripts/setup.sh`` would hide a package left out of
the wheel, so this builds the wheel, installs it with ``--no-deps`` into a
fresh virtualenv that sees the project environment's libraries (TensorFlow
and horovod are not rebuilt), and from a directory outside the checkout runs
``rnngmm --help``, ``rnngmm flag`` with the shipped pretrained model on a few
simulated stars, and ``rnngmm.load_run(...).predict(...)``.
"""

import os
import site
import subprocess
import sys
import sysconfig
import zipfile

import pytest

from helpers import REPO_ROOT

pytestmark = pytest.mark.slow


def _run(args, **kwargs):
    result = subprocess.run(args, capture_output=True, text=True, timeout=900, **kwargs)
    assert result.returncode == 0, (f"{args} exited {result.returncode}\n"
                                    f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory):
    """(python, rnngmm script, work dir) of a venv holding only the built wheel."""
    root = tmp_path_factory.mktemp("wheel")
    dist = root / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
          "-q", "-w", str(dist), str(REPO_ROOT)])
    wheels = list(dist.glob("rnngmm-*.whl"))
    assert len(wheels) == 1, wheels
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    purelib = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
                   ).stdout.strip()
    # The project environment's libraries, appended AFTER the new venv's own
    # site-packages; a plain path line does not run the editable finder's .pth.
    project_sites = [p for p in site.getsitepackages() + [sysconfig.get_paths()["purelib"]]
                     if os.path.isdir(p)]
    with open(os.path.join(purelib, "project_env.pth"), "w") as f:
        f.write("\n".join(dict.fromkeys(project_sites)) + "\n")
    # pip of the project environment installs into the new venv (pip >= 22.3)
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
          "-q", str(wheels[0])])
    work = root / "outside"
    work.mkdir()
    return python, venv / "bin" / "rnngmm", work, wheels[0]


def test_wheel_holds_every_package(wheel_venv):
    *_, wheel = wheel_venv
    names = zipfile.ZipFile(wheel).namelist()
    packages = {os.path.dirname(n) for n in names if n.endswith("__init__.py")}
    for directory, _, files in os.walk(REPO_ROOT / "rnngmm"):
        if "__init__.py" in files:
            relative = os.path.relpath(directory, REPO_ROOT)
            assert relative in packages, f"{relative} is missing from {wheel.name}"


def test_installed_package_is_the_wheel_not_the_checkout(wheel_venv):
    python, _, work, _ = wheel_venv
    where = _run([str(python), "-c", "import rnngmm, rnngmm.training.driver as d; "
                  "print(rnngmm.__file__); print(d.__file__)"], cwd=work).stdout
    assert str(REPO_ROOT) not in where, where
    assert "site-packages" in where


def test_cli_help_and_flag_with_the_pretrained_model(wheel_venv):
    python, script, work, _ = wheel_venv
    assert "flag" in _run([str(script), "--help"], cwd=work).stdout
    _run([str(script), "simulate", "--output", "sample", "--n_per_class", "1",
          "--n_novel", "1", "--seed", "3"], cwd=work)
    _run([str(script), "flag", "--run_dir", str(REPO_ROOT / "pretrained" / "crts8-v1"),
          "--catalog", "sample/catalog.csv", "--lightcurves", "sample/lightcurves",
          "--format", "asassn", "--filter", "V", "--output", "flags.ecsv"], cwd=work)
    from astropy.table import Table
    flags = Table.read(work / "flags.ecsv", format="ascii.ecsv")
    catalog = Table.read(work / "sample" / "catalog.csv", format="ascii.csv")
    assert list(flags["id"]) == [str(i) for i in catalog["id"]]
    assert (flags["status"] == "ok").sum() >= len(flags) - 1


def test_load_run_predict_from_the_wheel(wheel_venv):
    python, _, work, _ = wheel_venv
    code = (
        "import numpy as np, rnngmm\n"
        f"run = rnngmm.load_run({str(REPO_ROOT / 'pretrained' / 'crts8-v1')!r})\n"
        "t = np.sort(np.random.default_rng(0).uniform(0, 1500, 200))\n"
        "m = 15 + 0.4 * np.sin(2 * np.pi * t / 0.55)\n"
        "table = run.predict(t, m, np.full_like(t, 0.05), period=0.55)\n"
        "print(table['status'][0], table['predicted_class'][0])\n")
    out = _run([str(python), "-c", code], cwd=work).stdout.split()
    assert out[0] == "ok", out
