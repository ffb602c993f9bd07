"""Helpers shared by tests: run the real CLI in-process or under mpirun."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args):
    """Run ``rnngmm ARGS`` in this process; returns the exit code."""
    from rnngmm.cli import main
    return main([str(a) for a in args])


def run_cli_subprocess(*args, timeout=600, env=None):
    """Run ``python -m rnngmm.cli ARGS`` in a fresh process; returns CompletedProcess."""
    return subprocess.run([sys.executable, "-m", "rnngmm.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout,
                          cwd=REPO_ROOT, env=env)


def mpirun(n, *args, timeout=600):
    """Run ``mpirun -np n python ARGS`` (e.g. ``"-m", "rnngmm.cli", ...``).

    Skips the calling test when mpirun or mpi4py is missing. Returns the
    CompletedProcess (stdout/stderr as text).
    """
    launcher = shutil.which("mpirun")
    if launcher is None:
        pytest.skip("mpirun not found (install openmpi-bin)")
    pytest.importorskip("mpi4py")
    env = dict(os.environ, OMPI_MCA_rmaps_base_oversubscribe="1")
    command = [launcher, "--allow-run-as-root", "--oversubscribe", "-np", str(n),
               sys.executable, *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          cwd=REPO_ROOT, env=env)


def crts_dir():
    """Directory of the real CRTS data (``RNNGMM_CRTS_DIR`` or ``../shared/data/crts``)."""
    return Path(os.environ.get("RNNGMM_CRTS_DIR",
                               REPO_ROOT.parent / "shared" / "data" / "crts"))
