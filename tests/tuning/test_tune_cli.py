"""``rnngmm tune`` end to end on tiny trials: search, report, replay, interruption."""

import json

import numpy as np
import pytest

from helpers import run_cli

optuna = pytest.importorskip("optuna")
from optuna.trial import TrialState  # noqa: E402

from rnngmm.tuning.config import TuneConfig  # noqa: E402
from rnngmm.tuning.study import open_study  # noqa: E402

#: Seconds-long trials: tiny sequential model, 2 + 2 epochs.
FIXED = {"config": "tiny", "n_min": 20, "n_max": 32, "batch_size": 8, "nb_epoch": 2,
         "cls_epoch": 2, "patience": 0, "threads": 1, "time_budget": 1}
SEARCH = {"lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
          "class_weight": {"type": "categorical", "choices": ["none", "balanced"]}}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from training_sim import write_sim_dataset
    return write_sim_dataset(tmp_path_factory.mktemp("tune_data") / "d.h5")


def write_space(path, data, fixed=None, search=None):
    search = search or SEARCH
    fixed = {k: v for k, v in {**FIXED, **(fixed or {})}.items() if k not in search}
    path.write_text(json.dumps({"fixed": {"data": str(data), **fixed}, "search": search}))
    return path


def tune(tmp_path, space, *flags):
    return run_cli("tune", "--space", space, "--study", tmp_path / "s.journal",
                   "--log_dir", tmp_path / "logs", "--seed", 0, *flags)


def trials_of(tmp_path):
    return open_study(TuneConfig(study=str(tmp_path / "s.journal")), create=False).get_trials()


@pytest.mark.slow
def test_search_report_and_replay_of_the_best(tmp_path, data, capsys):
    space = write_space(tmp_path / "space.json", data)
    assert tune(tmp_path, space, "--trials", 3, "--pruner", "none") == 0
    trials = trials_of(tmp_path)
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 3
    for trial in trials:
        run_dir = tmp_path / "logs" / "tune" / f"s-trial{trial.number:04d}"
        assert trial.user_attrs["rnngmm_run_dir"] == str(run_dir)
        stored = json.loads((run_dir / "config.json").read_text())["train"]
        assert stored["lr"] == trial.params["lr"]
        assert stored["class_weight"] == trial.params["class_weight"]
        assert stored["time_budget"] == 1 and stored["nb_epoch"] == 2
        assert trial.value == trial.user_attrs["rnngmm_validation"]["macro_f1"]
    # a second call on a finished study runs nothing more
    assert tune(tmp_path, space, "--trials", 3) == 0
    assert len(trials_of(tmp_path)) == 3

    capsys.readouterr()
    assert run_cli("tune", "--study", tmp_path / "s.journal", "--report") == 0
    printed = capsys.readouterr().out
    from astropy.table import Table
    table = Table.read(tmp_path / "s_report.ecsv")
    assert list(table["number"]) == [0, 1, 2] and set(table["state"]) == {"COMPLETE"}
    assert {"lr", "class_weight", "val_macro_f1", "run_dir"} <= set(table.colnames)
    summary = json.loads((tmp_path / "s_report.json").read_text())
    best = max(trials, key=lambda t: t.value)
    assert summary["best"]["number"] == best.number
    assert summary["best"]["config"] == best.user_attrs["rnngmm_run_dir"] + "/config.json"
    assert set(summary["importances"]) == {"lr", "class_weight"} or summary["importances_note"]
    assert f"trial {best.number}" in printed and summary["best"]["config"] in printed
    assert (tmp_path / "s_report.md").read_text() in printed

    # the best trial's config.json replays with rnngmm train --from_config
    assert run_cli("train", "--from_config", summary["best"]["config"],
                   "--run_name", "replay") == 0
    replay = json.loads((tmp_path / "logs" / "tune" / "replay" / "config.json")
                        .read_text())["train"]
    assert replay["lr"] == best.params["lr"]
    assert replay["class_weight"] == best.params["class_weight"]
    assert replay["run_name"] == "replay"
    assert (tmp_path / "logs" / "tune" / "replay" / "model.keras").is_file()


@pytest.mark.slow
def test_interrupted_trial_is_failed_requeued_and_rerun(tmp_path, data, monkeypatch):
    space = write_space(tmp_path / "space.json", data)
    monkeypatch.setenv("RNNGMM_DEBUG_SIGNAL_AT", "0:2:SIGTERM")
    assert tune(tmp_path, space, "--trials", 1) == 75
    first = trials_of(tmp_path)
    assert [t.state for t in first] == [TrialState.FAIL, TrialState.WAITING]
    assert "interrupted" in first[0].user_attrs["rnngmm_fail_reason"]
    assert first[1].user_attrs["rnngmm_retry_of"] == 0
    monkeypatch.delenv("RNNGMM_DEBUG_SIGNAL_AT")
    assert tune(tmp_path, space, "--trials", 1) == 0
    second = trials_of(tmp_path)
    assert [t.state for t in second] == [TrialState.FAIL, TrialState.COMPLETE]
    assert second[1].params == first[0].params  # the same parameters, re-run


def test_rejected_settings_fail_the_trial_and_failures_stop_the_search(tmp_path, data):
    """Sampled settings rnngmm train rejects fail that trial (no training);
    --max_failed such failures end the search with exit code 1."""
    space = write_space(tmp_path / "space.json", data,
                        search={"n_min": {"type": "int", "low": 40, "high": 50}})
    assert tune(tmp_path, space, "--trials", 3, "--max_failed", 2) == 1
    trials = trials_of(tmp_path)
    assert [t.state for t in trials] == [TrialState.FAIL] * 2
    assert all("must be >= --n_min" in t.user_attrs["rnngmm_fail_reason"] for t in trials)
    assert not (tmp_path / "logs" / "tune" / "s-trial0000" / "config.json").exists()


def test_bad_flags_and_files_exit_2_with_the_reason(tmp_path, data, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"search": {"lamda1": {"type": "float", "low": 0, "high": 1}}}))
    assert tune(tmp_path, bad, "--trials", 1) == 2
    assert "unknown setting(s) ['lamda1']" in capsys.readouterr().err
    assert run_cli("tune", "--study", tmp_path / "none.journal", "--report") == 2
    assert "nothing to report" in capsys.readouterr().err


def test_report_of_a_study_with_too_few_trials(tmp_path):
    from rnngmm.tuning.report import write_report
    study = open_study(TuneConfig(study=str(tmp_path / "s.journal")))
    trial = study.ask()
    trial.suggest_float("lr", 1e-4, 1e-2, log=True)
    study.tell(trial, state=TrialState.FAIL)
    text, paths = write_report(study, str(tmp_path / "r"), "macro_f1")
    assert "at least 2 completed trials (0 so far)" in text
    assert "no completed trial yet" in text
    summary = json.loads((tmp_path / "r.json").read_text())
    assert summary["best"] is None and summary["states"] == {"FAIL": 1}
    assert len(paths) == 3


@pytest.mark.slow
def test_signal_outside_the_training_loop_requeues_the_trial(tmp_path, data, monkeypatch):
    """SIGTERM while a trial loads its data (before the loop's own handler is
    installed): the trial is failed and re-queued at once, exit code 75, and
    nothing is left RUNNING."""
    import os
    import signal
    import time

    from rnngmm.tuning import runner

    def preempted_while_loading(config, on_epoch=None):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
        raise AssertionError("the signal should have stopped the trial")

    monkeypatch.setattr(runner, "run_training", preempted_while_loading)
    space = write_space(tmp_path / "space.json", data)
    before = signal.getsignal(signal.SIGTERM)
    assert tune(tmp_path, space, "--trials", 2) == 75
    assert signal.getsignal(signal.SIGTERM) is before  # handlers restored
    trials = trials_of(tmp_path)
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.WAITING]
    assert "SIGTERM outside the training loop" in trials[0].user_attrs["rnngmm_fail_reason"]
    assert trials[1].user_attrs["rnngmm_retry_of"] == 0


def _own_score_auroc(run_dir):
    """AUROC of the run's own novelty score, recomputed from its scoring table:
    the held-out class's objects ("novel") vs the known validation objects."""
    from astropy.table import Table
    from sklearn.metrics import roc_auc_score

    from rnngmm.rundir import load_run
    run = load_run(run_dir)
    table = Table.read(run_dir / "scoring" / "objects.ecsv")
    table = table[(table["status"] == "ok") & np.isin(table["role"], ["validation", "novel"])]
    predicted = np.array([list(run.class_names).index(c) for c in table["predicted_class"]])
    score = run.novelty.novelty_scores(np.asarray(table["energy"], float), predicted,
                                       np.asarray(table["class_probability"], float))
    return roc_auc_score(table["role"] == "novel", score), table


@pytest.mark.slow
def test_loco_objective_trains_one_run_per_held_out_class(tmp_path, data, capsys):
    """--objective loco_auroc --loco_classes RRab EW: each trial trains a run
    without RRab and one without EW (kept as <study>-trial<N>-loco_<C>); its
    value is the mean AUROC of the runs' own novelty score, held-out class vs
    known VALIDATION objects; the report shows the objective and each fold."""
    space = write_space(tmp_path / "space.json", data)
    assert tune(tmp_path, space, "--trials", 1, "--objective", "loco_auroc",
                "--loco_classes", "RRab", "EW") == 0
    trials = trials_of(tmp_path)
    assert [t.state for t in trials] == [TrialState.COMPLETE]
    for trial in trials:
        folds = trial.user_attrs["rnngmm_loco_folds"]
        assert list(folds) == ["RRab", "EW"]
        assert trial.user_attrs["rnngmm_objective"] == "loco_auroc"
        for label, fold in folds.items():
            run_dir = tmp_path / "logs" / "tune" / f"s-trial{trial.number:04d}-loco_{label}"
            assert fold["run_dir"] == str(run_dir)
            stored = json.loads((run_dir / "config.json").read_text())
            assert stored["train"]["novel_classes"] == [label]
            assert label not in stored["class_names"]
            assert stored["train"]["lr"] == trial.params["lr"]
            auroc, table = _own_score_auroc(run_dir)
            assert fold["auroc"] == pytest.approx(auroc)
            assert fold["novelty_score"] == "class_energy_msp"
            # known = the run's validation objects only; novel = the held-out class
            split = json.loads((run_dir / "split.json").read_text())
            known = set(table["id"][table["role"] == "validation"])
            assert known and known <= set(split["validation"])
            assert set(table["label"][table["role"] == "novel"]) == {label}
            assert (fold["n_known"], fold["n_novel"]) == (len(known), 12)
        assert trial.value == pytest.approx(np.mean([f["auroc"] for f in folds.values()]))
        assert trial.user_attrs["rnngmm_run_dir"] == folds["RRab"]["run_dir"]
        # the first fold reported its epochs (steps 0-3: 2 autoencoder + 2 estimation)
        from rnngmm.rundir import read_history
        history = read_history(tmp_path / "logs" / "tune" / f"s-trial{trial.number:04d}-"
                               "loco_RRab" / "training.csv")
        assert sorted(trial.intermediate_values) == [0, 1, 2, 3]
        assert [trial.intermediate_values[e] for e in (0, 1)] == pytest.approx(
            [-row["val_recon"] for row in history[:2]])

    capsys.readouterr()
    assert run_cli("tune", "--study", tmp_path / "s.journal", "--report") == 0
    printed = capsys.readouterr().out
    from astropy.table import Table
    table = Table.read(tmp_path / "s_report.ecsv")
    assert list(table["objective"]) == ["loco_auroc"]
    for trial, row in zip(trials, table):
        folds = trial.user_attrs["rnngmm_loco_folds"]
        assert row["loco_auroc_RRab"] == pytest.approx(folds["RRab"]["auroc"])
        assert row["loco_auroc_EW"] == pytest.approx(folds["EW"]["auroc"])
        assert row["run_dir"] == f"{folds['RRab']['run_dir']}; {folds['EW']['run_dir']}"
    assert "loco_auroc --loco_classes RRab EW (maximised)" in printed
    assert "| loco_auroc_RRab | loco_auroc_EW |" in printed
    # the best trial's settings with every class kept, for --from_config
    summary = json.loads((tmp_path / "s_report.json").read_text())
    assert summary["best"]["config"] == str(tmp_path / "s_report_best_config.json")
    from rnngmm.training.config import TrainConfig
    best = TrainConfig.from_run(summary["best"]["config"])
    assert best.novel_classes == [] and best.run_name is None
    assert best.lr == summary["best"]["params"]["lr"]


@pytest.mark.slow
def test_head_only_trials_from_a_finished_autoencoder(tmp_path, data):
    """init_from + nb_epoch 0 in 'fixed': each trial copies the finished run's
    autoencoder and trains only a new head; estnet_size (a list flag) is searched
    as its flag text and reaches the trial's run as a list."""
    from rnngmm.rundir import load_model
    from rnngmm.training.config import TrainConfig
    from rnngmm.training.driver import run_training
    source = TrainConfig(data=str(data), config="tiny", n_min=20, n_max=32, batch_size=8,
                         nb_epoch=2, cls_epoch=1, threads=1, patience=0,
                         log_dir=str(tmp_path), sim_type="ae", run_name="ae").validate()
    assert run_training(source) == 0
    source_dir = tmp_path / "ae" / "ae"
    space = write_space(tmp_path / "space.json", data,
                        fixed={"init_from": str(source_dir), "nb_epoch": 0},
                        search={"estnet_size": {"type": "categorical",
                                                "choices": ["16 8", [8, 8]]}})
    assert tune(tmp_path, space, "--trials", 2, "--pruner", "none") == 0
    trials = trials_of(tmp_path)
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 2

    def weights(run_dir):
        model = load_model(run_dir / "model.keras")
        # without the model's own name, which Keras numbers per process
        # ("rnngmm", "rnngmm_1", ...) depending on the models built before
        return {w.path.split("/", 1)[-1]: w.numpy() for w in model.weights}
    before = weights(source_dir)
    for trial in trials:
        run_dir = tmp_path / "logs" / "tune" / f"s-trial{trial.number:04d}"
        stored = json.loads((run_dir / "config.json").read_text())
        sizes = [int(v) for v in trial.params["estnet_size"].split()]
        assert stored["train"]["estnet_size"] == stored["model"]["estnet_size"] == sizes
        assert stored["train"]["init_from"] == str(source_dir)
        history = (run_dir / "training.csv").read_text().strip().splitlines()
        assert len(history) == 1 + 2 and all(",estimation," in r for r in history[1:])
        after = weights(run_dir)
        autoencoder = [k for k in after if "estimation_net" not in k]
        assert autoencoder and all(np.array_equal(after[k], before[k]) for k in autoencoder)
        head = [k for k in after if "estimation_net" in k]
        assert [after[k].shape[-1] for k in head if k.endswith("kernel")][:len(sizes)] == sizes
