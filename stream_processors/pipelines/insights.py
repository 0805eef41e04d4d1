"""Insights pipeline: per-exercise tumbling windows (an hour, a day) from the code agent's facts.

The code agent sends one fact per checked submission to ``<app_id>-exercise-facts``, keyed by
exercise, so all of an exercise's facts reach one partition and one worker; this pipeline keeps the
exercise's windows in a table keyed by exercise (co-partitioned with that topic) and publishes the
changed windows on ``exercise-insights`` (key: exercise_id), one record per window per batch.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from schemas import ExerciseInsight
from stream_processors.insights import ExerciseWindows
from stream_processors.records import BatchResult, Output, Record, parse


class _Fact(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    e: str
    t: float
    s: str
    x: bool
    u: bool
    p: bool | None
    err: str | None
    imp: list[str]


class InsightsPipeline:
    """Turns exercise facts into ``exercise-insights`` records; ``exercises`` maps an exercise to its
    windows' state (in the worker a :class:`~stream_processors.staging.StagedTable`)."""

    def __init__(
        self, output_topic: str, exercises: MutableMapping[str, Any], windows: ExerciseWindows
    ) -> None:
        self.output_topic = output_topic
        self.exercises = exercises
        self.windows = windows

    def process(self, records: list[Record]) -> BatchResult:
        result = BatchResult()
        by_exercise: dict[str, list[tuple[dict[str, Any], int, int]]] = {}
        for record in records:
            f = parse(record, _Fact, result)
            if f is not None:
                by_exercise.setdefault(f.e, []).append((f.model_dump(), record.partition, record.offset))
        for exercise, items in by_exercise.items():
            state, touched = self.windows.update(self.exercises.get(exercise), items)
            self.exercises[exercise] = state  # staged: written once the outputs are delivered
            for kind, start in touched:
                insight = ExerciseInsight(**self.windows.insight(state, exercise, kind, start))
                result.outputs.append(Output(self.output_topic, exercise, insight.to_bytes()))
        return result
