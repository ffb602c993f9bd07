"""``TrainConfig``: every setting of a training run, as one dataclass.

The ``rnngmm train`` flags map one to one onto these fields (the CLI builds a
``TrainConfig``; nothing below the CLI sees argparse). A run's
``config.json`` stores ``asdict(config)`` under ``"train"``, so
``rnngmm train --from_config RUN/config.json`` (or :meth:`TrainConfig.from_run`)
replays it. Model hyper-parameters left at None take the value of the named
configuration ``config`` (:mod:`rnngmm.models.configs`).
"""

import json
import os
from dataclasses import asdict, dataclass, field, fields

from rnngmm.errors import InputError
from rnngmm.novelty.mixture import NOVELTY_SCORES


@dataclass
class TrainConfig:
    """Settings of ``rnngmm train`` (see ``rnngmm train --help`` for each)."""

    data: str
    # data
    n_min: int = 200
    n_max: int = None
    period_fold: bool = False
    fold_multiple: int = 1
    novel_classes: list = field(default_factory=list)
    validation_fraction: float = 0.2
    ss_resid: float = None
    class_prob: float = None
    # model (None: from the named configuration)
    config: str = "fiducial"
    model_type: str = None
    size: int = None
    num_layers: int = None
    embedding: int = None
    drop_frac: float = None
    bidirectional: bool = None
    decode_type: str = None
    decode_layers: int = None
    estnet_size: list = None
    estnet_drop_frac: float = None
    estnet_activation: str = None
    label_smoothing: float = None
    shape_harmonics: int = None
    num_classes: int = None
    class_weight: str = "sqrt"  # best of none/sqrt/balanced on CRTS validation
    lambda1: float = None
    lambda2: float = None
    jitter: float = None
    # training
    gmm_on: bool = False
    batch_size: int = 500
    nb_epoch: int = 100
    cls_epoch: int = 50
    lr: float = 1e-3
    no_lr_scaling: bool = False
    warmup_epochs: float = None
    lr_schedule: str = "constant"
    patience: int = 20
    seed: int = 0
    mixed_precision: bool = False
    threads: int = None
    time_budget: float = None
    ae_budget_fraction: float = 0.75
    init_from: str = None
    cache_estimation: bool = True
    augment_min_points: int = None
    augment_probability: float = 0.5
    score_n_min: int = None
    novelty_score: str = "class_energy_msp"
    sampling_reference: bool = False
    reobserve_from: str = None
    reobserve_fraction: float = 1.0
    # run directory
    sim_type: str = "crts"
    log_dir: str = "keras_logs"
    run_name: str = None
    resume: bool = False
    checkpoint_every: int = 1
    keep_checkpoints: int = 3

    @classmethod
    def field_names(cls):
        """Names of every setting."""
        return [f.name for f in fields(cls)]

    @classmethod
    def from_dict(cls, values):
        """From a dict of settings; unknown keys raise InputError naming them."""
        unknown = sorted(set(values) - set(cls.field_names()))
        if unknown:
            raise InputError(f"unknown training setting(s) {unknown}")
        return cls(**values)

    @classmethod
    def from_run(cls, path):
        """The settings stored in a run's ``config.json`` (a file or its run directory).

        Runs written before ``"train"`` was recorded stored the flags under
        ``"args"``; those are read too (settings that no longer exist dropped).
        """
        path = os.fspath(path)
        if os.path.isdir(path):
            path = os.path.join(path, "config.json")
        try:
            with open(path, encoding="utf-8") as handle:
                stored = json.load(handle)
        except (OSError, ValueError) as exc:
            raise InputError(f"--from_config {path!r} cannot be read: {exc}") from None
        values = stored.get("train") or stored.get("args")
        if not isinstance(values, dict):
            raise InputError(f"{path} holds no training settings ('train' entry)")
        values = {k: v for k, v in values.items() if k in cls.field_names()}
        if isinstance(values.get("data"), list):  # old runs stored the flag's list
            values["data"] = values["data"][0]
        return cls(**values)

    def to_dict(self):
        """Plain dict (JSON-able), the ``"train"`` entry of config.json."""
        return asdict(self)

    def validate(self):
        """Raise InputError with one clear message for the first bad setting."""
        if not os.path.isfile(self.data):
            raise InputError(f"--data {self.data!r} does not exist")
        checks = [
            (self.n_min >= 1, f"--n_min must be >= 1 (got {self.n_min})"),
            (self.fold_multiple >= 1,
             f"--fold_multiple must be >= 1 (got {self.fold_multiple})"),
            (self.n_max is None or self.n_max >= self.n_min,
             f"--n_max ({self.n_max}) must be >= --n_min ({self.n_min})"),
            (self.batch_size >= 1, f"--batch_size must be >= 1 (got {self.batch_size})"),
            (self.nb_epoch >= 0, f"--nb_epoch must be >= 0 (got {self.nb_epoch})"),
            (self.cls_epoch >= 0, f"--cls_epoch must be >= 0 (got {self.cls_epoch})"),
            (self.nb_epoch + (0 if self.gmm_on else self.cls_epoch) >= 1,
             "nothing to train: --nb_epoch (and --cls_epoch) are 0"),
            (self.lr > 0, f"--lr must be > 0 (got {self.lr})"),
            (self.novelty_score in NOVELTY_SCORES,
             f"--novelty_score {self.novelty_score!r}: choose from {NOVELTY_SCORES}"),
            (_valid_class_weight(self.class_weight),
             f"--class_weight {self.class_weight!r}: use none, balanced, sqrt or a power "
             "between 0 and 1"),
            (self.lr_schedule in ("constant", "cosine"),
             f"--lr_schedule must be 'constant' or 'cosine' (got {self.lr_schedule!r})"),
            (self.warmup_epochs is None or self.warmup_epochs >= 0,
             f"--warmup_epochs must be >= 0 (got {self.warmup_epochs})"),
            (self.patience >= 0, f"--patience must be >= 0 (got {self.patience})"),
            (0 <= self.validation_fraction < 1,
             f"--validation_fraction must be in [0, 1) (got {self.validation_fraction})"),
            (self.checkpoint_every >= 1,
             f"--checkpoint_every must be >= 1 (got {self.checkpoint_every})"),
            (self.keep_checkpoints >= 1,
             f"--keep_checkpoints must be >= 1 (got {self.keep_checkpoints})"),
            (self.threads is None or self.threads >= 1,
             f"--threads must be >= 1 (got {self.threads})"),
            (self.time_budget is None or self.time_budget > 0,
             f"--time_budget must be > 0 minutes (got {self.time_budget})"),
            (self.augment_min_points is None or self.augment_min_points >= 2,
             f"--augment_min_points must be >= 2 (got {self.augment_min_points})"),
            (0 <= self.augment_probability <= 1,
             f"--augment_probability must be in [0, 1] (got {self.augment_probability})"),
            (self.score_n_min is None or 1 <= self.score_n_min,
             f"--score_n_min must be >= 1 (got {self.score_n_min})"),
            (0 < self.ae_budget_fraction <= 1,
             f"--ae_budget_fraction must be in (0, 1] (got {self.ae_budget_fraction})"),
            (self.reobserve_from is None or os.path.isfile(self.reobserve_from),
             f"--reobserve_from {self.reobserve_from!r} does not exist; make it with "
             "'rnngmm prepare'"),
            (self.reobserve_from is None or not self.gmm_on,
             "--reobserve_from adds synthetic objects to the estimation stage of "
             "sequential training: drop --gmm_on"),
            (self.reobserve_from is None or self.cls_epoch >= 1,
             "--reobserve_from needs an estimation stage: --cls_epoch >= 1"),
            (self.reobserve_fraction > 0,
             f"--reobserve_fraction must be > 0 (got {self.reobserve_fraction})"),
            (self.init_from is None or os.path.isfile(os.path.join(self.init_from,
                                                                   "model.keras")),
             f"--init_from {self.init_from!r} is not a finished run directory "
             "(no model.keras)"),
            (self.run_name is None or (self.run_name and "/" not in self.run_name
                                       and self.run_name not in (".", "..")),
             f"--run_name must be a plain directory name (got {self.run_name!r})"),
        ]
        for ok, message in checks:
            if not ok:
                raise InputError(message)
        existing = os.path.abspath(self.log_dir)
        while not os.path.exists(existing):
            existing = os.path.dirname(existing)
        if not os.path.isdir(existing) or not os.access(existing, os.W_OK):
            raise InputError(f"--log_dir {self.log_dir!r} cannot be written: {existing!r} is "
                             "not a writable directory")
        from rnngmm.training.options import model_config_from_args
        model = model_config_from_args(self)
        if model["n_max"] < self.n_min:
            raise InputError(f"n_max of --config {self.config} ({model['n_max']}) must be "
                             f">= --n_min ({self.n_min}); pass --n_max")
        return self


def _valid_class_weight(setting):
    from rnngmm.class_frequencies import class_weight_power
    try:
        class_weight_power(setting)
    except ValueError:
        return False
    return True
