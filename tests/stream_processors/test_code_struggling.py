"""StrugglingTracker: one alert at the N-th consecutive failure on one exercise, bounded JSON state."""

from __future__ import annotations

import copy
import json

import pytest

from stream_processors.code import StrugglingTracker


def run(tracker: StrugglingTracker, events: list[tuple[str, bool, str]], state: dict | None = None) -> tuple:
    alerts = []
    for exercise, failed, event_id in events:
        state, alert = tracker.update(state, exercise, failed, event_id)
        if alert is not None:
            alerts.append(alert)
    return state, alerts


def test_alerts_once_at_the_nth_consecutive_failure() -> None:
    t = StrugglingTracker(threshold=3)
    state, alerts = run(t, [("ex1", True, "e1"), ("ex1", True, "e2")])
    assert alerts == []
    state, alert = t.update(state, "ex1", True, "e3")
    assert alert == {"exercise_id": "ex1", "failures": 3, "event_ids": ["e1", "e2", "e3"]}
    state, alerts = run(t, [("ex1", True, f"later{i}") for i in range(10)], state)
    assert alerts == []  # no re-alert while the run continues


def test_success_resets_and_a_later_run_alerts_again() -> None:
    t = StrugglingTracker(threshold=2)
    events = [
        ("ex1", True, "a"),
        ("ex1", True, "b"),
        ("ex1", True, "c"),
        ("ex1", False, "d"),
        ("ex1", True, "e"),
        ("ex1", False, "f"),
        ("ex1", True, "g"),
        ("ex1", True, "h"),
    ]
    _, alerts = run(t, events)
    assert alerts == [
        {"exercise_id": "ex1", "failures": 2, "event_ids": ["a", "b"]},
        # the success "d" resolves the alert of "a", "b" (three failures by then)
        {"exercise_id": "ex1", "failures": 3, "event_ids": ["a", "b"], "at": 0.0, "resolved": True},
        {"exercise_id": "ex1", "failures": 2, "event_ids": ["g", "h"]},
    ]


def test_exercises_are_independent() -> None:
    t = StrugglingTracker(threshold=2)
    events = [("ex1", True, "a"), ("ex2", True, "b"), ("ex2", False, "c")]
    events += [("ex1", True, "d"), ("ex2", True, "e")]
    state, alerts = run(t, events)
    assert alerts == [{"exercise_id": "ex1", "failures": 2, "event_ids": ["a", "d"]}]
    assert state["exercises"]["ex2"] == {"failures": 1, "event_ids": ["e"]}


def test_redelivered_failure_is_not_counted_twice() -> None:
    t = StrugglingTracker(threshold=2)
    _, alerts = run(t, [("ex1", True, "a"), ("ex1", True, "a"), ("ex1", True, "a")])
    assert alerts == []


def test_input_state_is_never_mutated_and_round_trips_through_json() -> None:
    t = StrugglingTracker(threshold=3)
    state, _ = run(t, [("ex1", True, "a"), ("ex2", True, "b")])
    frozen = copy.deepcopy(state)
    new, _ = t.update(state, "ex1", True, "c")
    new, _ = t.update(new, "ex2", False, "d")
    assert state == frozen
    assert json.loads(json.dumps(new)) == new
    _, alert = t.update(json.loads(json.dumps(new)), "ex1", True, "e")
    assert alert == {"exercise_id": "ex1", "failures": 3, "event_ids": ["a", "c", "e"]}


def test_state_is_bounded() -> None:
    t = StrugglingTracker(threshold=3, max_exercises=50)
    state, _ = run(t, [(f"ex{i % 200}", True, f"e{i}") for i in range(5000)])
    assert len(state["exercises"]) == 50
    assert list(state["exercises"])[-1] == "ex199"  # most recently updated kept
    assert all(len(e["event_ids"]) <= 3 for e in state["exercises"].values())
    assert len(json.dumps(state)) < 50 * 100


def test_malformed_state_starts_afresh_and_bad_threshold_is_refused() -> None:
    t = StrugglingTracker(threshold=1)
    _, alert = t.update({"exercises": "garbage"}, "ex1", True, "a")
    assert alert == {"exercise_id": "ex1", "failures": 1, "event_ids": ["a"]}
    with pytest.raises(ValueError):
        StrugglingTracker(threshold=0)
