"""``struggling_student`` through the code pipeline: firing at the threshold, resolved at the success."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry

from schemas import Alert, CodeSubmission
from stream_processors.code import CodeCheckPool, StrugglingTracker
from stream_processors.metrics import WorkerMetrics
from stream_processors.pipelines.code import CodePipeline
from stream_processors.records import Record

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
async def pool() -> AsyncIterator[CodeCheckPool]:
    p = CodeCheckPool(max_bytes=64_000, timeout_s=2.0, workers=1)
    async with p:
        yield p


def _submission(k: int, code: str) -> Record:
    event = CodeSubmission(
        event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"struggling/{k}"),
        event_type="code_submission",
        occurred_at=T0 + timedelta(minutes=k),
        anonymous_id="anon-student-7",
        exercise_id="ex-loops",
        language="python",
        code=code,
    )
    return Record("student-events", 0, k, b"anon-student-7", event.to_bytes())


async def test_a_struggling_student_alert_is_resolved_when_the_student_succeeds(pool: CodeCheckPool) -> None:
    registry = CollectorRegistry()
    pipe = CodePipeline(
        "code-checks", "alerts", pool, StrugglingTracker(threshold=3), {}, WorkerMetrics(registry)
    )
    bad, good = "for x in range(3)\n    print(x)\n", "for x in range(3):\n    print(x)\n"
    records = [_submission(k, bad) for k in range(4)] + [_submission(10, good)]
    alerts = []
    for r in records:  # one at a time, then the same again in one batch: the same records
        alerts += [
            Alert.model_validate_json(o.value)
            for o in (await pipe.process([r])).outputs
            if o.topic == "alerts"
        ]
    firing, resolved = alerts
    assert firing.status == "firing" and firing.count == 3 and firing.labels["exercise_id"] == "ex-loops"
    assert firing.started_at == T0 + timedelta(minutes=2)
    assert resolved.status == "resolved" and resolved.alert_id == firing.alert_id
    assert resolved.fingerprint == firing.fingerprint and resolved.count == 4
    assert resolved.ended_at == T0 + timedelta(minutes=10) and resolved.duration_s == 8 * 60
    assert (
        registry.get_sample_value(
            "labstream_incident_duration_seconds_count", {"alert_type": "struggling_student"}
        )
        == 1.0
    )
    again = CodePipeline(
        "code-checks", "alerts", pool, StrugglingTracker(threshold=3), {}, WorkerMetrics(CollectorRegistry())
    )
    batch = [
        Alert.model_validate_json(o.value)
        for o in (await again.process(records)).outputs
        if o.topic == "alerts"
    ]
    assert batch == alerts
