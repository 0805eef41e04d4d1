"""The grader's ``result`` on collector input: validated, its feedback scrubbed like code (issue 18)."""

from __future__ import annotations

import json

import pytest

from producers import Collector, InvalidEventError, validate_event
from schemas import CodeSubmission


def _code(**extra) -> dict:
    return {
        "event_type": "code_submission",
        "student_id": "s7654321",
        "exercise_id": "ex-ssh",
        "code": "import paramiko\nc.connect('r1', password='Hunter2!x')\n",
        **extra,
    }


def test_feedback_is_scrubbed_like_code(settings_factory) -> None:
    settings = settings_factory(create=False, bootstrap_servers="127.0.0.1:1")
    feedback = (
        "Test failed: connect(password='Hunter2!x') refused; ask bob.smith@example.edu, submitted by s7654321"
    )
    with Collector(settings, spool_fsync="never") as c:
        for language in ("python", "python2"):
            event = validate_event(
                _code(language=language, result={"passed": False, "score": 0.5, "feedback": feedback})
            )
            _, _, value = c.encode(event)
            for secret in (b"Hunter2!x", b"bob.smith@example.edu", b"s7654321"):
                assert secret not in value, (language, secret)
            out = CodeSubmission.from_bytes(value)
            assert out.result is not None and out.result.passed is False and out.result.score == 0.5
            assert out.result.feedback is not None and out.result.feedback.startswith("Test failed: connect(")
            assert out.language == language


def test_without_result_the_value_carries_null(settings_factory) -> None:
    settings = settings_factory(create=False, bootstrap_servers="127.0.0.1:1")
    with Collector(settings, spool_fsync="never") as c:
        _, _, value = c.encode(validate_event(_code()))
    assert json.loads(value)["result"] is None


@pytest.mark.parametrize(
    ("result", "field"),
    [
        ({"passed": "maybe"}, "result.passed"),
        ({"passed": True, "score": 2}, "result.score"),
        ({"passed": True, "grade": "A"}, "result.<unknown>"),
    ],
)
def test_invalid_result_names_the_field_and_echoes_nothing(result, field) -> None:
    with pytest.raises(InvalidEventError) as e:
        validate_event(_code(result=result))
    assert [err["field"] for err in e.value.errors] == [field]
    assert "maybe" not in str(e.value.errors) and "grade" not in str(e.value.errors)
