"""Commands pipeline: normalise and categorise each lab command in its session's CLI mode."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from schemas import CategorizedCommand, LabCommand
from stream_processors.commands import interpret
from stream_processors.metrics import WorkerMetrics
from stream_processors.records import BatchResult, Output, Record, parse_many


class CommandPipeline:
    """Turns ``lab-events`` records into ``commands-categorized`` records.

    ``sessions`` maps a session_id to its CLI state (in the worker, a
    :class:`~stream_processors.staging.StagedTable` over a Faust table backed by
    its changelog, so a session written many times in a batch is one changelog
    record; a dict in unit tests). Commands of one session arrive in order
    because the topic is keyed by session_id.
    """

    def __init__(self, output_topic: str, sessions: MutableMapping[str, Any], metrics: WorkerMetrics) -> None:
        self.output_topic = output_topic
        self.sessions = sessions
        self.metrics = metrics

    def process(self, records: list[Record]) -> BatchResult:
        result = BatchResult()
        counted = self.metrics.command_categories
        for record, event in parse_many(records, LabCommand, result):
            try:
                sid = event.session_id
                r = interpret(self.sessions.get(sid), event.device_type, event.command)
            except Exception as e:  # noqa: BLE001 - any failure of one event becomes a dead letter
                result.dead(record, "process", f"{type(e).__name__}: {str(e)[:300]}", type(e).__name__)
                continue
            self.sessions[sid] = r.state  # staged: one changelog record per session per batch
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
            result.outputs.append(Output(self.output_topic, sid, out.to_bytes()))
        return result
