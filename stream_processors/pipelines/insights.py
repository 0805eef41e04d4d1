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
from stream_processors.metrics import WorkerMetrics
from stream_processors.records import BatchResult, Output, Record, parse

_MAX_EXPORTED = 500
_LABEL_CHARS = 120


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
        self,
        output_topic: str,
        exercises: MutableMapping[str, Any],
        windows: ExerciseWindows,
        metrics: WorkerMetrics | None = None,
    ) -> None:
        self.output_topic = output_topic
        self.exercises = exercises
        self.windows = windows
        self.metrics = metrics
        self._exported: set[str] = set()  # exercise label values, at most _MAX_EXPORTED

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
            latest_day = None
            for kind, start in touched:
                insight = ExerciseInsight(**self.windows.insight(state, exercise, kind, start))
                result.outputs.append(Output(self.output_topic, exercise, insight.to_bytes()))
                if kind == "day" and (latest_day is None or insight.window_start > latest_day.window_start):
                    latest_day = insight
            if latest_day is not None:
                self._export(latest_day)
        return result

    def _export(self, insight: ExerciseInsight) -> None:
        """The day window as gauges for Grafana (a bounded set of exercise labels)."""
        if self.metrics is None:
            return
        label = insight.exercise_id[:_LABEL_CHARS]
        if label not in self._exported:
            if len(self._exported) >= _MAX_EXPORTED:
                self.metrics.exercise_insight_dropped.inc()
                return
            self._exported.add(label)
        stats = {
            "submissions": insight.submissions,
            "distinct_students": insight.distinct_students,
            "syntax_error_rate": insight.syntax_error_rate,
            "grader_failure_rate": insight.grader_failure_rate,
        }
        for stat, value in stats.items():
            if value is not None:
                self.metrics.exercise_insight.labels(exercise=label, stat=stat).set(value)
