"""A student's failure streak applies each event at most once (issue 14): a redelivered event gets
the answer it got the first time (the same alert, or none) and leaves the streak alone."""

from __future__ import annotations

import json
import random
from typing import Any

from stream_processors.code import StrugglingTracker


def _json(state: Any) -> Any:
    return json.loads(json.dumps(state))  # stored between events as JSON, like the table


def test_a_redelivered_success_does_not_reset_a_streak() -> None:
    t = StrugglingTracker(threshold=2)
    s, _ = t.update(None, "ex1", True, "a")
    s, _ = t.update(_json(s), "ex1", False, "b")  # success: reset
    s, _ = t.update(_json(s), "ex1", True, "c")
    s, again = t.update(_json(s), "ex1", False, "b")  # the success redelivered
    assert again is None
    s, alert = t.update(_json(s), "ex1", True, "d")
    assert alert == {"exercise_id": "ex1", "failures": 2, "event_ids": ["c", "d"]}


def test_a_redelivered_failure_after_a_reset_is_not_counted_again() -> None:
    t = StrugglingTracker(threshold=2)
    s, _ = t.update(None, "ex1", True, "a")
    s, _ = t.update(_json(s), "ex1", False, "b")
    s, _ = t.update(_json(s), "ex1", True, "a")  # redelivered: its id left the reset entry
    s, alert = t.update(_json(s), "ex1", True, "d")
    assert alert is None
    assert s["exercises"]["ex1"] == {"failures": 1, "event_ids": ["d"]}


def test_the_alerting_event_redelivered_gets_the_same_alert_and_changes_nothing() -> None:
    t = StrugglingTracker(threshold=2)
    s, _ = t.update(None, "ex1", True, "a")
    s, first = t.update(_json(s), "ex1", True, "b", now=100.0)
    before = _json(s)
    s2, again = t.update(before, "ex1", True, "b", now=200.0)
    assert first is not None and again == first
    assert s2 == before  # the state untouched (its time too)


def test_events_replayed_twice_interleaved_give_identical_answers_and_state() -> None:
    rng = random.Random(14)
    events = [
        (f"stud-{rng.randrange(5)}", f"ex{rng.randrange(3)}", rng.random() < 0.7, f"e{i}") for i in range(600)
    ]
    t = StrugglingTracker(threshold=3)

    def run(order: list[tuple[str, str, bool, str]]) -> tuple[dict[str, Any], list[tuple[str, Any]]]:
        states: dict[str, Any] = {}
        answers = []
        for student, exercise, failed, eid in order:
            states[student], alert = t.update(_json(states.get(student)), exercise, failed, eid)
            answers.append((eid, alert))
        return states, answers

    clean_states, clean = run(events)
    first = dict(clean)
    assert sum(a is not None for _, a in clean) >= 5
    for _ in range(5):
        order = list(events)
        for e in events:  # every event again, anywhere after the original (within the SEEN window)
            at = order.index(e)
            order.insert(min(len(order), at + 1 + rng.randrange(40)), e)
        states, answers = run(order)
        assert all(a == first[eid] for eid, a in answers)
        assert {k: v["exercises"] for k, v in states.items()} == {
            k: v["exercises"] for k, v in clean_states.items()
        }
