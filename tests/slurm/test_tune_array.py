"""``slurm/tune_array.slurm`` on the real one-node SLURM cluster of ``test_slurm``.

Two array tasks share one Optuna journal file: together they finish exactly
the requested number of trials (none lost, none run twice). When one task's
process is killed outright (SIGKILL, no chance to clean up) its RUNNING trial
is found stale by the other task, failed, and its parameters re-run; when the
task is cancelled with scancel it fails and re-queues its trial itself. Either
way the study ends with the requested number of finished trials and nothing
left RUNNING.
"""

import json
import time

import pytest

# The helpers of the SLURM tests; the cluster, workdir and dataset fixtures
# come from conftest.py, shared with test_slurm.py (one cluster per session).
from slurm_jobs import SLURM_DIR, job_output, sbatch, wait_job

optuna = pytest.importorskip("optuna")
from optuna.trial import TrialState  # noqa: E402

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

#: One CPU per task, two tasks at once on the 2-core test node.
ARRAY = ["--gres=none", "--array=0-1", "--ntasks-per-node=1", "--cpus-per-task=1"]
#: Quick heartbeats so that a killed task's trial turns stale within seconds.
LIVENESS = ["--heartbeat_interval", 1, "--grace_period", 10, "--poll_interval", 2]


def write_space(workdir, data, name):
    """Trials of a few seconds: tiny joint model, 2 epochs, lr and lambda1 searched."""
    space = {"fixed": {"data": str(data), "config": "tiny", "n_min": 20, "n_max": 32,
                       "batch_size": 16, "gmm_on": True, "nb_epoch": 2, "patience": 0,
                       "novel_classes": ["RCB"], "threads": 1, "time_budget": 2},
             "search": {"lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
                        "lambda1": {"type": "float", "low": 1e-3, "high": 0.1,
                                    "log": True}}}
    path = workdir / f"{name}.json"
    path.write_text(json.dumps(space))
    return path


def load(journal):
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend
    return optuna.load_study(study_name=journal.stem,
                             storage=JournalStorage(JournalFileBackend(str(journal))))


def check_study(study, n_trials, workdir):
    """Exactly ``n_trials`` finished, nothing RUNNING/WAITING, one run each."""
    trials = study.get_trials()
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(finished) == n_trials, [(t.number, t.state, t.user_attrs) for t in trials]
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    run_dirs = [t.user_attrs["rnngmm_run_dir"] for t in finished]
    assert len(set(run_dirs)) == n_trials
    for trial in finished:
        run_dir = trial.user_attrs["rnngmm_run_dir"]
        assert run_dir.endswith(f"-trial{trial.number:04d}")
        config = json.loads(open(f"{run_dir}/config.json").read())
        assert config["train"]["lr"] == pytest.approx(trial.params["lr"])
        assert 0.0 <= trial.user_attrs["rnngmm_validation"]["macro_f1"] <= 1.0
    return trials


def test_two_tasks_finish_exactly_the_requested_trials(cluster, workdir, dataset):
    space = write_space(workdir, dataset, "space_a")
    journal = workdir / "tune_a.journal"
    n_trials = 4
    array = sbatch(cluster, workdir, SLURM_DIR / "tune_array.slurm",
                   "--space", space, "--study", journal, "--trials", n_trials,
                   "--pruner", "none", "--seed", 3, *LIVENESS, options=ARRAY, wait=False)
    assert array.returncode == 0 and array.job_id, array.stderr
    states = [wait_job(cluster, f"{array.job_id}_{task}") for task in (0, 1)]
    out = job_output(workdir, f"rnngmm-tune-{array.job_id}_*.out")
    assert states == [("COMPLETED", "0:0")] * 2, out
    trials = check_study(load(journal), n_trials, workdir)
    # only surplus trials (created in a race, never trained) may have failed
    for trial in trials:
        if trial.state == TrialState.FAIL:
            assert trial.user_attrs.get("rnngmm_surplus"), (trial.number, trial.user_attrs)
    workers = {t.user_attrs["rnngmm_worker"].split()[-1] for t in trials
               if "rnngmm_worker" in t.user_attrs}
    assert workers == {f"{array.job_id}_0", f"{array.job_id}_1"}, out
    # each task ran trials, and the counts add up to the study's
    ran = [int(line.rsplit(" ", 1)[1]) for line in out.splitlines()
           if "this task ran" in line]
    assert len(ran) == 2 and sum(ran) == n_trials, out


@pytest.mark.parametrize("kill", ["SIGKILL", "scancel"])
def test_killing_one_task_leaves_a_study_the_other_finishes(cluster, workdir,
                                                           dataset, kill):
    """``SIGKILL``: the task's rnngmm process dies outright (out of memory, node
    failure), its trial stays RUNNING until the other task finds it stale.
    ``scancel``: SLURM's SIGTERM reaches the task, which fails and re-queues its
    trial itself. Either way the parameters are re-run and the study completes."""
    import os
    import signal
    space = write_space(workdir, dataset, f"space_{kill}")
    journal = workdir / f"tune_{kill}.journal"
    n_trials = 3
    array = sbatch(cluster, workdir, SLURM_DIR / "tune_array.slurm",
                   "--space", space, "--study", journal, "--trials", n_trials,
                   "--pruner", "none", "--seed", 5, *LIVENESS, options=ARRAY, wait=False)
    assert array.returncode == 0 and array.job_id, array.stderr
    victim = f"{array.job_id}_0"
    deadline = time.monotonic() + 300
    doomed = None
    while doomed is None:
        assert time.monotonic() < deadline, job_output(workdir, f"rnngmm-tune-{victim}.out")
        if journal.exists():
            for trial in load(journal).get_trials(states=(TrialState.RUNNING,)):
                worker = trial.user_attrs.get("rnngmm_worker", "")
                if worker.endswith(f"job {victim}"):
                    doomed, pid = trial.number, int(worker.split()[0].rsplit(":", 1)[1])
        time.sleep(0.5)
    if kill == "SIGKILL":
        os.kill(pid, signal.SIGKILL)  # no handler runs: the trial stays RUNNING
    else:
        cluster.run(["scancel", victim])
    survivor_state = wait_job(cluster, f"{array.job_id}_1")
    out = job_output(workdir, f"rnngmm-tune-{array.job_id}_*.out")
    assert survivor_state == ("COMPLETED", "0:0"), out
    trials = check_study(load(journal), n_trials, workdir)
    dead = trials[doomed]
    assert dead.state == TrialState.FAIL, out
    reason = dead.user_attrs["rnngmm_fail_reason"]
    if kill == "SIGKILL":
        assert "stale" in reason, (reason, out)
        assert wait_job(cluster, victim)[0] != "COMPLETED", out
    else:
        assert "interrupted" in reason or "stale" in reason, (reason, out)
        cluster.run(["scancel", victim], check=False)  # it may have requeued itself
    retries = [t for t in trials if t.user_attrs.get("rnngmm_retry_of") == doomed]
    assert len(retries) == 1 and retries[0].state == TrialState.COMPLETE, out
    assert retries[0].params == dead.params
