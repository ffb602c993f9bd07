"""``rnngmm tune --report``: trials table, parameter importances, best run.

Writes ``<stem>.ecsv`` (one row per trial), ``<stem>.md`` (the same table,
the importances and the best trial) and ``<stem>.json`` (importances and the
best trial's ``config.json``, which ``rnngmm train --from_config`` replays).

Each row names the objective its trial was judged on; a leave-one-class-out
trial also shows each fold's AUROC (``loco_auroc_<class>``) and all its fold
run directories. Its best trial's folds each left one class out, so the
report writes ``<stem>_best_config.json``: the first fold's settings with
every class kept (``novel_classes`` emptied), for ``--from_config``.
"""

import math
import os

import numpy as np
from astropy.table import Table

from rnngmm.io.atomic import atomic_path
from rnngmm.scoring.report import write_json, write_text
from rnngmm.tuning import study as studies

#: The validation figures of each trial, as table columns.
FIGURES = ("macro_f1", "balanced_accuracy", "accuracy")


def _note(trial):
    attrs = trial.user_attrs
    if attrs.get(studies.SURPLUS):
        return "surplus (beyond --trials, never trained)"
    parts = []
    if studies.PRUNED_AT in attrs:
        parts.append(f"pruned after epoch {int(attrs[studies.PRUNED_AT]) + 1}")
    if studies.FAIL_REASON in attrs:
        parts.append(str(attrs[studies.FAIL_REASON]))
    if studies.RETRY_OF in attrs:
        parts.append(f"retry of trial {attrs[studies.RETRY_OF]}")
    return "; ".join(parts)


def _float(value):
    return np.nan if value is None else float(value)


def fold_classes(study):
    """Held-out classes of the study's LOCO trials: the recorded ``--loco_classes``
    first, then any other a trial's folds hold."""
    classes = list(study.user_attrs.get(studies.LOCO_CLASSES) or [])
    for trial in study.get_trials(deepcopy=False):
        classes += [c for c in trial.user_attrs.get(studies.LOCO_FOLDS) or {}
                    if c not in classes]
    return classes


def _run_dirs(trial):
    folds = trial.user_attrs.get(studies.LOCO_FOLDS)
    if folds:
        return "; ".join(str(f.get("run_dir", "")) for f in folds.values())
    return str(trial.user_attrs.get(studies.RUN_DIR, ""))


def trials_table(study, param_names=None):
    """One row per trial: number, state, value, objective, per-fold AUROCs of
    LOCO trials, duration, figures, params, run directories, note."""
    trials = study.get_trials(deepcopy=False)
    names = list(param_names or sorted({p for t in trials for p in t.params}))
    folds = fold_classes(study)
    columns = {"number": [t.number for t in trials],
               "state": [t.state.name for t in trials],
               "value": [_float(t.value) if t.values else np.nan for t in trials],
               "objective": [str(t.user_attrs.get(studies.OBJECTIVE, "")) for t in trials]}
    for label in folds:
        columns[f"loco_auroc_{label}"] = [
            _float(((t.user_attrs.get(studies.LOCO_FOLDS) or {}).get(label) or {})
                   .get("auroc")) for t in trials]
    columns["duration_s"] = [t.duration.total_seconds() if t.duration else np.nan
                             for t in trials]
    for figure in FIGURES:
        columns[f"val_{figure}"] = [_float((t.user_attrs.get(studies.METRICS) or {})
                                           .get(figure)) for t in trials]
    for name in names:
        values = [t.params.get(name) for t in trials]
        numeric = all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))
                      for v in values)
        columns[name] = ([_float(v) for v in values] if numeric
                         else ["" if v is None else str(v) for v in values])
    columns["run_dir"] = [_run_dirs(t) for t in trials]
    columns["note"] = [_note(t) for t in trials]
    table = Table(columns)
    table.meta["study"] = study.study_name
    table.meta["params"] = names
    table.meta["fold_columns"] = [f"loco_auroc_{label}" for label in folds]
    return table


def importances(study):
    """``({param: importance}, note)``; empty with the reason when there are too
    few completed trials (fANOVA needs at least two with differing parameters)."""
    from optuna.importance import FanovaImportanceEvaluator, get_param_importances
    from optuna.trial import TrialState
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(complete) < 2:
        return {}, (f"parameter importances need at least 2 completed trials "
                    f"({len(complete)} so far)")
    try:
        found = get_param_importances(study, evaluator=FanovaImportanceEvaluator(seed=0))
    except (RuntimeError, ValueError) as exc:
        return {}, f"parameter importances not computed: {exc}"
    return {k: float(v) for k, v in found.items()}, ""


def best_trial(study):
    """``{"number", "value", "params", "config"}`` of the best completed trial, or None."""
    try:
        best = study.best_trial
    except ValueError:
        return None
    run_dir = best.user_attrs.get(studies.RUN_DIR)
    found = {"number": best.number, "value": float(best.value), "params": dict(best.params),
             "run_dir": run_dir,
             "config": os.path.join(run_dir, "config.json") if run_dir else None}
    folds = best.user_attrs.get(studies.LOCO_FOLDS)
    if folds:
        found["loco_folds"] = folds
    return found


def write_all_classes_config(fold_config, path):
    """Write the settings of a LOCO fold's ``config.json`` with every class kept
    (``novel_classes`` emptied, no run name) as a ``--from_config`` file."""
    import dataclasses

    from rnngmm.training.config import TrainConfig
    settings = dataclasses.replace(TrainConfig.from_run(fold_config), novel_classes=[],
                                   run_name=None)
    return write_json(path, {"train": settings.to_dict(),
                             "note": f"settings of {fold_config} with every class kept"})


def _cell(value):
    if isinstance(value, (float, np.floating)):
        return "" if not math.isfinite(value) else f"{value:.4g}"
    return str(value)


def objective_text(objective):
    """One sentence saying what the trials' value is."""
    if objective.startswith("loco_"):
        return (f"Objective: {objective} (maximised): mean over the held-out classes of "
                "the AUROC of each fold run's own novelty score, held-out class vs known "
                "validation objects" + (" (averaged with the fold's validation macro-F1)"
                                        if objective.startswith("loco_auroc_macro_f1")
                                        else "") + ".")
    return f"Objective: validation {objective} (maximised), per object."


def markdown(table, found, note, best, objective="value"):
    """The report as Markdown text."""
    shown = ["number", "state", "value", "objective", *table.meta["fold_columns"],
             "duration_s", *table.meta["params"], "note"]
    lines = [f"# Hyper-parameter search `{table.meta['study']}`", "",
             objective_text(objective), "",
             "| " + " | ".join(shown) + " |", "|" + "---|" * len(shown)]
    for row in table:
        lines.append("| " + " | ".join(_cell(row[c]) for c in shown) + " |")
    lines += ["", "## Parameter importances (fANOVA)", ""]
    if found:
        lines += [f"- {name}: {value:.3f}" for name, value in found.items()]
    else:
        lines.append(note)
    lines += ["", "## Best trial", ""]
    if best is None:
        lines.append("no completed trial yet")
    else:
        lines += [f"trial {best['number']}: {objective} {best['value']:.4f}, "
                  f"parameters {best['params']}", ""]
        if best.get("fold_config"):
            lines += [f"its folds left one class out each; `{best['config']}` holds the "
                      f"settings of `{best['fold_config']}` with every class kept", ""]
        lines.append(f"replay: `rnngmm train --from_config {best['config']} "
                     "--run_name best --time_budget MINUTES`")
    return "\n".join(lines) + "\n"


def default_stem(config):
    """Report stem: ``<journal file without extension>_report``, or
    ``<study name>_report`` in the working directory for a database URL."""
    from rnngmm.tuning.config import is_database_url
    if is_database_url(config.study):
        return f"{config.name}_report"
    return os.path.splitext(os.fspath(config.study))[0] + "_report"


def write_report(study, stem, objective="value"):
    """Write ``<stem>.ecsv``, ``.md`` and ``.json`` (and ``<stem>_best_config.json``
    when the best trial is a LOCO one); return ``(markdown text, paths)``.

    ``objective`` names the objective of a study that does not record it
    (studies of earlier versions); the recorded one wins.
    """
    if studies.OBJECTIVE in study.user_attrs:
        objective = studies.describe_objective(study.user_attrs)
    table = trials_table(study)
    found, note = importances(study)
    best = best_trial(study)
    written = []
    if best and best.get("loco_folds") and best["config"]:
        best["fold_config"] = best["config"]
        best["config"] = write_all_classes_config(best["config"], f"{stem}_best_config.json")
        written.append(best["config"])
    ecsv = f"{stem}.ecsv"
    with atomic_path(ecsv) as tmp:
        table.write(tmp, format="ascii.ecsv", overwrite=True)
    text = markdown(table, found, note, best, objective)
    md = write_text(f"{stem}.md", text)
    summary = {"study": study.study_name, "objective": objective,
               "trials": len(table), "states": {s: int((table["state"] == s).sum())
                                               for s in sorted(set(table["state"]))},
               "importances": found, "importances_note": note, "best": best}
    js = write_json(f"{stem}.json", summary)
    return text, [ecsv, md, js, *written]
