"""The incident rule: when an incident opens, rises and ends; used by the worker and the evaluation.

An incident of a subject (a device) opens at its first anomalous reading. It goes on while
anomalous readings come less than ``window_s`` apart in event time; each one adds to its count,
and one whose severity is above the incident's so far raises it (an ``updated`` transition: not one
per reading). It ends at the subject's first later reading, normal or not, that comes ``window_s``
or more after the last anomalous one: the incident is then ``resolved``, with ``ended_at`` the time
of that last anomalous reading. The reason is ``"no data"`` when the subject had been silent for
``no_data_s`` or more before that reading, else ``"recovered"``; a subject that stays silent is
resolved with ``"no data"`` by :meth:`EpisodeRule.expire`, called on a timer. Both paths give the
same record, so which one fires first does not change what is written. An anomalous reading that
ends an incident opens the next one.

Everything depends only on the subject's readings in event order, never on how a stream was cut
into batches: the same readings give the same transitions. The state is JSON (a Faust table value):
``{"alert_id", "started_at", "last_seen_at", "last_reading_at", "count", "severity", "score",
"event_ids", "peak"}`` (times in epoch seconds; ``peak`` is whatever the caller attaches to the
reading that set the severity or the highest score).

>>> rule = EpisodeRule(window_s=300)
>>> s, t = rule.step(None, "network_anomaly:r1", 0.0, "e1", severity="low", score=5.0)
>>> [x.status for x in t], s["count"]
(['firing'], 1)
>>> s, t = rule.step(s, "network_anomaly:r1", 60.0, "e2", severity="high", score=9.0)
>>> [x.status for x in t], s["severity"]
(['updated'], 'high')
>>> s, t = rule.step(s, "network_anomaly:r1", 350.0, "e3")  # normal, less than a window after e2
>>> s, t = rule.step(s, "network_anomaly:r1", 400.0, "e4")  # normal, a window after e2
>>> [(x.status, x.reason, x.state["count"], x.state["ended_at"]) for x in t], s
([('resolved', 'recovered', 2, 60.0)], None)
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

SEVERITY_RANK = {"low": 0, "medium": 1, "high": 2}
_NS = uuid.UUID("0b8f3a52-7d2e-4d3c-8c7e-5f0e1e2d9a41")  # the worker's alert-id namespace since v1
MAX_EVENT_IDS = 20

Status = Literal["firing", "updated", "resolved"]


@dataclass(frozen=True, slots=True)
class Transition:
    """One lifecycle record to write: the incident's state as of that record."""

    status: Status
    state: dict[str, Any]
    reason: str | None = None  # resolved: "recovered" or "no data"


def alert_id_for(key: str, first_event_id: str) -> str:
    """The incident id: ``key`` (alert type and subject) and the incident's first event, so replay-stable."""
    return str(uuid.uuid5(_NS, f"{key}:{first_event_id}"))


class EpisodeRule:
    """Pure state transitions of one subject's incidents (see the module docstring)."""

    def __init__(
        self, window_s: float, no_data_s: float | None = None, max_event_ids: int = MAX_EVENT_IDS
    ) -> None:
        if window_s <= 0:
            raise ValueError("window_s must be positive")
        self.window_s = float(window_s)
        # silence shorter than the window cannot end an incident, so no_data is at least the window
        self.no_data_s = max(float(no_data_s if no_data_s is not None else window_s), self.window_s)
        self.max_event_ids = max_event_ids

    def step(
        self,
        state: dict[str, Any] | None,
        key: str,
        ts: float,
        event_id: str,
        *,
        severity: str | None = None,
        score: float = 0.0,
        peak: Any = None,
    ) -> tuple[dict[str, Any] | None, list[Transition]]:
        """Apply one reading at event time ``ts``: anomalous when ``severity`` is given."""
        out: list[Transition] = []
        if state is not None and ts - float(state["last_seen_at"]) >= self.window_s:
            out.append(
                self._resolve(
                    state,
                    "no data" if ts - float(state["last_reading_at"]) >= self.no_data_s else "recovered",
                )
            )
            state = None
        if severity is None:
            if state is not None and ts > float(state["last_reading_at"]):
                state = {**state, "last_reading_at": ts}
            return state, out
        if state is None:
            state = {
                "alert_id": alert_id_for(key, event_id),
                "started_at": ts,
                "last_seen_at": ts,
                "last_reading_at": ts,
                "count": 1,
                "severity": severity,
                "score": float(score),
                "event_ids": [event_id],
                "peak": peak,
            }
            out.append(Transition("firing", state))
            return state, out
        rises = SEVERITY_RANK[severity] > SEVERITY_RANK[state["severity"]]
        ids = state["event_ids"]
        state = {
            **state,
            "last_seen_at": max(ts, float(state["last_seen_at"])),
            "last_reading_at": max(ts, float(state["last_reading_at"])),
            "count": int(state["count"]) + 1,
            "severity": severity if rises else state["severity"],
            "score": max(float(score), float(state["score"])),
            "event_ids": ids + [event_id] if len(ids) < self.max_event_ids else ids,
            "peak": peak if rises or score > float(state["score"]) else state["peak"],
        }
        if rises:
            out.append(Transition("updated", state))
        return state, out

    def expire(
        self, state: dict[str, Any] | None, now: float
    ) -> tuple[dict[str, Any] | None, Transition | None]:
        """Resolve a silent subject's incident ("no data") once ``now`` is far enough past its readings."""
        if state is None:
            return None, None
        if (
            now - float(state["last_reading_at"]) >= self.no_data_s
            and now - float(state["last_seen_at"]) >= self.window_s
        ):
            return None, self._resolve(state, "no data")
        return state, None

    @staticmethod
    def _resolve(state: dict[str, Any], reason: str) -> Transition:
        return Transition("resolved", {**state, "ended_at": float(state["last_seen_at"])}, reason)


@dataclass(frozen=True, slots=True)
class Episode:
    """One incident as the rule decided it, for evaluation."""

    subject: int
    first_row: int  # the row that opened it
    started_at: float
    last_seen_at: float
    count: int
    updates: int
    resolved_at: float | None  # event time of the reading that resolved it (None: still open at the end)


def episodes(
    flagged: np.ndarray,
    subject: np.ndarray,
    t: np.ndarray,
    window_s: float,
    severity: np.ndarray | None = None,
    no_data_s: float | None = None,
) -> list[Episode]:
    """Run :class:`EpisodeRule` over a whole stream (rows in event order); the incidents, by start time.

    Only the rule's transitions are kept; every row is stepped, normal ones too, because a normal
    reading is what resolves an incident.
    """
    rule = EpisodeRule(window_s, no_data_s)
    states: dict[int, dict[str, Any]] = {}
    found: dict[str, dict[str, Any]] = {}
    order: list[str] = []
    open_ids: dict[int, str] = {}
    for i in range(t.size):
        s = int(subject[i])
        state = states.get(s)
        if state is None and not flagged[i]:
            continue
        sev = (str(severity[i]) if severity is not None else "low") if flagged[i] else None
        state, trans = rule.step(state, f"s{s}", float(t[i]), str(i), severity=sev)
        for tr in trans:
            aid = tr.state["alert_id"]
            if tr.status == "firing":
                found[aid] = {"subject": s, "updates": 0, "resolved_at": None}
                order.append(aid)
                open_ids[s] = aid
            elif tr.status == "updated":
                found[aid]["updates"] += 1
            else:
                found[aid]["resolved_at"] = float(t[i])
                open_ids.pop(s, None)
            found[aid]["state"] = tr.state
        if state is None:
            states.pop(s, None)
        else:
            states[s] = state
            found[state["alert_id"]]["state"] = state
    out = []
    for aid in order:
        f = found[aid]
        st = f["state"]
        out.append(
            Episode(
                f["subject"],
                int(st["event_ids"][0]),
                float(st["started_at"]),
                float(st["last_seen_at"]),
                int(st["count"]),
                f["updates"],
                f["resolved_at"],
            )
        )
    return out
