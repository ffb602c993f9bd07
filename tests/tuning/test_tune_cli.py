"""``rnngmm tune`` end to end on tiny trials: search, report, replay, interruption."""

import json

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


def test_signal_outside_the_training_loop_requeues_the_trial(tmp_path, data, monkeypatch):
    """SIGTERM while a trial loads its data (before the loop's own handler is
    installed): the trial is failed and re-queued at once, exit code 75, and
    nothing is left RUNNING."""
    import os
    import signal
    import time

    from rnngmm.training import driver

    def preempted_while_loading(config, on_epoch=None):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
        raise AssertionError("the signal should have stopped the trial")

    monkeypatch.setattr(driver, "run_training", preempted_while_loading)
    space = write_space(tmp_path / "space.json", data)
    before = signal.getsignal(signal.SIGTERM)
    assert tune(tmp_path, space, "--trials", 2) == 75
    assert signal.getsignal(signal.SIGTERM) is before  # handlers restored
    trials = trials_of(tmp_path)
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.WAITING]
    assert "SIGTERM outside the training loop" in trials[0].user_attrs["rnngmm_fail_reason"]
    assert trials[1].user_attrs["rnngmm_retry_of"] == 0
