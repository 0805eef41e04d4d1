"""Commands pipeline: normalise and categorise each lab command in its session's CLI mode.

Each command is applied to its session's CLI state at most once, in ``seq`` order. The state
keeps the last applied ``seq`` and, for the last :data:`HISTORY` applied commands, the CLI
state each one was interpreted in. A command whose ``seq`` is not newer than the last applied
one (a duplicate, a redelivery after a crash, a collector's re-send, or an older command
arriving late) is interpreted in the state its ``seq`` met (the one it met the first time, for a
duplicate: the same output record) and leaves the session's state alone. Before this, a
duplicated ``exit`` popped two modes and every later command of the session was wrong.
"""

from __future__ import annotations

import time
from collections.abc import Callable, MutableMapping
from typing import Any

from schemas import CategorizedCommand, LabCommand
from stream_processors.commands import interpret
from stream_processors.metrics import WorkerMetrics
from stream_processors.records import BatchResult, Output, Record, TimeBounds, parse_many

HISTORY = 64  # applied commands per session whose CLI state is kept for late or repeated ones


def _cli(state: Any) -> dict[str, Any] | None:
    """The interpreter's part of a session state (``modes`` and ``priv``), or None."""
    if not isinstance(state, dict):
        return None
    return {k: state[k] for k in ("modes", "priv") if k in state}


def _last_seq(state: Any) -> int | None:
    seq = state.get("seq") if isinstance(state, dict) else None
    return seq if type(seq) is int else None


def _history(state: Any) -> list[list[Any]]:
    """``[[seq, cli state before it], ...]`` in ascending ``seq``; anything malformed is dropped."""
    hist = state.get("hist") if isinstance(state, dict) else None
    if not isinstance(hist, list):
        return []
    return [h for h in hist if isinstance(h, list) and len(h) == 2 and type(h[0]) is int]


def _state_at(state: Any, seq: int) -> dict[str, Any] | None:
    """The CLI state that command ``seq`` (not newer than the last applied) is interpreted in.

    The state kept for ``seq`` itself if it was applied; otherwise the one kept for the first
    applied command after it (the session as it stood at that point of the ``seq`` order);
    otherwise (older than the whole history) the oldest one kept.
    """
    hist = _history(state)
    for s, before in hist:
        if s >= seq:
            return before if isinstance(before, dict) else None
    return _cli(state)  # no history at all (a state written before seq was kept): the current one


class CommandPipeline:
    """Turns ``lab-events`` records into ``commands-categorized`` records.

    ``sessions`` maps a session_id to its CLI state (in the worker, a
    :class:`~stream_processors.staging.StagedTable` over a Faust table backed by
    its changelog, so a session written many times in a batch is one changelog
    record; a dict in unit tests). The state is
    ``{"modes": [...], "priv": int, "seq": last applied seq, "hist": [[seq, state before], ...],
    "at": wall-clock time of the last applied command}`` (``at`` drives expiry).
    """

    def __init__(
        self,
        output_topic: str,
        sessions: MutableMapping[str, Any],
        metrics: WorkerMetrics,
        bounds: TimeBounds | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.output_topic = output_topic
        self.sessions = sessions
        self.metrics = metrics
        self.bounds = bounds
        self.clock = clock

    def process(self, records: list[Record]) -> BatchResult:
        result = BatchResult()
        counted = self.metrics.command_categories
        now = self.clock()
        for record, event in parse_many(records, LabCommand, result, self.bounds):
            sid = event.session_id
            state = self.sessions.get(sid)
            last = _last_seq(state)
            fresh = last is None or event.seq > last
            try:
                before = _cli(state) if fresh else _state_at(state, event.seq)
                r = interpret(before, event.device_type, event.command)
            except Exception as e:  # noqa: BLE001 - any failure of one event becomes a dead letter
                result.dead(record, "process", f"{type(e).__name__}: {str(e)[:300]}", type(e).__name__)
                continue
            if fresh:  # staged: one changelog record per session per batch
                hist = [*_history(state), [event.seq, before]][-HISTORY:]
                self.sessions[sid] = {**r.state, "seq": event.seq, "hist": hist, "at": now}
            out = CategorizedCommand(
                event_id=event.event_id,
                anonymous_id=event.anonymous_id,
                session_id=event.session_id,
                seq=event.seq,
                device_type=event.device_type,
                normalized=r.normalized,
                category=r.category,
                mode=r.mode,
            )
            counted.labels(category=r.category, device_type=event.device_type).inc()
            result.outputs.append(Output(self.output_topic, sid, out.to_bytes(), record))
        return result
