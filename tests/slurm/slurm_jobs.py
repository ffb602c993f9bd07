"""Helpers of the SLURM tests: submitting jobs to the test cluster, waiting
for them, reading their output (the fixtures are in ``conftest.py``)."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SLURM_DIR = REPO / "slurm"

#: What a CPU-only two-core cluster needs instead of the scripts' GPU defaults.
CPU_OVERRIDES = ["--gres=none", "--nodes=1", "--ntasks-per-node=2", "--cpus-per-task=1"]


def skip_or_fail(reason):
    if os.environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
        pytest.fail(f"CI=true, so the SLURM tests must run, but: {reason}")
    print(f"skipping SLURM tests: {reason}")
    pytest.skip(reason)


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


#: Terminal job states of ``scontrol show job``.
DONE_STATES = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "PREEMPTED",
               "BOOT_FAIL", "DEADLINE", "OUT_OF_MEMORY"}


def wait_job(cluster, job_id, timeout=600, on_poll=None, min_restarts=0):
    """Poll until ``job_id`` reaches a terminal state; return (state, exit code).

    ``min_restarts``: a job expected to requeue itself is not final before it
    has restarted that often (under load, slurmctld can show the first
    attempt's FAILED state for several seconds before the requeue lands).
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = cluster.job_state(job_id)
        if on_poll is not None:
            on_poll(state)
        if state in DONE_STATES and int(cluster.job_field(job_id, "Restarts") or 0) < min_restarts:
            time.sleep(1)
            continue
        if state in DONE_STATES:
            # A job that requeues itself can pass through a terminal-looking
            # state while SLURM moves it back to the queue: only a state that
            # is still there two seconds later is final.
            time.sleep(2)
            if cluster.job_state(job_id) == state:
                return state, cluster.job_field(job_id, "ExitCode")
            continue
        time.sleep(1)
    pytest.fail(f"job {job_id} still {cluster.job_state(job_id)} after {timeout}s\n"
                f"{cluster.logs()}")


def rnngmm(*args, cwd):
    """Run the rnngmm console script of this virtualenv (outside SLURM)."""
    exe = Path(sys.prefix) / "bin" / "rnngmm"
    result = subprocess.run([str(exe if exe.exists() else "rnngmm"), *map(str, args)],
                            cwd=cwd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


#: A model small enough for 2 CPU cores (the scripts default to the reference).
TINY_TRAIN = ["--config", "tiny", "--n_min", "20", "--n_max", "32", "--batch_size", "16",
              "--patience", "0", "--sim_type", "slurmtest"]
KNOWN, NOVEL = ["RRAB", "DSCT", "ECL"], "RCB"
