"""``TuneConfig``: every setting of ``rnngmm tune`` as one dataclass."""

import os
from dataclasses import dataclass

from rnngmm.errors import InputError

#: Objectives on the validation objects of one run per trial (never test).
RUN_OBJECTIVES = ("macro_f1", "balanced_accuracy", "accuracy")
#: Leave-one-class-out objectives: one run per held-out class of ``--loco_classes``,
#: mean over those folds of the AUROC of the run's own novelty score (held-out
#: class vs known validation objects), or of (AUROC + validation macro-F1) / 2.
LOCO_OBJECTIVES = ("loco_auroc", "loco_auroc_macro_f1")
OBJECTIVES = RUN_OBJECTIVES + LOCO_OBJECTIVES
#: Most held-out classes (folds) of a LOCO objective: each one is a training per trial.
MAX_LOCO_CLASSES = 2
#: Pruners of poor trials.
PRUNERS = ("median", "none")


def is_database_url(study):
    """True when ``--study`` is an RDB URL (``sqlite:///...``, ``postgresql://...``)."""
    return "://" in str(study)


def default_study_name(study):
    """Study name from ``--study``: the journal file's name without extension."""
    if is_database_url(study):
        return "rnngmm"
    stem = os.path.splitext(os.path.basename(os.fspath(study)))[0]
    return stem or "rnngmm"


@dataclass
class TuneConfig:
    """Settings of ``rnngmm tune`` (see ``rnngmm tune --help`` for each).

    Attributes
    ----------
    study : str
        Journal file on a shared filesystem (created if missing), or an RDB URL.
    space : str, optional
        Search-space file (YAML/JSON); required unless ``report``.
    trials : int
        Finished (complete or pruned) trials the study should reach.
    study_name : str, optional
        Default: the journal file's name without extension.
    objective : str
        One of :data:`OBJECTIVES`, maximised.
    loco_classes : list of str, optional
        Held-out classes of a LOCO objective (1 or 2, labels of the dataset).
    pruner : str
        ``"median"`` or ``"none"``.
    prune_warmup_epochs, prune_startup_trials : int
        No pruning before this many epochs of a trial / finished trials.
    seed : int, optional
        Sampler seed (each SLURM array task adds its task id).
    heartbeat_interval, grace_period : float
        Seconds between heartbeats of a running trial, and without one after
        which a RUNNING trial counts as stale (its process died) and is failed.
    max_retries : int
        How often a failed-by-interruption or stale trial is re-queued.
    max_failed : int, optional
        Stop after this many failed trials (default: ``trials``).
    poll_interval : float
        Seconds between looks at the study while other tasks finish the last trials.
    log_dir, sim_type : str
        Run directories: ``<log_dir>/<sim_type>/<study_name>-trial<NNNN>``.
    report : bool
        Print and write the trials table instead of running trials.
    output : str, optional
        Report files' stem (default: next to the journal file).
    """

    study: str
    space: str = None
    trials: int = 20
    study_name: str = None
    objective: str = "macro_f1"
    loco_classes: list = None
    pruner: str = "median"
    prune_warmup_epochs: int = 2
    prune_startup_trials: int = 3
    seed: int = None
    heartbeat_interval: float = 60.0
    grace_period: float = 600.0
    max_retries: int = 1
    max_failed: int = None
    poll_interval: float = 30.0
    log_dir: str = "keras_logs"
    sim_type: str = "tune"
    report: bool = False
    output: str = None

    @property
    def is_loco(self):
        """True for a leave-one-class-out objective (several runs per trial)."""
        return self.objective in LOCO_OBJECTIVES

    @property
    def name(self):
        """The study name in use."""
        return self.study_name or default_study_name(self.study)

    def validate(self):
        """Raise InputError with one clear message for the first bad setting."""
        if not self.study:
            raise InputError("--study is required: a journal file on a shared filesystem "
                             "(e.g. tune/study.journal) or a database URL")
        if not is_database_url(self.study):
            folder = os.path.dirname(os.path.abspath(self.study))
            if self.report and not os.path.isfile(self.study):
                raise InputError(f"--study {self.study!r} does not exist: nothing to report")
            if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
                raise InputError(f"--study {self.study!r}: folder {folder!r} is not a "
                                 "writable directory (create it first)")
        checks = [
            (self.report or self.space is not None,
             "--space is required to run trials (a YAML/JSON file; see rnngmm tune --help)"),
            (self.trials >= 1, f"--trials must be >= 1 (got {self.trials})"),
            (self.objective in OBJECTIVES,
             f"--objective {self.objective!r}: use one of {', '.join(OBJECTIVES)}"),
            (self.pruner in PRUNERS, f"--pruner {self.pruner!r}: use median or none"),
            (self.prune_warmup_epochs >= 0,
             f"--prune_warmup_epochs must be >= 0 (got {self.prune_warmup_epochs})"),
            (self.prune_startup_trials >= 0,
             f"--prune_startup_trials must be >= 0 (got {self.prune_startup_trials})"),
            (self.heartbeat_interval > 0,
             f"--heartbeat_interval must be > 0 seconds (got {self.heartbeat_interval})"),
            (self.grace_period > self.heartbeat_interval,
             f"--grace_period ({self.grace_period} s) must exceed --heartbeat_interval "
             f"({self.heartbeat_interval} s), or live trials would be failed as stale"),
            (self.max_retries >= 0, f"--max_retries must be >= 0 (got {self.max_retries})"),
            (self.max_failed is None or self.max_failed >= 1,
             f"--max_failed must be >= 1 (got {self.max_failed})"),
            (self.poll_interval > 0,
             f"--poll_interval must be > 0 seconds (got {self.poll_interval})"),
            (self.name and "/" not in self.name and self.name not in (".", ".."),
             f"--study_name must be a plain name (got {self.name!r})"),
        ]
        for ok, message in checks + self._loco_checks():
            if not ok:
                raise InputError(message)
        if self.space is not None and not self.report:
            from rnngmm.tuning.space import load_space
            space = load_space(self.space)
            if self.is_loco:
                from rnngmm.tuning.loco import check_loco_space
                check_loco_space(space, self.loco_classes)
        return self

    def _loco_checks(self):
        if self.report:  # the report shows the objective the study recorded
            return []
        classes = list(self.loco_classes or [])
        if not self.is_loco:
            return [(not classes, f"--loco_classes is used only by --objective "
                                  f"{' or '.join(LOCO_OBJECTIVES)} (got --objective "
                                  f"{self.objective})")]
        return [
            (bool(classes), f"--objective {self.objective} needs --loco_classes: the "
                            "class(es) to hold out, one training per class and trial"),
            (len(classes) <= MAX_LOCO_CLASSES,
             f"--loco_classes takes at most {MAX_LOCO_CLASSES} classes (each costs one "
             f"training per trial); got {len(classes)}: {' '.join(classes)}"),
            (len(set(classes)) == len(classes),
             f"--loco_classes names a class twice: {' '.join(classes)}"),
        ]
