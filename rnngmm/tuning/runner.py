"""The trial loop of ``rnngmm tune`` (:func:`run_tuning`), rank-parallel.

Every rank of a task runs this loop. Rank 0 alone talks to Optuna: it sweeps
stale trials, decides what to do next, asks for a trial and broadcasts its
parameters; then every rank trains the trial together
(:func:`rnngmm.training.driver.run_training`, horovod when there are several
ranks), all ranks compute the validation objective on their shards, and rank
0 tells Optuna the result. Run directories are kept:
``<log_dir>/<sim_type>/<study_name>-trial<NNNN>``, or one per fold of a
leave-one-class-out objective, ``...-trial<NNNN>-loco_<class>``
(:mod:`rnngmm.tuning.loco`).
"""

import logging
import os
import signal
import time
from contextlib import contextmanager, nullcontext

from rnngmm.errors import InputError
from rnngmm.tuning import study as studies
from rnngmm.tuning.loco import fold_run_name, loco_metrics, run_folds
from rnngmm.tuning.objective import EpochReporter, validation_metrics
from rnngmm.tuning.space import load_space
from rnngmm.training.signals import STOP_SIGNALS
from rnngmm.training.config import TrainConfig
from rnngmm.training.driver import run_training
from rnngmm.dist import init_mpi

log = logging.getLogger(__name__)

#: Exit codes: 0 study done; 1 too many failed trials; 75 interrupted by a signal.
EXIT_DONE, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 75


class Interrupted(BaseException):
    """SIGTERM/SIGUSR1 outside a trial's training loop (which stops by itself)."""


@contextmanager
def _interruptible():
    """While tuning, a stop signal raises :class:`Interrupted`, so that a task
    preempted while it loads data, scores or waits marks its trial failed and
    re-queues it instead of dying with the trial RUNNING. The training loop
    installs its own handler (checkpoint, exit code 75) while it runs."""

    def handler(signum, frame):
        raise Interrupted(signal.Signals(signum).name)
    previous = {s: signal.signal(s, handler) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def trial_run_name(study_name, number):
    """Run directory name of trial ``number`` of ``study_name``."""
    return f"{study_name}-trial{number:04d}"


def trial_train_config(space, params, config, number):
    """The validated :class:`TrainConfig` of one trial.

    Raises
    ------
    InputError
        When the settings are invalid (bad fixed settings, or a sampled
        combination ``rnngmm train`` rejects).
    """
    settings = space.settings(params)
    settings.update(log_dir=config.log_dir, sim_type=config.sim_type,
                    run_name=trial_run_name(config.name, number), resume=False)
    if "data" not in settings:
        raise InputError(f"--space {space.path}: 'fixed' must name the prepared dataset "
                         "(data: path/to/dataset.h5)")
    return TrainConfig.from_dict(settings).validate()


def _clear_session():
    import keras
    keras.backend.clear_session()


class _Root:
    """Rank 0's side: the study and the current trial."""

    def __init__(self, config, space):
        self.config, self.space = config, space
        self.study = studies.open_study(config)
        studies.check_objective(self.study, config)
        self.max_failed = config.max_failed or config.trials
        self.trial = None

    def decide(self):
        """The next decision, broadcast to every rank as JSON."""
        swept = studies.sweep_stale(self.study, self.config.grace_period,
                                    self.config.max_retries)
        if swept:
            log.info(f"stale trials failed: {swept}")
        action, counts = studies.next_action(self.study, self.config.trials, self.max_failed)
        if action != "ask":
            return {"action": action, "finished": counts.finished, "failed": counts.failed,
                    "running": counts.running}
        self.trial = studies.claim_trial(self.study, self.config.trials)
        if self.trial is None:
            return {"action": "wait", "finished": counts.finished, "running": counts.running}
        params = self.space.suggest(self.trial)
        return {"action": "run", "number": self.trial.number, "params": params}

    def fail(self, reason, retry=False):
        frozen = self.study._storage.get_trial(self.trial._trial_id)
        studies.fail_trial(self.study, frozen, reason, retry=retry,
                           max_retries=self.config.max_retries)
        self.trial = None

    def finish(self, reporter, metrics, folds=None):
        from optuna.trial import TrialState
        trial, self.trial = self.trial, None
        trial.set_user_attr(studies.METRICS, metrics)
        if folds is not None:
            trial.set_user_attr(studies.LOCO_FOLDS, folds)
        if reporter.pruned_at is not None:
            trial.set_user_attr(studies.PRUNED_AT, reporter.pruned_at)
            self.study.tell(trial, state=TrialState.PRUNED)
            return "pruned"
        value = metrics.get(self.config.objective)
        if value is None or value != value:  # NaN: no validation object scored
            scored = "held-out or validation" if self.config.is_loco else "validation"
            trial.set_user_attr(studies.FAIL_REASON, f"validation {self.config.objective} "
                                f"is undefined (no {scored} object scored)")
            self.study.tell(trial, state=TrialState.FAIL)
            return "failed"
        self.study.tell(trial, float(value))
        return f"{self.config.objective} {value:.4f}"


def trial_run_dirs(config, number):
    """Run directories of trial ``number``: one, or one per LOCO fold."""
    name = trial_run_name(config.name, number)
    names = ([fold_run_name(name, c) for c in config.loco_classes] if config.is_loco
             else [name])
    return [os.path.join(config.log_dir, config.sim_type, n) for n in names]


def _train_and_judge(train_config, config, reporter, dist):
    """Train a trial's run(s) and compute its figures (every rank).

    Returns
    -------
    code : int
        0, or the exit code of a training that did not finish.
    metrics : dict or None
        Validation figures (rank 0, when ``code`` is 0).
    folds : dict or None
        Per-fold figures of a LOCO objective (rank 0).
    """
    if config.is_loco:
        code, folds = run_folds(train_config, config.loco_classes, train_config.run_name,
                                reporter, dist)
        return code, loco_metrics(folds) if code == 0 and dist.is_root else None, folds
    _clear_session()
    code = int(run_training(train_config, on_epoch=reporter) or 0)
    dist.barrier()  # rank 0 writes model.keras and gmm.h5 after the others return
    run_dir = os.path.join(config.log_dir, config.sim_type, train_config.run_name)
    return code, validation_metrics(run_dir, dist) if code == 0 else None, None


def _run_trial(root, decision, config, space, dist):
    """Train and judge one trial on every rank; returns an exit code or None."""
    number, params = decision["number"], decision["params"]
    trial = root.trial if root else None
    reporter = EpochReporter(trial, config.prune_warmup_epochs)
    problem = None
    try:
        train_config = trial_train_config(space, params, config, number)
    except InputError as exc:
        problem = str(exc)
    if problem:
        if root:
            log.warning(f"trial {number}: settings rejected: {problem}")
            root.fail(f"settings rejected: {problem}")
        return None
    run_dirs = trial_run_dirs(config, number)
    if root:
        trial.set_user_attr(studies.RUN_DIR, os.path.abspath(run_dirs[0]))
        trial.set_user_attr(studies.OBJECTIVE, config.objective)
        trial.set_user_attr(studies.WORKER, studies.worker_name())
        log.info(f"trial {number}: {params} -> {', '.join(run_dirs)}")
    beating = studies.Heartbeat(trial, config.heartbeat_interval) if root else nullcontext()
    try:
        with beating:
            code, metrics, folds = _train_and_judge(train_config, config, reporter, dist)
    except Exception as exc:
        if root:
            root.fail(f"{type(exc).__name__}: {exc}")
        if dist.size > 1:
            raise  # the ranks may be out of step: end the task
        log.exception(f"trial {number} failed")
        return None
    except Interrupted as exc:
        if root:
            root.fail(f"interrupted by {exc} outside the training loop", retry=True)
        return EXIT_INTERRUPTED
    except BaseException:
        if root:
            root.fail("process stopped")
        raise
    if code != 0:
        if root:
            root.fail(f"training interrupted (exit code {code})", retry=True)
        return EXIT_INTERRUPTED if code == EXIT_INTERRUPTED else code
    if root:
        from optuna.exceptions import UpdateFinishedTrialError
        try:
            log.info(f"trial {number} finished: {root.finish(reporter, metrics, folds)}")
        except UpdateFinishedTrialError:
            log.warning(f"trial {number} was failed as stale by another task while it "
                        "ran: raise --grace_period above the longest pause of a trial")
    return None


def run_tuning(config, dist=None):
    """Run trials of the shared study until it holds ``config.trials`` finished ones.

    Parameters
    ----------
    config : rnngmm.tuning.config.TuneConfig
        Validated settings (every rank passes the same ones).
    dist : rnngmm.dist.Dist, optional
        Topology (default: :func:`rnngmm.dist.init_mpi`).

    Returns
    -------
    int
        :data:`EXIT_DONE`, :data:`EXIT_FAILED` (``max_failed`` trials failed) or
        :data:`EXIT_INTERRUPTED` (a trial stopped on SIGTERM/SIGUSR1: it is marked
        FAIL and its parameters re-queued; rerun the task to continue).
    """
    dist = dist or init_mpi()
    space = load_space(config.space)
    root = _Root(config, space) if dist.is_root else None
    try:
        with _interruptible():
            return _trial_loop(root, config, space, dist)
    except Interrupted as exc:
        log.warning(f"stopped by {exc} between trials (exit code {EXIT_INTERRUPTED})")
        return EXIT_INTERRUPTED


def _trial_loop(root, config, space, dist):
    """Decide, run, repeat (every rank); returns the exit code."""
    ran = 0
    while True:
        decision = dist.bcast(root.decide() if root else None)
        action = decision["action"]
        if action == "stop":
            if root:
                log.info(f"study {config.name}: {decision['finished']} of {config.trials} "
                         f"trials finished; this task ran {ran}")
            return EXIT_DONE
        if action == "failed":
            if root:
                log.error(f"study {config.name}: {decision['failed']} trials failed "
                          f"(--max_failed {root.max_failed}); stopping. See the fail reasons "
                          "with rnngmm tune --report")
            return EXIT_FAILED
        if action == "wait":
            if root:
                log.info(f"{decision['finished']} finished, {decision['running']} running "
                         f"elsewhere: waiting {config.poll_interval:g} s")
            time.sleep(config.poll_interval)
            continue
        code = _run_trial(root, decision, config, space, dist)
        ran += 1
        if code is not None:
            return code

