"""The search-space file of ``rnngmm tune``: YAML or JSON over ``rnngmm train`` settings.

Format (every key of ``fixed`` and ``search`` is a
:class:`~rnngmm.training.config.TrainConfig` field, i.e. an ``rnngmm train``
flag without its dashes)::

    fixed:                      # the same in every trial
      data: data/crts8.h5
      config: small
      time_budget: 4            # minutes per trial (required, here or in search)
      period_fold: true
    search:                     # one distribution per setting
      lambda1: {type: float, low: 0.001, high: 1.0, log: true}
      lr:      {type: float, low: 0.0003, high: 0.003, log: true}
      size:    {type: int, low: 32, high: 128, step: 32}
      class_weight: {type: categorical, choices: [none, balanced]}
      estnet_size:  {type: categorical, choices: ["64 64", "128 128", [256]]}

Distribution types: ``float`` (``low``, ``high``, optional ``log`` or
``step``), ``int`` (``low``, ``high``, optional ``step`` or ``log``),
``categorical`` (``choices``: a list of numbers, strings, booleans or null).

List-valued settings (:data:`LIST_SETTINGS`, e.g. ``estnet_size``, which
``rnngmm train`` takes as ``--estnet_size 64 64``) are searched as
categorical: each choice is the flag's text (``"64 64"``) or a YAML/JSON list
(``[64, 64]``). Optuna's categorical choices must be scalars, so the study
records the text form (``"64 64"``, as the report shows it) and each trial's
settings get the list back. A fixed list setting may be written either way.

``init_from`` may be fixed: every trial then starts from that finished run's
weights (with ``nb_epoch: 0`` a trial trains only a new estimation head on
its frozen autoencoder).
"""

import json
import os
from dataclasses import dataclass

from rnngmm.errors import InputError

#: Settings a search must not set: the tuner chooses them per trial.
RESERVED = ("run_name", "log_dir", "sim_type", "resume")
#: List-valued settings and the type of their items (see the module doc).
LIST_SETTINGS = {"estnet_size": int, "novel_classes": str}
#: Distribution types and the keys each accepts.
KINDS = {"float": {"low", "high", "log", "step"}, "int": {"low", "high", "log", "step"},
         "categorical": {"choices"}}


@dataclass(frozen=True)
class Distribution:
    """One searched setting.

    Attributes
    ----------
    name : str
        ``TrainConfig`` field.
    kind : str
        ``"float"``, ``"int"`` or ``"categorical"``.
    low, high : float or int, optional
    log : bool
    step : float or int, optional
    choices : tuple, optional
    """

    name: str
    kind: str
    low: float = None
    high: float = None
    log: bool = False
    step: float = None
    choices: tuple = None

    def suggest(self, trial):
        """The value an Optuna ``trial`` proposes for this setting."""
        if self.kind == "float":
            return trial.suggest_float(self.name, self.low, self.high, log=self.log,
                                       step=self.step)
        if self.kind == "int":
            return trial.suggest_int(self.name, self.low, self.high, log=self.log,
                                     step=self.step or 1)
        return trial.suggest_categorical(self.name, list(self.choices))


@dataclass(frozen=True)
class SearchSpace:
    """A parsed search-space file: fixed settings and searched distributions."""

    fixed: dict
    distributions: tuple
    path: str = None

    @property
    def names(self):
        """Names of the searched settings, in file order."""
        return [d.name for d in self.distributions]

    def suggest(self, trial):
        """``{setting: value}`` of every searched setting for ``trial``."""
        return {d.name: d.suggest(trial) for d in self.distributions}

    def settings(self, params):
        """Training settings of a trial: the fixed ones updated with ``params``
        (list settings' text choices turned into lists)."""
        settings = dict(self.fixed)
        settings.update({name: list_value(name, value) if name in LIST_SETTINGS else value
                         for name, value in params.items()})
        return settings


def list_value(name, value, where="search space"):
    """A list setting's value as a list of its item type, from a list, the
    flag's text (``"64 64"``) or one number; InputError naming the setting otherwise."""
    kind = LIST_SETTINGS[name]
    items = value.split() if isinstance(value, str) else value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        items = [value]
    converted = None
    if isinstance(items, (list, tuple)) and items:
        converted = [_item(kind, v) for v in items]
    if converted is None or None in converted:
        raise InputError(f"{where}: {name!r} takes a non-empty list of {kind.__name__} "
                         f"(written \"64 64\" or [64, 64]); got {value!r}")
    return converted


def _item(kind, value):
    """``value`` as ``kind`` (int or str), or None when it is not one."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    if kind is str:
        return str(value)
    try:
        number = float(value)
    except ValueError:
        return None
    return int(number) if number.is_integer() else None


def list_text(name, value, where="search space"):
    """The text form (``"64 64"``) of a list setting's choice, as Optuna records it."""
    return " ".join(str(v) for v in list_value(name, value, where))


def _read(path):
    if not os.path.isfile(path):
        raise InputError(f"--space {path!r} does not exist")
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise InputError(f"--space {path!r} cannot be read: {exc}") from None
    if path.lower().endswith(".json"):
        try:
            return json.loads(text)
        except ValueError as exc:
            raise InputError(f"--space {path}: not valid JSON ({exc})") from None
    import yaml
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError(f"--space {path}: not valid YAML ({exc})") from None


def _number(value, what):
    """``value`` as a number; YAML 1.1 reads ``1e-3`` (no dot) as text, so numeric
    text is accepted too."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{what} must be a number (got {value!r})")
    return value


def parse_distribution(name, spec, where="search space"):
    """A :class:`Distribution` from one ``search`` entry; InputError naming the problem."""
    if not isinstance(spec, dict) or "type" not in spec:
        raise InputError(f"{where}: {name!r} must be a mapping with a 'type' "
                         f"(float, int or categorical), got {spec!r}")
    kind = spec["type"]
    if kind not in KINDS:
        raise InputError(f"{where}: {name!r} has type {kind!r}; use float, int or categorical")
    extra = sorted(set(spec) - KINDS[kind] - {"type"})
    if extra:
        raise InputError(f"{where}: {name!r} ({kind}) does not take {extra}; it takes "
                         f"{sorted(KINDS[kind])}")
    if name in LIST_SETTINGS and kind != "categorical":
        raise InputError(f"{where}: {name!r} takes a list: search it as categorical "
                         "(choices: [\"64 64\", \"128 128\"])")
    if kind == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, list) or not choices:
            raise InputError(f"{where}: {name!r} needs a non-empty list 'choices'")
        if name in LIST_SETTINGS:
            choices = [list_text(name, choice, where) for choice in choices]
            if len(set(choices)) < len(choices):
                raise InputError(f"{where}: {name!r} has repeated choices {choices}")
        for choice in choices:
            if not (choice is None or isinstance(choice, (bool, int, float, str))):
                raise InputError(f"{where}: choice {choice!r} of {name!r} must be a number, "
                                 "string, boolean or null")
        return Distribution(name, kind, choices=tuple(choices))
    for key in ("low", "high"):
        if key not in spec:
            raise InputError(f"{where}: {name!r} ({kind}) needs '{key}'")
    low = _number(spec["low"], f"{where}: low of {name!r}")
    high = _number(spec["high"], f"{where}: high of {name!r}")
    log = spec.get("log", False)
    step = spec.get("step")
    if not isinstance(log, bool):
        raise InputError(f"{where}: log of {name!r} must be true or false (got {log!r})")
    if step is not None:
        step = _number(step, f"{where}: step of {name!r}")
        if step <= 0:
            raise InputError(f"{where}: step of {name!r} must be > 0 (got {step})")
        if log:
            raise InputError(f"{where}: {name!r} cannot have both 'log' and 'step'")
    if kind == "int" and not all(isinstance(v, int) for v in (low, high, step or 1)):
        raise InputError(f"{where}: {name!r} is an int distribution: low, high and step "
                         f"must be integers (got {low!r}, {high!r}, {step!r})")
    if low > high:
        raise InputError(f"{where}: {name!r} has low {low} > high {high}")
    if log and low <= 0:
        raise InputError(f"{where}: {name!r} is log-scaled, so low must be > 0 (got {low})")
    return Distribution(name, kind, low=low, high=high, log=log, step=step)


def parse_space(content, path=None, field_names=None):
    """A :class:`SearchSpace` from the decoded file ``content``.

    Parameters
    ----------
    content : dict
        ``{"fixed": {...}, "search": {...}}``.
    path : str, optional
        For error messages.
    field_names : sequence of str, optional
        Valid setting names (default: :class:`TrainConfig` fields).

    Raises
    ------
    InputError
        Naming the first problem: not a mapping, unknown sections or settings,
        reserved settings, a setting both fixed and searched, bad distributions,
        no searched setting, or no ``time_budget``.
    """
    if field_names is None:
        from rnngmm.training.config import TrainConfig
        field_names = TrainConfig.field_names()
    where = f"--space {path}" if path else "search space"
    if not isinstance(content, dict):
        raise InputError(f"{where}: the file must hold a mapping with 'search' (and "
                         f"optionally 'fixed'), got {type(content).__name__}")
    unknown_sections = sorted(set(content) - {"fixed", "search"})
    if unknown_sections:
        raise InputError(f"{where}: unknown section(s) {unknown_sections}; use 'fixed' "
                         "and 'search'")
    fixed = content.get("fixed") or {}
    search = content.get("search") or {}
    for section, values in (("fixed", fixed), ("search", search)):
        if not isinstance(values, dict):
            raise InputError(f"{where}: '{section}' must be a mapping of setting names")
        unknown = sorted(set(values) - set(field_names))
        if unknown:
            raise InputError(f"{where}: unknown setting(s) {unknown} in '{section}'; use "
                             "'rnngmm train' flag names without dashes (see rnngmm train "
                             "--help)")
        reserved = sorted(set(values) & set(RESERVED))
        if reserved:
            raise InputError(f"{where}: {reserved} in '{section}' are set by rnngmm tune "
                             "for each trial; remove them")
    both = sorted(set(fixed) & set(search))
    if both:
        raise InputError(f"{where}: {both} are both fixed and searched; keep one")
    if not search:
        raise InputError(f"{where}: 'search' names no setting to search")
    if "time_budget" not in fixed and "time_budget" not in search:
        raise InputError(f"{where}: each trial must be budgeted: set time_budget (minutes) "
                         "in 'fixed'")
    distributions = tuple(parse_distribution(name, spec, where)
                          for name, spec in search.items())
    fixed = {name: list_value(name, value, f"{where}: fixed")
             if name in LIST_SETTINGS and value not in (None, []) else value
             for name, value in fixed.items()}
    return SearchSpace(fixed, distributions, path)


def load_space(path):
    """Read and parse a YAML (``.yaml``/``.yml``) or JSON (``.json``) space file."""
    return parse_space(_read(os.fspath(path)), os.fspath(path))
