"""``ExerciseWindows``: one exercise's tumbling windows (an hour, a day), pure state transitions;
``WindowedState``: what they share with the lab device types' windows (:mod:`._lab`).

The windows are Faust's own :class:`faust.windows.TumblingWindow` (``current(ts)`` gives the range
an event falls in), over the submission's ``occurred_at`` (event time, so a replay lands in the
windows it belongs to). The state of all of an exercise's windows is one JSON value in a Faust table
keyed by exercise; it is not Faust's windowed-table wrapper, whose changelog goes to the partition
of the ``(key, window)`` pair and which needs a current stream event, which batched agents do not
have. Bounded: the last ``keep`` windows of each size, 20,000 distinct students a window (then
``distinct_students`` is a floor), 200 error messages and 200 imports a window (the rarest dropped).

Redelivery (Kafka is at-least-once) changes nothing: a record at or before the partition offset
already applied is skipped, and so is an event id among the exercise's last 512.

>>> w = ExerciseWindows()
>>> f = {"id": "e1", "e": "ex", "t": 7200.0, "s": "a", "x": True, "u": False, "p": None,
...      "err": "invalid syntax", "imp": []}
>>> state, touched = w.update(None, [(f, 0, 5)])
>>> touched
[('hour', 7200.0), ('day', 0.0)]
>>> w.insight(state, "ex", "hour", 7200.0)["syntax_error_rate"]
1.0
>>> w.update(state, [(f, 0, 5)])[1]  # the same record again
[]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from faust.windows import TumblingWindow

_VERSION = 1
WINDOWS: dict[str, TumblingWindow] = {"hour": TumblingWindow(3600.0), "day": TumblingWindow(86400.0)}
_KEEP = {"hour": 48, "day": 14}
_MAX_STUDENTS = 20_000
_MAX_COUNTED = 200
_RECENT_IDS = 512
_TOP = 10


def _bump(counts: dict[str, int], keys: Iterable[str]) -> None:
    for k in keys:
        counts[k] = counts.get(k, 0) + 1
    if len(counts) > _MAX_COUNTED:  # drop the rarest half: the top ten are never among them
        for k, _ in sorted(counts.items(), key=lambda kv: kv[1])[: len(counts) - _MAX_COUNTED // 2]:
            del counts[k]


def _top(counts: dict[str, int]) -> list[dict[str, Any]]:
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:_TOP]
    return [{"value": k, "count": n} for k, n in ranked]


Fact = dict[str, Any]
Adder = Callable[[dict[str, Any], Fact, tuple[str, str]], None]


class WindowedState:
    """What one key's windows share, whatever they count: the state ``{"v": version, "p": partition,
    "o": offset, "ids": [...], "hour": {start: agg}, "day": {...}}``, the redelivery check, and the
    last ``keep`` windows of each size. A subclass says what a window's aggregate is (``_new_agg``,
    ``_adder``, ``_copy_agg``)."""

    version = 1

    def __init__(self, keep: dict[str, int] | None = None) -> None:
        self.keep = keep or dict(_KEEP)

    def update(
        self, state: dict[str, Any] | None, items: Iterable[tuple[Fact, int, int]]
    ) -> tuple[dict[str, Any], list[tuple[str, float]]]:
        """Apply ``(fact, partition, offset)`` items of one key, in offset order; the new state
        (the input is not mutated: copied once per call) and the windows changed, in first-change order."""
        s = self._copy(state)
        touched: dict[tuple[str, float], None] = {}
        seen = set(s["ids"])
        add = self._adder()
        for f, partition, offset in items:
            if (s["p"] == partition and isinstance(s["o"], int) and offset <= s["o"]) or f["id"] in seen:
                continue
            s["p"], s["o"] = partition, offset
            s["ids"].append(f["id"])
            seen.add(f["id"])
            for kind, window in WINDOWS.items():
                start = float(window.current(float(f["t"]))[0])
                key = repr(start)
                add(s[kind].setdefault(key, self._new_agg()), f, (kind, key))
                touched[(kind, start)] = None
        s["ids"] = s["ids"][-_RECENT_IDS:]
        for kind in WINDOWS:
            for old in sorted(s[kind], key=float)[: -self.keep[kind]]:
                del s[kind][old]
        return s, [t for t in touched if repr(t[1]) in s[t[0]]]

    def _new_agg(self) -> dict[str, Any]:
        """An empty window's aggregate."""
        raise NotImplementedError

    def _adder(self) -> Adder:
        """For one :meth:`update` call: ``add(agg, fact, (kind, start key))`` counts a fact in a window."""
        raise NotImplementedError

    def _copy_agg(self, agg: dict[str, Any]) -> dict[str, Any]:
        """A copy of an aggregate that shares nothing mutable with it."""
        raise NotImplementedError

    def _copy(self, state: dict[str, Any] | None) -> dict[str, Any]:
        out: dict[str, Any] = {"v": self.version, "p": None, "o": None, "ids": [], "hour": {}, "day": {}}
        if not isinstance(state, dict) or state.get("v") != self.version:
            return out
        out["p"], out["o"] = state.get("p"), state.get("o")
        out["ids"] = list(state.get("ids") or [])
        for kind in WINDOWS:
            out[kind] = {start: self._copy_agg(agg) for start, agg in (state.get(kind) or {}).items()}
        return out


class ExerciseWindows(WindowedState):
    """One exercise's windows; agg ``n`` (submissions), ``st`` (distinct students), ``sx`` (syntax
    errors), ``g``/``gf`` (graded, grader failures), ``u`` (unchecked), ``err``/``imp`` (counts)."""

    def _new_agg(self) -> dict[str, Any]:
        return {"n": 0, "st": [], "sx": 0, "g": 0, "gf": 0, "u": 0, "err": {}, "imp": {}}

    def _adder(self) -> Adder:
        students: dict[tuple[str, str], set[str]] = {}  # a window's students as a set, for this call

        def add(agg: dict[str, Any], f: Fact, window: tuple[str, str]) -> None:
            known = students.setdefault(window, set(agg["st"]))
            agg["n"] += 1
            if f["s"] not in known and len(agg["st"]) < _MAX_STUDENTS:
                agg["st"].append(f["s"])
                known.add(f["s"])
            agg["sx"] += bool(f["x"])
            agg["u"] += bool(f["u"])
            if f["p"] is not None:
                agg["g"] += 1
                agg["gf"] += not f["p"]
            if f["err"]:
                _bump(agg["err"], [f["err"]])
            _bump(agg["imp"], f["imp"])

        return add

    def _copy_agg(self, agg: dict[str, Any]) -> dict[str, Any]:
        return {**agg, "st": list(agg["st"]), "err": dict(agg["err"]), "imp": dict(agg["imp"])}

    @staticmethod
    def insight(state: dict[str, Any], exercise_id: str, kind: str, start: float) -> dict[str, Any]:
        """The ``exercise-insights`` value of one window (see :class:`schemas.ExerciseInsight`)."""
        agg = state[kind][repr(start)]
        n, graded = agg["n"], agg["g"]
        size = WINDOWS[kind].size
        return {
            "exercise_id": exercise_id,
            "window": kind,
            "window_start": datetime.fromtimestamp(start, UTC),
            "window_end": datetime.fromtimestamp(start + size, UTC),
            "submissions": n,
            "distinct_students": len(agg["st"]),
            "syntax_errors": agg["sx"],
            "syntax_error_rate": agg["sx"] / n if n else 0.0,
            "graded": graded,
            "grader_failures": agg["gf"],
            "grader_failure_rate": agg["gf"] / graded if graded else None,
            "unchecked": agg["u"],
            "top_errors": _top(agg["err"]),
            "top_imports": _top(agg["imp"]),
        }
