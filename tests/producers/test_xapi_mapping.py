"""xAPI statements onto collector input: real-world shapes (Open edX, the xAPI spec), bad input."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from producers import InvalidEventError, validate_event
from producers.xapi import content_hash, map_statement, verb_label

CASES = json.loads((Path(__file__).parent / "data" / "xapi_statements.json").read_text("utf-8"))["cases"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_fixture_statements_map_as_documented(case: dict) -> None:
    assert case["origin"].startswith("https://github.com/")  # every fixture says where it came from
    m = map_statement(case["statement"])
    expect = case["expect"]
    assert m.statement_id == case["statement"]["id"]
    if "verb" in expect:
        assert m.verb == expect["verb"]
    if expect["outcome"] == "ignored":
        assert m.event is None and m.why_ignored == expect["why"]
        return
    assert m.event is not None
    event = validate_event(m.event)  # the collector's own validation takes it
    assert str(event.event_id) == case["statement"]["id"]
    assert event.student_id == expect["student_id"]
    assert event.exercise_id == expect["exercise_id"]
    assert event.language == expect["language"]
    assert event.code == case["statement"]["result"]["response"]
    got = None if event.result is None else event.result.model_dump(exclude_none=True)
    assert got == expect["result"]
    assert event.source == "xapi"


def test_fixtures_cover_every_outcome_and_actor_kind() -> None:
    outcomes = {c["expect"]["outcome"] for c in CASES}
    actors = {
        next(
            k for k in ("member", "account", "mbox", "mbox_sha1sum", "openid") if k in c["statement"]["actor"]
        )
        for c in CASES
    }
    assert outcomes == {"published", "ignored"}
    assert actors == {"account", "mbox", "mbox_sha1sum", "openid", "member"}


def _code_statement(**changes) -> dict:
    base = copy.deepcopy(
        next(c for c in CASES if c["name"] == "openedx_problem_check_server_coderesponse_failed")
    )
    return {**base["statement"], **changes}


def test_content_hash_follows_the_spec_comparison_rules() -> None:
    s = _code_statement()
    same = copy.deepcopy(s)
    same["verb"]["display"] = {"fr": "évalué"}  # not part of the statement
    same["object"]["definition"]["description"] = {"en-US": "changed"}  # activity definitions neither
    same["stored"] = "2030-01-01T00:00:00Z"
    same["authority"] = {"mbox": "mailto:lrs@example.com"}
    same["version"] = "1.0.0"
    same["timestamp"] = "2020-07-14T16:39:26.906232+02:00"  # the same instant
    assert content_hash(same) == content_hash(s)
    other = copy.deepcopy(s)
    other["result"]["response"] += "# edited\n"
    assert content_hash(other) != content_hash(s)
    later = {**s, "timestamp": "2020-07-14T14:39:27Z"}
    assert content_hash(later) != content_hash(s)


@pytest.mark.parametrize(
    ("statement", "fields"),
    [
        ("not an object", [""]),
        (
            {
                "id": "not-a-uuid s1234567",
                "actor": {"mbox": "mailto:s1234567@x.edu"},
                "verb": {"id": "http://v/answered"},
                "object": {"id": "http://o"},
            },
            ["id"],
        ),
        ({"actor": {"mbox": "mailto:s1234567@x.edu"}, "object": {"id": "http://o"}}, ["verb.id"]),
        ({"verb": {"id": "http://v/answered"}, "object": {}}, ["actor", "object.id"]),
        (
            {
                "actor": {"mbox": "mailto:s1234567@x.edu"},
                "verb": {"id": "http://v/answered"},
                "object": {"id": "http://o"},
                "timestamp": "yesterday s1234567",
            },
            ["timestamp"],
        ),
    ],
)
def test_malformed_statements_name_the_field_never_a_value(statement, fields) -> None:
    with pytest.raises(InvalidEventError) as e:
        map_statement(statement, index=3)
    assert [err["field"] for err in e.value.errors] == fields
    assert all(err["index"] == 3 for err in e.value.errors)
    assert "s1234567" not in json.dumps(e.value.errors) and "s1234567" not in str(e.value)


def test_language_hints_and_code_detection() -> None:
    ext = "https://labstream.invalid/xapi/extensions/language"
    for named, expected in (
        ("Python3", "python"),
        ("python2.7", "python2"),
        ("yaml", "yaml"),
        ("cobol", "text"),
    ):
        s = _code_statement(result={"response": "x", "extensions": {ext: named}})
        assert map_statement(s).event["language"] == expected
    one_line_answer = _code_statement(result={"response": "42 is the answer", "success": True})
    one_line_answer["object"]["definition"]["interactionType"] = "fill-in"
    assert map_statement(one_line_answer).why_ignored == "not_code"
    one_line_code = _code_statement(result={"response": "print(42)", "success": True})
    assert map_statement(one_line_code).event["code"] == "print(42)"


def test_score_without_scaled_and_long_activity_ids() -> None:
    s = _code_statement(result={"response": "x = 1\n", "score": {"raw": 3, "min": 1, "max": 5}})
    assert map_statement(s).event["result"] == {"passed": False, "score": 0.5}
    s = _code_statement(result={"response": "x = 1\n", "score": {"scaled": -0.5}, "success": True})
    assert map_statement(s).event["result"] == {"passed": True, "score": 0.0}  # xAPI allows -1..1
    s = _code_statement(object={"id": "http://lms/" + "x" * 300})
    exercise = map_statement(s).event["exercise_id"]
    assert exercise.startswith("xapi-") and len(exercise) == 37
    assert validate_event(map_statement(s).event).exercise_id == exercise


def test_verb_labels_are_bounded() -> None:
    assert verb_label("https://w3id.org/xapi/video/verbs/paused") == "paused"
    assert verb_label("http://adlnet.gov/expapi/verbs/answered#") == "other"
    assert verb_label("http://example.com/verbs/s1234567") == "other"  # client text never becomes a label
