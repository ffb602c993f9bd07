"""The shared Optuna study: storage, trial quota, heartbeats and stale trials.

Storage: a journal file (``optuna.storages.journal.JournalFileBackend`` with
``JournalFileOpenLock``, an ``open(O_CREAT | O_EXCL)`` lock that works on
NFS and Lustre, so no database server is needed), or an RDB URL.

Stale trials: Optuna's own heartbeat exists only for ``RDBStorage`` and runs
only under ``Study.optimize``; the journal storage (Optuna 5.0) has none, and
the tuner uses ask/tell (rank 0 asks, every rank trains). So the tuner keeps
its own, storage-independent heartbeat: while a trial runs, rank 0 writes the
time into the trial's user attribute :data:`HEARTBEAT` every
``heartbeat_interval`` seconds. :func:`sweep_stale` (run before every trial,
by every task) fails RUNNING trials whose last heartbeat (or start) is older
than ``grace_period``, and re-queues their parameters (at most
``max_retries`` times). A trial is therefore never left RUNNING for longer
than the grace period after its process died.

Quota: the study should end with exactly ``trials`` finished (COMPLETE or
PRUNED) trials. :func:`claim_trial` asks for a trial only while fewer than
that are finished, running or waiting, and gives back (as FAIL, user
attribute :data:`SURPLUS`) a trial that several tasks created at the same
moment beyond the quota: the trial with the higher number yields.
"""

import logging
import threading
import time
from dataclasses import dataclass

from rnngmm.errors import InputError
from rnngmm.tuning.config import is_database_url

log = logging.getLogger(__name__)

#: User attributes the tuner keeps on each trial.
HEARTBEAT = "rnngmm_heartbeat"
RUN_DIR = "rnngmm_run_dir"
RETRY_OF = "rnngmm_retry_of"
RETRY_PARENT = "rnngmm_retry_parent"
ATTEMPT = "rnngmm_attempt"
SURPLUS = "rnngmm_surplus"
FAIL_REASON = "rnngmm_fail_reason"
PRUNED_AT = "rnngmm_pruned_at_epoch"
METRICS = "rnngmm_validation"
WORKER = "rnngmm_worker"
#: The objective a trial was judged on (trial attribute) and a study is run
#: with (study attribute, with :data:`LOCO_CLASSES`).
OBJECTIVE = "rnngmm_objective"
LOCO_CLASSES = "rnngmm_loco_classes"
#: ``{class: {"auroc", "macro_f1", ..., "run_dir"}}`` of a leave-one-class-out trial.
LOCO_FOLDS = "rnngmm_loco_folds"


def worker_name():
    """Who runs a trial: host, process id and, under SLURM, job and array task."""
    import os
    import socket
    name = f"{socket.gethostname()}:{os.getpid()}"
    job = os.environ.get("SLURM_ARRAY_JOB_ID") or os.environ.get("SLURM_JOB_ID")
    if job:
        name += f" job {job}"
        task = os.environ.get("SLURM_ARRAY_TASK_ID")
        if task is not None:
            name += f"_{task}"
    return name


def open_storage(study):
    """The Optuna storage of ``--study`` (journal file path or RDB URL)."""
    import optuna
    if is_database_url(study):
        return optuna.storages.RDBStorage(study)
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock
    return optuna.storages.JournalStorage(
        JournalFileBackend(str(study), lock_obj=JournalFileOpenLock(str(study))))


def make_sampler(seed):
    """TPE sampler; ``seed`` plus the SLURM array task id, so tasks differ."""
    import os

    import optuna
    if seed is not None:
        seed = int(seed) + int(os.environ.get("SLURM_ARRAY_TASK_ID", "0") or 0)
    return optuna.samplers.TPESampler(seed=seed)


def make_pruner(config):
    """The pruner of ``config.pruner``.

    Its own warm-up is 0: Optuna counts warm-up steps from step 0, and steps
    are global epochs, so the estimation stage (starting at ``nb_epoch``)
    would have none. ``config.prune_warmup_epochs`` is applied per stage by
    :class:`~rnngmm.tuning.objective.EpochReporter` instead.
    """
    import optuna
    if config.pruner == "none":
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(n_startup_trials=config.prune_startup_trials,
                                       n_warmup_steps=0)


def check_objective(study, config):
    """Record the objective of ``config`` on a new study; InputError when the
    study was run with another one (their values would not be comparable)."""
    wanted = {OBJECTIVE: config.objective, LOCO_CLASSES: list(config.loco_classes or [])}
    recorded = study.user_attrs
    if OBJECTIVE not in recorded:
        for key, value in wanted.items():
            study.set_user_attr(key, value)
        return
    before = {key: recorded.get(key, []) for key in wanted}
    if before != wanted:
        raise InputError(f"--study {config.study}: study {config.name!r} was run with "
                         f"--objective {describe_objective(before)}, not "
                         f"{describe_objective(wanted)}; use the same flags or a new study")


def describe_objective(attrs):
    """``"loco_auroc --loco_classes A B"`` from the attributes of :func:`check_objective`."""
    classes = attrs.get(LOCO_CLASSES) or []
    return attrs[OBJECTIVE] + (f" --loco_classes {' '.join(classes)}" if classes else "")


def open_study(config, *, create=True):
    """Load (or create) the study of a :class:`~rnngmm.tuning.config.TuneConfig`."""
    import optuna
    storage = open_storage(config.study)
    if not create:
        try:
            return optuna.load_study(study_name=config.name, storage=storage)
        except KeyError:
            names = [s.study_name for s in optuna.get_all_study_summaries(storage)]
            raise InputError(f"--study {config.study}: no study named {config.name!r} "
                             f"(studies: {names})") from None
    return optuna.create_study(study_name=config.name, storage=storage,
                               direction="maximize", load_if_exists=True,
                               sampler=make_sampler(config.seed),
                               pruner=make_pruner(config))


def last_sign_of_life(trial):
    """Epoch seconds of a RUNNING trial's last heartbeat, else of its start."""
    beat = trial.user_attrs.get(HEARTBEAT)
    if beat is not None:
        return float(beat)
    return trial.datetime_start.timestamp() if trial.datetime_start else 0.0


def fail_trial(study, trial, reason, *, retry=False, max_retries=0):
    """Mark a RUNNING ``trial`` (FrozenTrial) FAIL with ``reason``; re-queue its
    parameters when ``retry`` and retries are left.

    Returns
    -------
    bool
        True when this call failed the trial (False: another task finished it first).
    """
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState
    storage = study._storage  # Optuna's own fail_stale_trials works at this level
    try:
        storage.set_trial_user_attr(trial._trial_id, FAIL_REASON, reason)
        if not storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL):
            return False
    except UpdateFinishedTrialError:
        return False
    attempt = int(trial.user_attrs.get(ATTEMPT, 0))
    if retry and attempt < max_retries:
        study.enqueue_trial(dict(trial.params), user_attrs={
            RETRY_OF: int(trial.user_attrs.get(RETRY_OF, trial.number)),
            RETRY_PARENT: trial.number, ATTEMPT: attempt + 1})
        log.info(f"trial {trial.number} failed ({reason}); its parameters are re-queued "
                 f"(attempt {attempt + 2} of {max_retries + 1})")
    else:
        log.info(f"trial {trial.number} failed ({reason})")
    return True


def sweep_stale(study, grace_period, max_retries, now=None):
    """Fail (and re-queue) RUNNING trials silent for more than ``grace_period`` s.

    Returns
    -------
    list of int
        Numbers of the trials this call failed.
    """
    from optuna.trial import TrialState
    now = time.time() if now is None else now
    failed = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        silent = now - last_sign_of_life(trial)
        if silent > grace_period and fail_trial(
                study, trial, f"stale: no heartbeat for {silent:.0f} s (process killed?)",
                retry=True, max_retries=max_retries):
            failed.append(trial.number)
    return failed


@dataclass
class Quota:
    """Counts of a study's trials against the requested number."""

    finished: int
    running: int
    waiting: int
    failed: int

    @property
    def live(self):
        """Trials that end (or ended) finished unless their process dies."""
        return self.finished + self.running + self.waiting


def quota(study, before=None):
    """:class:`Quota` of the study (only trials numbered below ``before``, if given).

    ``failed`` counts failed trials that were neither surplus nor re-queued
    (an interrupted or stale trial's retry stands in for it).
    """
    from optuna.trial import TrialState
    counts = {"finished": 0, "running": 0, "waiting": 0, "failed": 0}
    trials = study.get_trials(deepcopy=False)
    retried = {t.user_attrs[RETRY_PARENT] for t in trials if RETRY_PARENT in t.user_attrs}
    for trial in trials:
        if before is not None and trial.number >= before:
            continue
        if trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
            counts["finished"] += 1
        elif trial.state == TrialState.RUNNING:
            counts["running"] += 1
        elif trial.state == TrialState.WAITING:
            counts["waiting"] += 1
        elif (trial.state == TrialState.FAIL and not trial.user_attrs.get(SURPLUS)
              and trial.number not in retried):
            counts["failed"] += 1
    return Quota(**counts)


def next_action(study, n_trials, max_failed):
    """What a task does next: ``"stop"``, ``"wait"`` (others run the last
    trials; one may still go stale) or ``"ask"``."""
    counts = quota(study)
    if counts.finished >= n_trials:
        return "stop", counts
    if counts.failed >= max_failed:
        return "failed", counts
    if counts.waiting == 0 and counts.live >= n_trials:
        return "wait", counts
    return "ask", counts


def claim_trial(study, n_trials):
    """``study.ask()`` within the quota; None when the asked trial is surplus.

    Trials are numbered in the order the storage records them, so when tasks
    race, the ones numbered beyond ``n_trials`` live trials give theirs back.
    """
    from optuna.trial import TrialState
    trial = study.ask()
    ahead = quota(study, before=trial.number)
    if ahead.live >= n_trials:
        study._storage.set_trial_user_attr(trial._trial_id, SURPLUS, True)
        study.tell(trial, state=TrialState.FAIL)
        log.info(f"trial {trial.number} is beyond the {n_trials} requested: given back")
        return None
    return trial


class Heartbeat:
    """Context manager: a thread writing ``time.time()`` into the trial's
    :data:`HEARTBEAT` attribute every ``interval`` seconds (rank 0 only)."""

    def __init__(self, trial, interval):
        self.trial, self.interval = trial, float(interval)
        self._stop = threading.Event()
        self._thread = None

    def beat(self):
        """Record one heartbeat now."""
        self.trial.set_user_attr(HEARTBEAT, time.time())

    def _run(self):
        while not self._stop.wait(self.interval):
            try:
                self.beat()
            except Exception as exc:  # storage briefly unreachable: try again later
                log.warning(f"heartbeat of trial {self.trial.number} not written: {exc}")

    def __enter__(self):
        self.beat()
        self._thread = threading.Thread(target=self._run, name="rnngmm-heartbeat",
                                        daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        return False
