"""Lab insights: ``commands-categorized`` -> lab facts keyed by device type -> ``lab-insights``.

Two steps, because ``commands-categorized`` is keyed by session: the first (``LabFactsPipeline``)
turns each categorised command into a small fact (pattern, unknown or not, the record's time)
keyed by device type on ``<app_id>-lab-facts``, so one worker holds each device type's windows; the
second (``LabInsightsPipeline``) keeps them (:class:`~stream_processors.insights.LabWindows`) and
publishes the changed windows on ``lab-insights``. Time is the categorised record's Kafka
timestamp (the command event carries none of its own on that topic).
"""

from __future__ import annotations

import json
import time
from collections.abc import MutableMapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from schemas import CategorizedCommand, LabInsight
from stream_processors.insights import LabWindows, pattern, unknown
from stream_processors.records import BatchResult, Output, Record, parse, parse_many


class _LabFact(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    d: str
    t: float
    c: str
    unk: bool | None


class LabFactsPipeline:
    """``commands-categorized`` records -> lab facts keyed by device type."""

    def __init__(self, facts_topic: str) -> None:
        self.facts_topic = facts_topic

    def process(self, records: list[Record]) -> BatchResult:
        result = BatchResult()
        for record, cmd in parse_many(records, CategorizedCommand, result):
            value = {
                "id": str(cmd.event_id),
                "d": cmd.device_type,
                "t": record.timestamp or time.time(),
                "c": pattern(cmd.normalized),
                "unk": unknown(cmd.device_type, cmd.normalized),
            }
            result.outputs.append(
                Output(self.facts_topic, cmd.device_type, json.dumps(value).encode("utf-8"))
            )
        return result


class LabInsightsPipeline:
    """Lab facts -> ``lab-insights`` records; ``device_types`` maps a device type to its windows."""

    def __init__(
        self, output_topic: str, device_types: MutableMapping[str, Any], windows: LabWindows
    ) -> None:
        self.output_topic = output_topic
        self.device_types = device_types
        self.windows = windows

    def process(self, records: list[Record]) -> BatchResult:
        result = BatchResult()
        by_type: dict[str, list[tuple[dict[str, Any], int, int]]] = {}
        for record in records:
            f = parse(record, _LabFact, result)
            if f is not None:
                by_type.setdefault(f.d, []).append((f.model_dump(), record.partition, record.offset))
        for device_type, items in by_type.items():
            state, touched = self.windows.update(self.device_types.get(device_type), items)
            self.device_types[device_type] = state  # staged: written once the outputs are delivered
            for kind, start in touched:
                insight = LabInsight(**self.windows.insight(state, device_type, kind, start))
                result.outputs.append(Output(self.output_topic, device_type, insight.to_bytes()))
        return result
