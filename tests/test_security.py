"""Issue 7, security: nothing in the package can execute data, and catalog
ids cannot reach files outside the light-curve directory.

1. A static scan (``ast``) of every module of ``rnngmm/`` fails on pickle-like
   loaders (pickle, cPickle, dill, joblib, marshal, shelve, cloudpickle),
   ``eval``/``exec``/``__import__``, ``yaml.load``/``unsafe_load``,
   ``allow_pickle=True``, ``torch.load`` and Keras ``safe_mode=False``.
2. Catalog ids such as ``../secret``, ``/abs/path``, ``..`` or a symlink
   pointing out of the directory are rejected per object ("unsafe object id"
   / "would lie outside") by ``prepare`` and ``flag``, and the outside file's
   photometry never reaches the outputs.
"""

import ast

import numpy as np
import pytest
from astropy.table import Table

from helpers import REPO_ROOT, run_cli
from rnngmm.flagging.table import read_table
from rnngmm.io.dataset import Dataset
from rnngmm.prepare import rejects_path

PACKAGE = REPO_ROOT / "rnngmm"
FORBIDDEN_MODULES = {"pickle", "cPickle", "_pickle", "dill", "joblib", "marshal", "shelve",
                     "cloudpickle"}
FORBIDDEN_NAMES = {"eval", "exec", "__import__"}
FORBIDDEN_ATTRIBUTE_CALLS = {("yaml", "load"), ("yaml", "unsafe_load"),
                             ("yaml", "full_load"), ("torch", "load")}


def find_problems(source, filename="<string>"):
    """Forbidden constructs in ``source``: list of ``"file:line: what"``."""
    tree = ast.parse(source, filename)
    problems = []

    def report(node, what):
        problems.append(f"{filename}:{node.lineno}: {what}")

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in FORBIDDEN_MODULES:
                    report(node, f"import {alias.name}")
        elif isinstance(node, ast.ImportFrom):
            if node.module and node.module.split(".")[0] in FORBIDDEN_MODULES:
                report(node, f"from {node.module} import ...")
            for alias in node.names:
                if alias.name in FORBIDDEN_NAMES:
                    report(node, f"import of {alias.name}")
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in FORBIDDEN_NAMES:
                report(node, f"call of {func.id}()")
            if (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                    and (func.value.id, func.attr) in FORBIDDEN_ATTRIBUTE_CALLS):
                report(node, f"call of {func.value.id}.{func.attr}()")
            if (isinstance(func, ast.Attribute) and func.attr in FORBIDDEN_NAMES
                    and isinstance(func.value, ast.Name) and func.value.id == "builtins"):
                report(node, f"call of builtins.{func.attr}()")
            for keyword in node.keywords:
                value = keyword.value
                if (keyword.arg == "allow_pickle" and not
                        (isinstance(value, ast.Constant) and value.value is False)):
                    report(node, "allow_pickle not False")
                if (keyword.arg == "safe_mode" and not
                        (isinstance(value, ast.Constant) and value.value is True)):
                    report(node, "keras safe_mode not True")
        elif isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES:
            report(node, f"reference to {node.id}")
    return problems


def test_scanner_catches_each_forbidden_construct():
    samples = ["import pickle", "import joblib as jl", "from dill import loads",
               "import marshal", "eval('1')", "exec('x=1')", "f = eval",
               "yaml.load(text)", "np.load(p, allow_pickle=True)", "torch.load(p)",
               "keras.saving.load_model(p, safe_mode=False)", "__import__('os')",
               "import _pickle", "np.load(p, allow_pickle=flag)"]
    for sample in samples:
        assert find_problems(sample), f"scanner missed: {sample}"
    clean = ["model.compile(optimizer='adam')", "np.load(p)", "np.load(p, allow_pickle=False)",
             "json.loads(text)", "yaml.safe_load(text)", "keras.saving.load_model(p)",
             "x.evaluate(y)"]
    for sample in clean:
        assert not find_problems(sample), f"false alarm: {sample}"


def test_package_has_no_pickle_eval_exec_or_unsafe_loaders():
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 30, f"package not found at {PACKAGE}"
    problems = []
    for path in files:
        problems += find_problems(path.read_text(encoding="utf-8"),
                                  str(path.relative_to(REPO_ROOT)))
    assert not problems, "unsafe constructs in the package:\n" + "\n".join(problems)


SECRET_MAGS = 11.111


@pytest.fixture(scope="module")
def escape_case(tmp_path_factory):
    """A light-curve dir inside ``root`` and a valid-looking secret file next to it."""
    root = tmp_path_factory.mktemp("escape")
    lc = root / "data" / "lc"
    lc.mkdir(parents=True)
    rng = np.random.default_rng(0)
    time = 53000 + np.sort(rng.uniform(0, 500, 60))

    def curve(mean):
        mag = mean + 0.3 * np.sin(2 * np.pi * time / 0.8)
        return "".join(f"{t!r} {m!r} 0.02\n" for t, m in zip(time.tolist(), mag.tolist()))

    (lc / "good.dat").write_text(curve(15.0))
    secret = root / "data" / "secret.dat"
    secret.write_text(curve(SECRET_MAGS))
    (root / "secret.dat").write_text(curve(SECRET_MAGS))
    (lc / "link.dat").symlink_to(secret)
    (lc / "sub").mkdir()
    (lc / "sub" / "inner.dat").write_text(curve(15.0))
    evil = ["../secret", "../../secret", str(secret.with_suffix("")), "/etc/passwd", "..",
            ".", "sub/../../secret", "link", "sub/inner", "..\\secret", "%2e%2e/secret"]
    catalog = root / "catalog.csv"
    catalog.write_text("id,period\ngood,0.8\n" + "".join(f"{e},0.8\n" for e in evil))
    return catalog, lc, ["good"] + evil


def test_prepare_keeps_catalog_ids_inside_the_directory(escape_case, tmp_path):
    catalog, lc, ids = escape_case
    out = tmp_path / "d.h5"
    assert run_cli("prepare", "--catalog", catalog, "--lightcurves", lc, "--format", "crts",
                   "--period_col", "period", "--output", out) == 0
    with Dataset(out) as data:
        assert list(data.ids) == ["good"]
        assert not np.any(np.isclose(data.lightcurve(0)[1].mean(), SECRET_MAGS, atol=0.5))
    rejects = Table.read(rejects_path(out), format="ascii.ecsv")
    reasons = dict(zip(rejects["id"], rejects["reason"]))
    assert sorted(reasons) == sorted(ids[1:])
    for object_id, reason in reasons.items():
        assert reason.startswith(("unsafe object id", "file of object id")), (object_id, reason)
    assert "outside" in reasons["link"]


@pytest.mark.slow
def test_flag_keeps_catalog_ids_inside_the_directory(escape_case, tiny_run_dir,
                                                     tmp_path):
    catalog, lc, ids = escape_case
    out = tmp_path / "flags.ecsv"
    assert run_cli("flag", "--run_dir", tiny_run_dir, "--catalog", catalog, "--lightcurves", lc,
                   "--format", "crts", "--output", out, "--progress_interval", "0") == 0
    table = read_table(str(out))
    assert list(table["id"]) == ids
    status = dict(zip(table["id"], table["status"]))
    assert status["good"] == "ok"
    for object_id in ids[1:]:
        assert status[object_id].startswith(("unsafe object id", "file of object id")), \
            (object_id, status[object_id])
    assert np.sum(np.asarray(table["status"]) == "ok") == 1
