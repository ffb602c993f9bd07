"""The batch scripts in ``slurm/``, submitted to a real one-node SLURM cluster.

A session-scoped fixture starts munged, slurmctld and slurmd on this machine
(``tests/slurm_cluster.py``) and stops them afterwards, also when a test fails.
Where SLURM cannot run (not root, packages missing) the tests skip with the
reason; with ``CI=true`` that is a failure instead.

The scripts request GPUs (``--gres=gpu:N``) and several CPUs per task, as on a
real cluster; the tests override that on the command line with
:data:`CPU_OVERRIDES`, the same way a user on a CPU-only cluster would.
"""

import json
import textwrap
import time

import pytest

from slurm_jobs import (CPU_OVERRIDES, NOVEL, REPO, SLURM_DIR, TINY_TRAIN, job_env,
                        job_output, sbatch, skip_or_fail, wait_job)

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

# --------------------------------------------------------------------------- smoke
def test_missing_slurm_skips_locally_but_fails_in_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="must run"):
        skip_or_fail("no slurmctld here")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="no slurmctld"):
        skip_or_fail("no slurmctld here")


def test_cluster_runs_batch_jobs_and_reports_exit_codes(cluster, workdir):
    script = workdir / "exit3.sh"
    script.write_text("#!/bin/bash\n#SBATCH --output=exit3-%j.out\necho hello; exit 3\n")
    result = sbatch(cluster, workdir, script)
    assert result.returncode == 3, result.stderr
    assert "hello" in (workdir / f"exit3-{result.job_id}.out").read_text()


@pytest.mark.parametrize("launcher", ["srun", "mpirun"])
def test_two_mpi_ranks_through_common_sh(cluster, workdir, launcher):
    """Two MPI ranks from the virtualenv, started by slurm/common.sh with either
    launcher that slurm/env.sh offers."""
    script = workdir / f"hello-{launcher}.sh"
    script.write_text(textwrap.dedent(f"""\
        #!/bin/bash
        #SBATCH --ntasks=2
        #SBATCH --output=hello-%j.out
        export RNNGMM_HOME={REPO}
        source "$RNNGMM_HOME/slurm/common.sh"
        _launcher_cmd
        "${{LAUNCH[@]}}" python -c "from mpi4py import MPI; c = MPI.COMM_WORLD; \\
        s = c.allreduce(c.rank + 1); \\
        lines = c.gather('rank %d of %d sum %d' % (c.rank, c.size, s)); \\
        c.rank == 0 and print(chr(10).join(lines), flush=True)"
        rnngmm_launch --version
        """))
    result = sbatch(cluster, workdir, script, env=job_env(cluster, RNNGMM_LAUNCHER=launcher))
    out = job_output(workdir, f"hello-{result.job_id}.out")
    assert result.returncode == 0, out
    assert "rank 0 of 2 sum 3" in out and "rank 1 of 2 sum 3" in out, out
    # `rnngmm --version` ran once per rank.
    assert sum(line.startswith("rnngmm ") for line in out.splitlines()) == 2, out


# --------------------------------------------------------------------------- helpers
def test_prepare_script_on_two_tasks_equals_one_process(cluster, workdir, dataset):
    """slurm/prepare.slurm on 2 tasks (blocks of 4 objects dealt to the ranks)
    writes the dataset that one process wrote, array for array."""
    import h5py
    import numpy as np
    result = sbatch(cluster, workdir, SLURM_DIR / "prepare.slurm",
                    "--catalog", "sim/catalog.csv", "--lightcurves", "sim/lightcurves",
                    "--format", "asassn", "--label_col", "class", "--period_col", "period",
                    "--output", "data2.h5", "--block_objects", 4, options=CPU_OVERRIDES)
    out = job_output(workdir, f"rnngmm-prepare-{result.job_id}.out")
    assert result.returncode == 0, out
    assert "2 task(s)" in out and "on 2 process(es)" in out, out
    with h5py.File(dataset, "r") as one, h5py.File(workdir / "data2.h5", "r") as two:
        for name in ("objects/id", "objects/label", "objects/period", "objects/offset",
                     "objects/length", "lightcurves/time", "lightcurves/mag"):
            np.testing.assert_array_equal(one[name][()], two[name][()], err_msg=name)
    assert not list(workdir.glob(".data2.h5.part-*")), "part files left behind"


# --------------------------------------------------------------------------- train -> score -> flag
@pytest.fixture(scope="session")
def chain(cluster, workdir, dataset):
    """Joint training on 2 tasks, with score and flag jobs queued behind it
    (``--dependency=afterok``), all submitted at once as a user would."""
    train = sbatch(cluster, workdir, SLURM_DIR / "train_joint.slurm",
                   "--data", dataset, *TINY_TRAIN, "--nb_epoch", 2,
                   "--novel_classes", NOVEL, "--run_name", "joint",
                   options=CPU_OVERRIDES, wait=False)
    assert train.returncode == 0 and train.job_id, train.stderr
    run_dir = workdir / "keras_logs" / "slurmtest" / "joint"
    after = [f"--dependency=afterok:{train.job_id}"]
    score = sbatch(cluster, workdir, SLURM_DIR / "score.slurm",
                   "--run_dir", run_dir, "--no_baselines",
                   options=[*CPU_OVERRIDES, *after], wait=False)
    flag = sbatch(cluster, workdir, SLURM_DIR / "flag.slurm",
                  "--run_dir", run_dir, "--catalog", "sim/catalog.csv",
                  "--lightcurves", "sim/lightcurves", "--format", "asassn",
                  "--period_col", "period", "--output", "flags.ecsv",
                  options=[*CPU_OVERRIDES, *after], wait=False)
    assert score.returncode == 0 and flag.returncode == 0, score.stderr + flag.stderr
    # While training runs, the other two wait on it.
    reasons = {cluster.job_field(j, "Reason") for j in (score.job_id, flag.job_id)}
    return {"train": train.job_id, "score": score.job_id, "flag": flag.job_id,
            "run_dir": run_dir, "early_reasons": reasons}


def test_train_joint_on_two_tasks(cluster, workdir, chain):
    state, code = wait_job(cluster, chain["train"])
    out = job_output(workdir, f"rnngmm-train-joint-{chain['train']}.out")
    assert (state, code) == ("COMPLETED", "0:0"), out
    run_dir = chain["run_dir"]
    for name in ("config.json", "split.json", "model.keras", "gmm.h5", "training.csv"):
        assert (run_dir / name).is_file(), f"{name} missing in {run_dir}\n{out}"
    config = json.loads((run_dir / "config.json").read_text())
    assert config["world_size"] == 2, out
    assert config["train"]["gmm_on"] is True
    assert "srun" in out and "2 task(s)" in out, out
    # Training flags given to sbatch override the script's reference defaults.
    assert config["train"]["batch_size"] == 16 and config["train"]["nb_epoch"] == 2


def test_score_waits_for_training(cluster, workdir, chain):
    assert chain["early_reasons"] <= {"Dependency", "None"}, chain["early_reasons"]
    state, code = wait_job(cluster, chain["score"])
    out = job_output(workdir, f"rnngmm-score-{chain['score']}.out")
    assert (state, code) == ("COMPLETED", "0:0"), out
    scoring = chain["run_dir"] / "scoring"
    assert (scoring / "classification_accuracy.txt").is_file(), out
    assert (scoring / "novel_detection_scores.txt").is_file(), out


def test_flag_after_training(cluster, workdir, chain):
    state, code = wait_job(cluster, chain["flag"])
    out = job_output(workdir, f"rnngmm-flag-{chain['flag']}.out")
    assert (state, code) == ("COMPLETED", "0:0"), out
    from astropy.table import Table
    flags = Table.read(workdir / "flags.ecsv")
    catalog = Table.read(workdir / "sim" / "catalog.csv")
    assert len(flags) == len(catalog)
    assert list(flags["id"]) == list(catalog["id"])


# --------------------------------------------------------------------------- sequential
def test_train_sequential(cluster, workdir, dataset):
    result = sbatch(cluster, workdir, SLURM_DIR / "train_sequential.slurm",
                    "--data", dataset, *TINY_TRAIN, "--nb_epoch", 1, "--cls_epoch", 1,
                    "--novel_classes", NOVEL, "--run_name", "sequential",
                    options=[*CPU_OVERRIDES, "--ntasks-per-node=1"])
    out = job_output(workdir, f"rnngmm-train-seq-{result.job_id}.out")
    assert result.returncode == 0, out
    run_dir = workdir / "keras_logs" / "slurmtest" / "sequential"
    config = json.loads((run_dir / "config.json").read_text())
    assert config["train"]["gmm_on"] is False and config["world_size"] == 1
    assert (run_dir / "model.keras").is_file() and (run_dir / "gmm.h5").is_file(), out


# --------------------------------------------------------------------------- job array
def test_loco_job_array_then_gather(cluster, workdir, dataset):
    held_out = ["DSCT", "RRAB"]
    env = job_env(cluster, RNNGMM_LOCO_CLASSES=",".join(held_out))
    array = sbatch(cluster, workdir, SLURM_DIR / "loco_array.slurm",
                   "--data", dataset, "--results_dir", "loco", "--no_baselines",
                   "--train_args", "--config tiny --n_min 20 --n_max 32 --batch_size 16 "
                                   "--nb_epoch 1 --patience 0",
                   options=["--gres=none", "--array=0-1", "--ntasks-per-node=1",
                            "--cpus-per-task=1"], wait=False, env=env)
    assert array.returncode == 0 and array.job_id, array.stderr
    gather = sbatch(cluster, workdir, SLURM_DIR / "loco_gather.slurm",
                    "--results_dir", "loco",
                    options=[f"--dependency=afterok:{array.job_id}"], env=env)
    out = job_output(workdir, f"rnngmm-loco-{array.job_id}_*.out")
    out += job_output(workdir, f"rnngmm-loco-gather-{gather.job_id}.out")
    assert gather.returncode == 0, out
    for label in held_out:
        assert (workdir / "loco" / f"{label}.json").is_file(), out
        run_dir = workdir / "keras_logs" / "loco" / f"loco_{label}"
        assert json.loads((run_dir / "config.json").read_text())["train"]["novel_classes"] \
            == [label]
    from astropy.table import Table
    table = Table.read(workdir / "loco" / "loco_table.ecsv")
    for label in held_out:
        assert label in [str(v) for v in table[table.colnames[0]]], table


# --------------------------------------------------------------------------- preemption
def test_preempted_training_requeues_and_completes(cluster, workdir, dataset):
    """SIGUSR1 (the time-limit warning) mid-run: training checkpoints and exits
    75, the script requeues the job, and the rerun resumes to a complete run."""
    n_epochs = 12
    submit = sbatch(cluster, workdir, SLURM_DIR / "train_joint.slurm",
                    "--data", dataset, *TINY_TRAIN, "--batch_size", 8,
                    "--nb_epoch", n_epochs, "--novel_classes", NOVEL,
                    "--run_name", "preempted", options=CPU_OVERRIDES, wait=False)
    job = submit.job_id
    assert submit.returncode == 0 and job, submit.stderr
    log = workdir / f"rnngmm-train-joint-{job}.out"
    deadline = time.monotonic() + 300
    while "epoch 2/" not in (log.read_text(errors="replace") if log.exists() else ""):
        assert cluster.job_state(job) in ("PENDING", "RUNNING", "CONFIGURING"), \
            job_output(workdir, log.name)
        assert time.monotonic() < deadline, job_output(workdir, log.name)
        time.sleep(0.5)
    # What SLURM sends at --signal=B:USR1@<seconds> before the time limit.
    cluster.run(["scancel", "--batch", "--signal=USR1", job])

    requeued_at = []

    def release(state):
        # A requeued job is held back (BeginTime ~2 min ahead); let it start
        # sooner, but only once the node has finished with the first instance
        # and a few seconds have passed. Released at once, it once ended FAILED
        # 1:0 in CI with no output from the rerun (suspected: a launch within a
        # second of the first instance's end races slurmd's revoked credential).
        if state != "PENDING" or int(cluster.job_field(job, "Restarts") or 0) == 0:
            return
        if not requeued_at:
            requeued_at.append(time.monotonic())
        if time.monotonic() - requeued_at[0] >= 5 and cluster._node_idle():
            cluster.run(["scontrol", "update", f"JobId={job}", "StartTime=now"], check=False)

    state, code = wait_job(cluster, job, on_poll=release, min_restarts=1)
    out = job_output(workdir, log.name)
    assert (state, code) == ("COMPLETED", "0:0"), \
        out + cluster.run(["scontrol", "show", "job", job], check=False).stdout + cluster.logs()
    assert int(cluster.job_field(job, "Restarts")) == 1, out
    assert "exited with code 75" in out and "requeueing" in out, out
    assert "--resume" in out and "resuming from" in out, out
    run_dir = workdir / "keras_logs" / "slurmtest" / "preempted"
    assert (run_dir / "model.keras").is_file() and (run_dir / "gmm.h5").is_file(), out
    epochs = (run_dir / "training.csv").read_text().strip().splitlines()[1:]
    assert len(epochs) == n_epochs, out
