"""The grader's verdict in the code pipeline, and python2 submissions (issue 18)."""

from __future__ import annotations

import json
import uuid

import pytest
from prometheus_client import CollectorRegistry

from schemas import CodeCheck, CodeSubmission
from stream_processors.code import CodeCheckPool, StrugglingTracker, check_code
from stream_processors.code._checks import PYTHON2_UNCHECKED
from stream_processors.metrics import WorkerMetrics
from stream_processors.pipelines.code import CodePipeline
from stream_processors.records import Record

AID = "k1-" + "ab" * 16
VALID = "def add(a, b):\n    return a - b\n"  # compiles; the grader fails it
BROKEN = "def add(a, b)\n    return a + b\n"
PY2 = 'import urllib2\nprint "hello"\ntry:\n    pass\nexcept ValueError, e:\n    pass\n'


def _record(offset: int, code: str, language: str = "python", result: dict | None = None) -> Record:
    value = {
        "event_id": str(uuid.uuid4()),
        "anonymous_id": AID,
        "exercise_id": "ex-add",
        "language": language,
        "code": code,
        "result": result,
    }
    return Record("student-events", 0, offset, AID.encode(), json.dumps(value).encode())


@pytest.fixture
async def pipeline():
    async with CodeCheckPool(max_bytes=1 << 20, timeout_s=5, workers=1) as pool:
        yield CodePipeline(
            "code-checks",
            "alerts",
            pool,
            StrugglingTracker(threshold=3),
            {},
            WorkerMetrics(CollectorRegistry()),
        )


def _alerts(result) -> list[dict]:
    return [json.loads(o.value) for o in result.outputs if o.topic == "alerts"]


async def test_compiling_code_failed_by_the_grader_is_struggling(pipeline) -> None:
    failed = {"passed": False, "score": 0.25, "feedback": "add(1, 2) returned -1, expected 3"}
    result = await pipeline.process([_record(i, VALID, result=failed) for i in range(3)])
    checks = [CodeCheck.from_bytes(o.value) for o in result.outputs if o.topic == "code-checks"]
    assert [c.has_syntax_error for c in checks] == [False] * 3
    assert all(c.result is not None and c.result.passed is False and c.result.score == 0.25 for c in checks)
    assert all(c.result.feedback is None for c in checks)  # feedback stays on student-events
    [alert] = _alerts(result)
    assert alert["alert_type"] == "struggling_student" and alert["count"] == 3
    assert any("grader" in r for r in alert["recommendations"])


async def test_syntax_errors_the_grader_passed_are_not_failures(pipeline) -> None:
    # a grader that accepted the submission wins over the checker (e.g. an exercise in another dialect)
    passed = {"passed": True, "score": 1.0}
    result = await pipeline.process([_record(i, BROKEN, result=passed) for i in range(4)])
    assert _alerts(result) == []
    # without a verdict, the same submissions fail by syntax
    result = await pipeline.process([_record(10 + i, BROKEN) for i in range(3)])
    assert len(_alerts(result)) == 1


async def test_python2_is_unchecked_never_a_syntax_error(pipeline) -> None:
    assert check_code("python", PY2, 1 << 20).has_syntax_error  # what CPython 3 would say
    result = await pipeline.process([_record(i, PY2, language="python2") for i in range(5)])
    checks = [CodeCheck.from_bytes(o.value) for o in result.outputs if o.topic == "code-checks"]
    assert len(checks) == 5
    for c in checks:
        assert c.language == "python2" and c.has_syntax_error is False
        assert c.error is not None and c.error.message == PYTHON2_UNCHECKED
        assert c.imports_used == ["urllib2"]
    assert _alerts(result) == []  # no verdict, no failure
    # a python2 course with a grader: its verdict counts
    failed = {"passed": False}
    result = await pipeline.process([_record(20 + i, PY2, "python2", failed) for i in range(3)])
    assert len(_alerts(result)) == 1


def test_result_bounds_are_validated() -> None:
    base = {"anonymous_id": AID, "exercise_id": "e", "code": "x"}
    for bad in ({"passed": True, "score": 1.5}, {"passed": True, "score": -0.1}, {"score": 0.5}):
        with pytest.raises(ValueError, match="result"):
            CodeSubmission.model_validate({**base, "result": bad})
    ok = CodeSubmission.model_validate({**base, "language": "python2", "result": {"passed": True}})
    assert ok.result is not None and ok.result.score is None
