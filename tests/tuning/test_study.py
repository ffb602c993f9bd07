"""The shared study: journal storage, quota, surplus trials, heartbeats, stale sweep."""

import time

import pytest

optuna = pytest.importorskip("optuna")
from optuna.trial import TrialState  # noqa: E402

from rnngmm.tuning import study as studies  # noqa: E402
from rnngmm.tuning.config import TuneConfig  # noqa: E402


def open_(tmp_path, **changes):
    config = TuneConfig(study=str(tmp_path / "s.journal"), space=None, **changes)
    return studies.open_study(config)


def test_two_handles_on_one_journal_share_the_study(tmp_path):
    a, b = open_(tmp_path), open_(tmp_path)
    trial = a.ask()
    trial.suggest_float("x", 0, 1)
    a.tell(trial, 0.5)
    assert [t.state for t in b.get_trials()] == [TrialState.COMPLETE]
    assert b.study_name == "s" and b.direction == optuna.study.StudyDirection.MAXIMIZE


def test_database_url_storage(tmp_path):
    config = TuneConfig(study=f"sqlite:///{tmp_path / 's.db'}", space=None)
    study = studies.open_study(config)
    study.tell(study.ask(), 1.0)
    assert len(studies.open_study(config).get_trials()) == 1


def test_stale_running_trial_is_failed_and_requeued_once(tmp_path):
    study = open_(tmp_path)
    dead = study.ask()
    dead.suggest_float("x", 0, 1)
    alive = study.ask()
    alive.suggest_float("x", 0, 1)
    now = time.time()
    dead.set_user_attr(studies.HEARTBEAT, now - 100)
    alive.set_user_attr(studies.HEARTBEAT, now - 5)
    other = open_(tmp_path)  # another task sweeps
    assert studies.sweep_stale(other, grace_period=30, max_retries=1, now=now) == [dead.number]
    trials = study.get_trials()
    assert trials[dead.number].state == TrialState.FAIL
    assert "stale" in trials[dead.number].user_attrs[studies.FAIL_REASON]
    assert trials[alive.number].state == TrialState.RUNNING
    retry = trials[-1]
    assert retry.state == TrialState.WAITING
    assert retry.user_attrs[studies.RETRY_OF] == dead.number
    assert retry.user_attrs[studies.ATTEMPT] == 1
    assert retry.user_attrs[studies.RETRY_PARENT] == dead.number
    assert studies.quota(study).failed == 0  # re-queued: no failure of its settings
    # a second sweep by a third task fails nothing more
    assert studies.sweep_stale(open_(tmp_path), 30, 1, now=now) == []
    # the retry runs with the same parameters, dies too: failed, not re-queued again
    popped = study.ask()
    assert popped.number == retry.number
    assert popped.suggest_float("x", 0, 1) == dead.params["x"]
    popped.set_user_attr(studies.HEARTBEAT, now - 100)
    assert studies.sweep_stale(study, 30, 1, now=now) == [popped.number]
    assert not study.get_trials(states=(TrialState.WAITING,))
    assert studies.quota(study).failed == 1  # retries used up: now it is a failure


def test_a_trial_without_heartbeat_is_judged_by_its_start(tmp_path):
    study = open_(tmp_path)
    study.ask()
    assert studies.sweep_stale(study, 30, 0) == []
    assert studies.sweep_stale(study, 30, 0, now=time.time() + 60) == [0]
    assert study.get_trials()[0].state == TrialState.FAIL
    assert not study.get_trials(states=(TrialState.WAITING,))  # max_retries 0


def test_a_trial_failed_by_another_task_is_not_failed_twice(tmp_path):
    a, b = open_(tmp_path), open_(tmp_path)
    trial = a.ask()
    frozen = b.get_trials()[0]
    assert studies.fail_trial(b, frozen, "first", retry=True, max_retries=1)
    assert not studies.fail_trial(a, frozen, "second", retry=True, max_retries=1)
    assert len(a.get_trials(states=(TrialState.WAITING,))) == 1
    assert a.get_trials()[trial.number].user_attrs[studies.FAIL_REASON] == "first"


def test_quota_and_next_action(tmp_path):
    study = open_(tmp_path)
    assert studies.next_action(study, 2, 5)[0] == "ask"
    first = studies.claim_trial(study, 2)
    second = studies.claim_trial(study, 2)
    assert first.number == 0 and second.number == 1
    # both trials running elsewhere: wait (one may still go stale)
    action, counts = studies.next_action(study, 2, 5)
    assert action == "wait" and counts.running == 2 and counts.live == 2
    study.tell(first, 1.0)
    study.tell(second, state=TrialState.PRUNED)
    assert studies.next_action(study, 2, 5)[0] == "stop"


def test_racing_tasks_give_back_surplus_trials(tmp_path):
    """Two tasks each saw one free place and asked: the later trial yields."""
    a, b = open_(tmp_path), open_(tmp_path)
    a.tell(a.ask(), 1.0)
    assert studies.next_action(a, 2, 5)[0] == "ask"
    assert studies.next_action(b, 2, 5)[0] == "ask"
    mine = studies.claim_trial(a, 2)
    theirs = studies.claim_trial(b, 2)
    assert mine is not None and mine.number == 1
    assert theirs is None
    surplus = a.get_trials()[2]
    assert surplus.state == TrialState.FAIL and surplus.user_attrs[studies.SURPLUS]
    counts = studies.quota(a)
    assert counts.failed == 0 and counts.live == 2  # surplus is no failure


def test_failures_stop_the_search(tmp_path):
    study = open_(tmp_path)
    for _ in range(2):
        study.tell(study.ask(), state=TrialState.FAIL)
    assert studies.next_action(study, 5, 2)[0] == "failed"


def test_heartbeat_thread_keeps_a_trial_alive(tmp_path):
    study = open_(tmp_path)
    trial = study.ask()
    with studies.Heartbeat(trial, interval=0.2):
        time.sleep(1.0)
        beat = study.get_trials()[0].user_attrs[studies.HEARTBEAT]
        assert time.time() - beat < 0.6
        assert studies.sweep_stale(open_(tmp_path), grace_period=0.8, max_retries=0) == []
    time.sleep(1.0)
    assert studies.sweep_stale(open_(tmp_path), grace_period=0.8, max_retries=0) == [0]
