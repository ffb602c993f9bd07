"""The batch scripts in ``slurm/``, submitted to a real one-node SLURM cluster.

A session-scoped fixture starts munged, slurmctld and slurmd on this machine
(``tests/slurm_cluster.py``) and stops them afterwards, also when a test fails.
Where SLURM cannot run (not root, packages missing) the tests skip with the
reason; with ``CI=true`` that is a failure instead.

The scripts request GPUs (``--gres=gpu:N``) and several CPUs per task, as on a
real cluster; the tests override that on the command line with
:data:`CPU_OVERRIDES`, the same way a user on a CPU-only cluster would.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from slurm_cluster import SlurmCluster, unavailable_reason

pytestmark = pytest.mark.slurm

REPO = Path(__file__).resolve().parents[1]
SLURM_DIR = REPO / "slurm"

#: What a CPU-only two-core cluster needs instead of the scripts' GPU defaults.
CPU_OVERRIDES = ["--gres=none", "--nodes=1", "--ntasks-per-node=2", "--cpus-per-task=1"]


def _skip_or_fail(reason):
    if os.environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
        pytest.fail(f"CI=true, so the SLURM tests must run, but: {reason}")
    print(f"skipping SLURM tests: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def cluster():
    """A running one-node SLURM cluster; daemons stopped at session end."""
    reason = unavailable_reason()
    if reason:
        _skip_or_fail(reason)
    slurm = SlurmCluster()
    try:
        slurm.start()
        yield slurm
    finally:
        slurm.stop()


@pytest.fixture(scope="session")
def workdir(tmp_path_factory):
    """Submit directory of the jobs: NOT the checkout, so the scripts must find
    their way back to it by themselves."""
    return tmp_path_factory.mktemp("slurm-work")


def job_env(cluster, **extra):
    """Environment for sbatch: the cluster's, plus the virtualenv running
    these tests (``slurm/env.sh`` reads RNNGMM_VENV)."""
    env = cluster.env
    if sys.prefix != sys.base_prefix:
        env["RNNGMM_VENV"] = sys.prefix
    env.update({k: str(v) for k, v in extra.items()})
    return env


def sbatch(cluster, workdir, script, *args, options=(), wait=True, timeout=600, env=None):
    """Submit ``script`` with sbatch (``--wait`` by default) from ``workdir``.

    Returns the CompletedProcess; its ``job_id`` attribute holds the job id."""
    cmd = ["sbatch", "--parsable", *(["--wait"] if wait else []), *options,
           str(script), *map(str, args)]
    try:
        result = cluster.run(cmd, check=False, timeout=timeout, cwd=workdir,
                             env=env or job_env(cluster))
    except subprocess.TimeoutExpired:
        pytest.fail(f"{' '.join(cmd)} did not finish in {timeout}s\n{cluster.logs()}")
    first = result.stdout.strip().splitlines()
    result.job_id = first[0].split(";")[0] if first else None
    return result


def job_output(workdir, pattern):
    """Text of the job output files matching ``pattern`` in ``workdir``."""
    files = sorted(Path(workdir).glob(pattern))
    return "\n".join(f"--- {f.name} ---\n{f.read_text(errors='replace')}" for f in files)


# --------------------------------------------------------------------------- smoke
def test_cluster_runs_batch_jobs_and_reports_exit_codes(cluster, workdir):
    script = workdir / "exit3.sh"
    script.write_text("#!/bin/bash\n#SBATCH --output=exit3-%j.out\necho hello; exit 3\n")
    result = sbatch(cluster, workdir, script)
    assert result.returncode == 3, result.stderr
    assert "hello" in (workdir / f"exit3-{result.job_id}.out").read_text()


def test_srun_two_ranks_through_common_sh(cluster, workdir):
    """Two MPI ranks from the virtualenv, launched by slurm/common.sh's launcher."""
    script = workdir / "hello.sh"
    script.write_text(textwrap.dedent(f"""\
        #!/bin/bash
        #SBATCH --ntasks=2
        #SBATCH --output=hello-%j.out
        export RNNGMM_HOME={REPO}
        source "$RNNGMM_HOME/slurm/common.sh"
        _launcher_cmd
        "${{LAUNCH[@]}}" python -c "from mpi4py import MPI; c = MPI.COMM_WORLD; \\
        print('rank', c.rank, 'of', c.size, 'sum', c.allreduce(c.rank + 1))"
        rnngmm_launch --version
        """))
    result = sbatch(cluster, workdir, script)
    out = job_output(workdir, f"hello-{result.job_id}.out")
    assert result.returncode == 0, out
    assert "rank 0 of 2 sum 3" in out and "rank 1 of 2 sum 3" in out, out
    assert out.count("rnngmm ") >= 2, out
