"""``StrugglingTracker``: N consecutive failures of one student on one exercise raise one alert."""

from __future__ import annotations

from typing import Any

_VERSION = 1
SEEN = 64  # event ids per student remembered as applied, with the alert each one raised


class StrugglingTracker:
    """Pure state transitions for the ``struggling_student`` alert; the state lives in a Faust table.

    The state is one JSON-serialisable dict per student (all their exercises), never mutated:
    ``{"v": 1, "exercises": {exercise_id: {"failures": int, "event_ids": [...]}}}``, exercises in
    least- to most-recently-updated order, at most ``max_exercises`` of them, at most ``threshold``
    event ids each. A success on an exercise removes its entry (a reset); if the entry had raised an
    alert (kept in its ``alert``: the alert's event ids and time), the success returns that alert with
    ``"resolved": True``, so the incident is closed. A failure whose
    ``event_id`` the entry already holds is a redelivery (Kafka is at-least-once) and changes nothing.

    Each event is applied at most once: ``"seen"`` holds the student's last :data:`SEEN` applied
    event ids (successes too) with the alert each raised. An event seen before (a redelivery after
    a crash, a collector's re-send, a dead-letter replay) leaves the state alone and gets the
    answer it got the first time: the same alert (same id), or none. Without it a redelivered
    success reset a streak, and a redelivered failure counted again once its id had left the
    exercise's ``event_ids``. ``"at"`` is the time of the last applied event (idle expiry).

    >>> t = StrugglingTracker(threshold=2)
    >>> s, alert = t.update(None, "ex1", True, "e1")
    >>> s, alert = t.update(s, "ex1", True, "e2")
    >>> alert
    {'exercise_id': 'ex1', 'failures': 2, 'event_ids': ['e1', 'e2']}
    """

    def __init__(self, threshold: int, max_exercises: int = 50) -> None:
        if threshold < 1 or max_exercises < 1:
            raise ValueError("threshold and max_exercises must be at least 1")
        self.threshold = threshold
        self.max_exercises = max_exercises

    def update(
        self,
        state: dict[str, Any] | None,
        exercise_id: str,
        failed: bool,
        event_id: str,
        at: float = 0.0,
        now: float | None = None,
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """Apply one check result (at event time ``at``; ``now`` stamps the state for idle expiry);
        return the new state and the alert this event raises or resolves, if any."""
        seen = _seen(state)
        for sid, first_alert in seen:
            if sid == event_id:  # applied before: the first answer again, the state untouched
                return state, first_alert  # type: ignore[return-value]
        new, alert = self._apply(state, exercise_id, failed, event_id, at)
        new["seen"] = [*seen, [event_id, alert]][-SEEN:]
        if now is not None:
            new["at"] = now
        elif isinstance(state, dict) and "at" in state:
            new["at"] = state["at"]
        return new, alert

    def _apply(
        self, state: dict[str, Any] | None, exercise_id: str, failed: bool, event_id: str, at: float
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        exercises = self._copy(state)
        entry = exercises.pop(exercise_id, None)
        alert = None
        if not failed and entry is not None and "alert" in entry:
            opened = entry["alert"]
            alert = {"exercise_id": exercise_id, "failures": entry["failures"], "resolved": True, **opened}
        if failed:
            entry = entry or {"failures": 0, "event_ids": []}
            if event_id in entry["event_ids"]:
                exercises[exercise_id] = entry
                return self._wrap(exercises), None
            entry["failures"] += 1
            entry["event_ids"] = (entry["event_ids"] + [event_id])[-self.threshold :]
            if entry["failures"] == self.threshold:
                alert = {
                    "exercise_id": exercise_id,
                    "failures": entry["failures"],
                    "event_ids": list(entry["event_ids"]),
                }
                entry["alert"] = {"event_ids": list(entry["event_ids"]), "at": at}
            exercises[exercise_id] = entry  # re-inserted last: the most recently updated
            while len(exercises) > self.max_exercises:
                del exercises[next(iter(exercises))]
        return self._wrap(exercises), alert

    def _copy(self, state: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
        """A deep copy of the exercises of a well-formed state; anything else starts afresh."""
        if not isinstance(state, dict) or not isinstance(state.get("exercises"), dict):
            return {}
        out: dict[str, dict[str, Any]] = {}
        for key, entry in state["exercises"].items():
            if isinstance(entry, dict) and isinstance(entry.get("failures"), int):
                ids = entry.get("event_ids")
                out[key] = {
                    "failures": entry["failures"],
                    "event_ids": [str(i) for i in ids][-self.threshold :] if isinstance(ids, list) else [],
                }
                if isinstance(entry.get("alert"), dict):
                    out[key]["alert"] = dict(entry["alert"])
        return out

    @staticmethod
    def _wrap(exercises: dict[str, dict[str, Any]]) -> dict[str, Any]:
        return {"v": _VERSION, "exercises": exercises}


def _seen(state: Any) -> list[list[Any]]:
    """``[[event_id, alert or None], ...]`` of a well-formed state; anything malformed is dropped."""
    seen = state.get("seen") if isinstance(state, dict) else None
    if not isinstance(seen, list):
        return []
    return [e for e in seen if isinstance(e, list) and len(e) == 2 and isinstance(e[0], str)]
