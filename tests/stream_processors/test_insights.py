"""Exercise insights: error normalisation, tumbling windows, redelivery, bounds (pure, no broker)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from prometheus_client import CollectorRegistry

from schemas import ExerciseInsight
from stream_processors.code import CodeCheckPool, StrugglingTracker
from stream_processors.insights import ExerciseWindows, error_of, normalize_error
from stream_processors.metrics import WorkerMetrics
from stream_processors.pipelines.code import CodePipeline
from stream_processors.pipelines.insights import InsightsPipeline
from stream_processors.records import Record

T0 = datetime(2026, 12, 1, 9, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("variants", "grouped"),
    [
        (
            ["NameError: name 'x' is not defined", "NameError: name 'hostname' is not defined"],
            "NameError: name '<v>' is not defined",
        ),
        (
            [
                "unterminated string literal (detected at line 3)",
                "unterminated string literal (detected at line 41)",
            ],
            "unterminated string literal (detected at line <n>)",
        ),
        (
            ['KeyError: "ip_address"', "KeyError: 'mask'"],
            None,  # double and single quotes stay apart: a different message shape
        ),
        (
            [
                "ValueError: invalid literal for int() with base 10: 'ten'",
                "ValueError: invalid literal for int() with base 10: '1O'",
            ],
            "ValueError: invalid literal for int() with base <n>: '<v>'",
        ),
    ],
)
def test_variants_of_one_error_group(variants: list[str], grouped: str | None) -> None:
    got = {normalize_error(v) for v in variants}
    if grouped is None:
        assert len(got) == 2
    else:
        assert got == {grouped}
    assert normalize_error("'(' was never closed") == "'(' was never closed"  # punctuation is the message


def test_error_of_prefers_the_syntax_error_then_the_tracebacks_last_line() -> None:
    tb = (
        'Traceback (most recent call last):\n  File "t.py", line 9, in test\n    f()\n'
        "netmiko.exceptions.NetmikoTimeoutException: TCP connection to device 10.0.0.1 failed"
    )
    assert (
        error_of(False, None, tb)
        == "netmiko.exceptions.NetmikoTimeoutException: TCP connection to device <n>.<n> failed"
    )
    assert error_of(True, "invalid syntax", tb) == "invalid syntax"
    assert error_of(False, None, "Expected 3, got 4") is None


def _submission(
    i: int, student: str, code: str, minutes: float, result: dict | None = None, ex: str = "ex-ssh"
) -> Record:
    value = {
        "event_id": str(uuid.uuid4()),
        "anonymous_id": f"k1-{student:0>32}",
        "exercise_id": ex,
        "occurred_at": datetime.fromtimestamp(T0.timestamp() + minutes * 60, UTC).isoformat(),
        "language": "python",
        "code": code,
        "result": result,
    }
    return Record("student-events", 0, i, value["anonymous_id"].encode(), json.dumps(value).encode())


async def _facts(records: list[Record]) -> list[Record]:
    async with CodeCheckPool(max_bytes=1 << 20, timeout_s=5, workers=1) as pool:
        code = CodePipeline(
            "code-checks",
            "alerts",
            pool,
            StrugglingTracker(3),
            {},
            WorkerMetrics(CollectorRegistry()),
            facts_topic="facts",
        )
        out = await code.process(records)
    facts = [o for o in out.outputs if o.topic == "facts"]
    assert len(facts) == len(records) and all(o.key == json.loads(o.value)["e"] for o in facts)
    return [Record("facts", 1, i, o.key.encode(), o.value) for i, o in enumerate(facts)]


def _latest(outputs) -> dict[tuple[str, str, str], ExerciseInsight]:
    out = {}
    for o in outputs:
        ins = ExerciseInsight.from_bytes(o.value)
        assert o.key == ins.exercise_id
        out[(ins.exercise_id, ins.window, ins.window_start.isoformat())] = ins
    return out


async def test_windows_aggregate_a_class_on_an_exercise() -> None:
    failed = {
        "passed": False,
        "score": 0.0,
        "feedback": "Traceback (most recent call last):\nNameError: name 'conn' is not defined",
    }
    failed_y = {"passed": False, "feedback": "NameError: name 'device' is not defined"}
    records = [
        _submission(0, "a", "import netmiko\nprint(x)\n", 0, failed),
        _submission(1, "a", "import netmiko, os\nprint(y)\n", 5, failed_y),
        _submission(2, "b", "def f(:\n", 10),
        _submission(3, "c", "import paramiko\nprint(1)\n", 20, {"passed": True, "score": 1.0}),
        _submission(4, "b", "import netmiko\n", 50),  # next hour, same day
        _submission(5, "d", "x = (", 30, ex="ex-other"),
    ]
    facts = await _facts(records)
    exercises: dict = {}
    registry = CollectorRegistry()
    pipeline = InsightsPipeline("exercise-insights", exercises, ExerciseWindows(), WorkerMetrics(registry))
    got = _latest(pipeline.process(facts).outputs)
    hour = got[("ex-ssh", "hour", "2026-12-01T09:00:00+00:00")]
    assert (hour.submissions, hour.distinct_students, hour.syntax_errors) == (4, 3, 1)
    assert hour.syntax_error_rate == 0.25
    assert (hour.graded, hour.grader_failures, hour.grader_failure_rate) == (3, 2, 2 / 3)
    assert hour.top_errors[0].model_dump() == {"value": "NameError: name '<v>' is not defined", "count": 2}
    assert {c.value: c.count for c in hour.top_imports} == {"netmiko": 2, "os": 1, "paramiko": 1}
    assert hour.window_end.isoformat() == "2026-12-01T10:00:00+00:00"
    day = got[("ex-ssh", "day", "2026-12-01T00:00:00+00:00")]
    assert (day.submissions, day.distinct_students, day.syntax_errors) == (5, 3, 1)
    assert day.grader_failure_rate == 2 / 3 and {c.value: c.count for c in day.top_imports}["netmiko"] == 3
    assert got[("ex-other", "day", "2026-12-01T00:00:00+00:00")].syntax_error_rate == 1.0
    assert got[("ex-ssh", "hour", "2026-12-01T10:00:00+00:00")].submissions == 1
    gauge = {
        stat: registry.get_sample_value("labstream_exercise_insight", {"exercise": "ex-ssh", "stat": stat})
        for stat in ("submissions", "distinct_students", "syntax_error_rate", "grader_failure_rate")
    }
    assert gauge == {
        "submissions": 5,
        "distinct_students": 3,
        "syntax_error_rate": 0.2,
        "grader_failure_rate": 2 / 3,
    }

    # redelivered facts (same offsets, or the same event ids again at new offsets) change nothing
    again = pipeline.process(facts)
    assert again.outputs == []
    moved = [Record("facts", 1, 100 + r.offset, r.key, r.value) for r in facts]
    assert pipeline.process(moved).outputs == []
    assert json.loads(json.dumps(exercises)) == exercises  # the table value is plain JSON


def test_state_is_bounded() -> None:
    w = ExerciseWindows()
    state = None
    for i in range(3000):
        f = {
            "id": f"e{i}",
            "e": "x",
            "t": T0.timestamp() + i * 600,
            "s": f"s{i % 50}",
            "x": False,
            "u": False,
            "p": None,
            "err": f"E{i}: boom",
            "imp": [f"mod{i}"],
        }
        state, _ = w.update(state, [(f, 0, i)])
    assert len(state["hour"]) == 48 and len(state["day"]) == 14 and len(state["ids"]) == 512
    assert all(len(a["err"]) <= 200 and len(a["imp"]) <= 200 for a in state["day"].values())


def test_bad_facts_are_dead_lettered() -> None:
    pipeline = InsightsPipeline("exercise-insights", {}, ExerciseWindows())
    out = pipeline.process([Record("facts", 0, 0, b"x", b"{}"), Record("facts", 0, 1, b"x", b"\xff")])
    assert [d.stage for d in out.dead_letters] == ["validate", "decode"] and out.outputs == []
