"""The package's shape: installable packages, layers that point down, the module map.

The layers themselves are import-linter contracts in ``.importlinter``; this
runs the checker so a new upward import or cycle fails the suite, and checks
what the checker cannot see (missing ``__init__.py``, imports of the package
root, docs/DESIGN.md out of step with the tree).
"""

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import setuptools

from helpers import REPO_ROOT

PACKAGE = REPO_ROOT / "rnngmm"


def _modules():
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def test_import_linter_contracts_are_kept():
    linter = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(linter), "--config", str(REPO_ROOT / ".importlinter")],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_every_package_directory_is_found_by_setuptools():
    directories = {p.parent for p in _modules()}
    missing = sorted(str(d.relative_to(REPO_ROOT)) for d in directories
                     if not (d / "__init__.py").is_file())
    assert not missing, f"directories without __init__.py (left out of the wheel): {missing}"
    found = set(setuptools.find_packages(str(REPO_ROOT), include=["rnngmm", "rnngmm.*"]))
    expected = {".".join(d.relative_to(REPO_ROOT).parts) for d in directories}
    assert expected <= found, sorted(expected - found)


def test_no_module_imports_the_package_root():
    """``rnngmm/__init__.py`` is the user's entry point; modules import what they need
    from its home (the version from ``rnngmm._version``), so there is no circle."""
    offenders = []
    for path in _modules():
        if path.name == "__init__.py" and path.parent == PACKAGE:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "rnngmm" and node.level == 0:
                names = [a.name for a in node.names
                         if not (PACKAGE / a.name).is_dir()
                         and not (PACKAGE / f"{a.name}.py").is_file()]
                if names:
                    offenders.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno} {names}")
            elif isinstance(node, ast.Import) and any(a.name == "rnngmm" for a in node.names):
                offenders.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno} import rnngmm")
            elif isinstance(node, ast.ImportFrom) and node.level:
                offenders.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno} relative import")
    assert not offenders, offenders


def _module_map():
    """Paths (relative to the repository) named in docs/DESIGN.md's module map."""
    text = (REPO_ROOT / "docs" / "DESIGN.md").read_text()
    block = re.search(r"## Module map\n+```\n(.*?)```", text, re.S)
    assert block, "docs/DESIGN.md has no '## Module map' code block"
    stack, paths = [], set()
    for line in block.group(1).splitlines():
        match = re.match(r"( *)((?:[\w.]+\.py )*[\w.]+(?:/|\.py))(\s|$)", line)
        if not match:
            continue
        depth = len(match.group(1)) // 2
        names = match.group(2).split()
        if names[0].endswith("/"):
            stack = stack[:depth] + [names[0].rstrip("/")]
            continue
        for name in names:  # several modules of one kind may share a line
            paths.add(os.path.join(*stack[:depth], name))
    return paths


def test_design_module_map_matches_the_tree():
    def counted(path):  # a subpackage's __init__.py may be documented or not
        return path.startswith("rnngmm") and (
            not path.endswith("__init__.py") or path == "rnngmm/__init__.py")
    documented = {p for p in _module_map() if counted(p)}
    actual = {p for p in (str(m.relative_to(REPO_ROOT)) for m in _modules()) if counted(p)}
    assert not actual - documented, f"modules missing from docs/DESIGN.md: {sorted(actual - documented)}"
    assert not documented - actual, f"docs/DESIGN.md names modules that do not exist: {sorted(documented - actual)}"
