"""xAPI 1.0.3 statements onto collector input: which become code submissions, and how.

A statement becomes a ``code_submission`` when all of these hold (anything else is *ignored*:
accepted, counted per verb, not published; an LMS must not retry it):

* its verb is one of ``answered``, ``submitted``, ``evaluated`` (the last segment of the verb IRI,
  so ADL's ``http://adlnet.gov/expapi/verbs/answered``, ACRoSS's
  ``https://w3id.org/xapi/acrossx/verbs/evaluated`` that Open edX's event-routing-backends gives
  ``problem_check``, and the activity-streams ``submit`` all match);
* ``result.response`` is a non-empty string holding code: the statement names its language (an
  extension whose key ends in ``/language`` or ``/programming-language``, in ``result``,
  ``context`` or the activity definition), or the response spans lines or reads like code;
  responses to ``choice``, ``true-false``, ``matching``, ``sequencing``, ``likert`` and ``numeric``
  interactions are answers, not code (Open edX's event-routing-backends gives its ``coderesponse``
  problems ``performance`` and ``customresponse`` ``other``: those are read);
* its actor is an Agent identified by ``account.name``, ``mbox``, ``mbox_sha1sum`` or ``openid``.

The fields:

========================  =====================================================================
``student_id``            ``account.name``; ``mbox`` without ``mailto:``, lower-cased;
                          ``mbox_sha1sum``, lower-cased; ``openid``. Pseudonymised by the
                          collector like any other id, never published or logged.
``event_id``              the statement ``id`` (a UUID; one is made when the statement has none)
``exercise_id``           ``object.id`` (the activity IRI); over 200 characters: ``xapi-`` and the
                          first 32 hex digits of its SHA-256
``language``              the named language (``python3`` is ``python``; ``python2``/``python2.7``
                          is ``python2``; an unknown one is ``text``), else ``python``
``code``                  ``result.response``
``result``                when the statement has ``result.success`` or ``result.score``:
                          ``passed`` = ``success`` (else ``score.scaled >= 1``), ``score`` =
                          ``score.scaled`` (else ``(raw - min) / (max - min)``), clamped to 0-1;
                          ``feedback`` = a ``result.extensions`` string whose key ends in
                          ``/feedback``
``occurred_at``           ``timestamp`` (else now); ``source`` = ``xapi``
========================  =====================================================================

Malformed statements (not an object, no ``actor``, ``verb.id`` or ``object.id``, an ``id`` that is
not a UUID, a ``timestamp`` that is not ISO 8601) raise :class:`~producers.InvalidEventError`
naming the field, never a value.

>>> m = map_statement({
...     "id": "6d1f033b-3f70-458c-b53a-e6bb63cbaef9",
...     "actor": {"objectType": "Agent", "account": {"homePage": "http://lms", "name": "u-1"}},
...     "verb": {"id": "https://w3id.org/xapi/acrossx/verbs/evaluated"},
...     "object": {"id": "http://lms/xblock/ex-1"},
...     "result": {"response": "def f(x):\\n    return x", "success": False, "score": {"scaled": 0.5}},
... })
>>> m.verb, m.event["exercise_id"], m.event["result"]
('evaluated', 'http://lms/xblock/ex-1', {'passed': False, 'score': 0.5})
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from producers.exceptions import FieldError, InvalidEventError

__all__ = ["KNOWN_VERBS", "MappedStatement", "content_hash", "map_statement", "verb_label"]

_CODE_VERBS = frozenset({"answered", "submitted", "evaluated", "submit"})
# Verb label values of the per-verb metric: a bounded set (the verb IRI is client-chosen text).
KNOWN_VERBS = frozenset(
    {
        "answered",
        "submitted",
        "evaluated",
        "submit",
        "attempted",
        "completed",
        "passed",
        "failed",
        "experienced",
        "launched",
        "initialized",
        "terminated",
        "progressed",
        "scored",
        "registered",
        "unregistered",
        "navigated",
        "viewed",
        "accessed",
        "played",
        "paused",
        "seeked",
        "interacted",
        "asked",
        "commented",
        "earned",
        "voided",
        "created",
    }
)
_NOT_CODE_INTERACTIONS = frozenset({"choice", "true-false", "matching", "sequencing", "likert", "numeric"})
_CODE_LIKE = re.compile(
    r"^\s*(?:import|from|def|class|print|for|while|if|return|with|try)\b"
    r"|^\s*[A-Za-z_][\w.]*\s*(?:=[^=]|\()"
    r"|^\s*-\s+\w+:|^\s*\w+:\s|\{\{|\{%",  # YAML keys and list items, Jinja2 markers
    re.M,
)
_LANGUAGES = {
    "python": "python",
    "python3": "python",
    "py": "python",
    "py3": "python",
    "python2": "python2",
    "python2.7": "python2",
    "py2": "python2",
    "yaml": "yaml",
    "yml": "yaml",
    "jinja2": "jinja2",
    "jinja": "jinja2",
    "text": "text",
}
_MAX_EXERCISE = 200


@dataclass(frozen=True, slots=True)
class MappedStatement:
    """One statement, read: its id, its verb label, and the collector event (None: ignored)."""

    statement_id: str
    verb: str
    event: dict[str, Any] | None
    why_ignored: str | None = None


def verb_label(verb_id: str) -> str:
    """The metric label of a verb IRI: its last segment when known, else ``other``.

    >>> verb_label("https://w3id.org/xapi/video/verbs/played"), verb_label("http://x/verbs/danced")
    ('played', 'other')
    """
    last = re.split(r"[/#]", verb_id.rstrip("/"))[-1].lower()
    return last if last in KNOWN_VERBS else "other"


def _err(index: int | None, field: str, kind: str, message: str) -> FieldError:
    return {"index": index, "field": field, "type": kind, "message": message}


def _canonical(statement: dict[str, Any]) -> dict[str, Any]:
    """The parts of a statement that xAPI's comparison rules say must match (xAPI-Data 2.3.1):
    without the LRS-assigned properties, attachments, the verb's display and activity definitions;
    the timestamp as a UTC instant."""
    out = {
        k: v for k, v in statement.items() if k not in ("id", "authority", "stored", "version", "attachments")
    }
    verb = out.get("verb")
    if isinstance(verb, dict):
        out["verb"] = {k: v for k, v in verb.items() if k != "display"}
    obj = out.get("object")
    if isinstance(obj, dict) and obj.get("objectType", "Activity") == "Activity":
        out["object"] = {k: v for k, v in obj.items() if k != "definition"}
    ts = out.get("timestamp")
    if isinstance(ts, str):
        try:
            out["timestamp"] = _parse_time(ts).isoformat()
        except ValueError:
            pass
    return out


def content_hash(statement: dict[str, Any]) -> str:
    """SHA-256 of the statement's comparable content: same hash, same statement (for 409s)."""
    text = json.dumps(_canonical(statement), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _parse_time(text: str) -> datetime:
    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if t.tzinfo is None:  # xAPI: a timestamp without an offset is UTC
        t = t.replace(tzinfo=UTC)
    return t.astimezone(UTC)


def _student(actor: Any) -> str | None:
    """The actor's inverse functional identifier as a student id; None for a Group or none."""
    if not isinstance(actor, dict) or actor.get("objectType", "Agent") != "Agent":
        return None
    account = actor.get("account")
    if isinstance(account, dict) and isinstance(account.get("name"), str) and account["name"]:
        return str(account["name"])
    mbox = actor.get("mbox")
    if isinstance(mbox, str) and mbox.lower().startswith("mailto:") and len(mbox) > 7:
        return mbox[7:].strip().lower()
    for key in ("mbox_sha1sum", "openid"):
        value = actor.get(key)
        if isinstance(value, str) and value:
            return value.strip().lower() if key == "mbox_sha1sum" else value.strip()
    return None


def _extension(statement: dict[str, Any], suffixes: tuple[str, ...]) -> str | None:
    """A string extension whose key ends in one of ``suffixes``: result, context, then activity."""
    obj = statement.get("object")
    definition = obj.get("definition") if isinstance(obj, dict) else None
    for holder in (statement.get("result"), statement.get("context"), definition):
        ext = holder.get("extensions") if isinstance(holder, dict) else None
        if isinstance(ext, dict):
            for key, value in ext.items():
                if isinstance(key, str) and key.lower().endswith(suffixes) and isinstance(value, str):
                    return value
    return None


def _language(statement: dict[str, Any]) -> str | None:
    named = _extension(statement, ("/language", "/programming-language"))
    if named is None:
        return None
    return _LANGUAGES.get(named.strip().lower(), "text")


def _interaction(statement: dict[str, Any]) -> str | None:
    obj = statement.get("object")
    definition = obj.get("definition") if isinstance(obj, dict) else None
    kind = definition.get("interactionType") if isinstance(definition, dict) else None
    return kind if isinstance(kind, str) else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:  # noqa: PLR0124 - NaN
        return None
    return float(value)


def _grader(result: dict[str, Any], statement: dict[str, Any]) -> dict[str, Any] | None:
    success = result.get("success")
    score = result.get("score")
    scaled = None
    if isinstance(score, dict):
        scaled = _number(score.get("scaled"))
        raw, lo, hi = (_number(score.get(k)) for k in ("raw", "min", "max"))
        if scaled is None and raw is not None and hi is not None and hi > (lo or 0.0):
            scaled = (raw - (lo or 0.0)) / (hi - (lo or 0.0))
    if scaled is not None:
        scaled = min(1.0, max(0.0, scaled))
    if not isinstance(success, bool) and scaled is None:
        return None
    out: dict[str, Any] = {
        "passed": success if isinstance(success, bool) else scaled is not None and scaled >= 1.0
    }
    if scaled is not None:
        out["score"] = scaled
    feedback = _extension({"result": result}, ("/feedback",))
    if feedback:
        out["feedback"] = feedback
    return out


def _exercise(object_id: str) -> str:
    if len(object_id) <= _MAX_EXERCISE:
        return object_id
    return "xapi-" + hashlib.sha256(object_id.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def map_statement(statement: Any, index: int | None = None) -> MappedStatement:
    """Read one statement; :class:`InvalidEventError` (field names only) when it is malformed."""
    if not isinstance(statement, dict):
        raise InvalidEventError([_err(index, "", "statement_type", "a statement must be a JSON object")])
    errors: list[FieldError] = []
    sid = statement.get("id")
    if sid is None:
        sid = str(uuid.uuid4())
    else:
        try:
            sid = str(uuid.UUID(sid)) if isinstance(sid, str) else None
        except ValueError:
            sid = None
        if sid is None:
            errors.append(_err(index, "id", "uuid_parsing", "statement id must be a UUID"))
    actor = statement.get("actor")
    if not isinstance(actor, dict):
        errors.append(_err(index, "actor", "missing", "actor is required (an Agent or Group object)"))
    verb = statement.get("verb")
    verb_id = verb.get("id") if isinstance(verb, dict) else None
    if not isinstance(verb_id, str) or not verb_id:
        errors.append(_err(index, "verb.id", "missing", "verb.id is required (an IRI)"))
    obj = statement.get("object")
    object_id = obj.get("id") if isinstance(obj, dict) else None
    if not isinstance(obj, dict) or (obj.get("objectType", "Activity") == "Activity" and not object_id):
        errors.append(_err(index, "object.id", "missing", "object.id is required for an Activity"))
    occurred: datetime | None = None
    ts = statement.get("timestamp")
    if ts is not None:
        try:
            occurred = _parse_time(ts) if isinstance(ts, str) else None
        except ValueError:
            occurred = None
        if occurred is None:
            errors.append(_err(index, "timestamp", "datetime_parsing", "timestamp must be ISO 8601"))
    result = statement.get("result")
    if result is not None and not isinstance(result, dict):
        errors.append(_err(index, "result", "dict_type", "result must be an object"))
    if errors:
        raise InvalidEventError(errors)
    assert isinstance(sid, str) and isinstance(verb_id, str)  # noqa: S101 - narrowed by the checks above
    label = verb_label(verb_id)
    last = re.split(r"[/#]", verb_id.rstrip("/"))[-1].lower()
    if last not in _CODE_VERBS:
        return MappedStatement(sid, label, None, "verb")
    response = result.get("response") if isinstance(result, dict) else None
    if not isinstance(response, str) or not response.strip():
        return MappedStatement(sid, label, None, "no_response")
    language = _language(statement)
    if language is None:
        if _interaction(statement) in _NOT_CODE_INTERACTIONS:
            return MappedStatement(sid, label, None, "not_code")
        if "\n" not in response.strip() and not _CODE_LIKE.search(response):
            return MappedStatement(sid, label, None, "not_code")
        language = "python"
    student = _student(actor)
    if student is None:
        return MappedStatement(sid, label, None, "no_agent")
    event: dict[str, Any] = {
        "event_type": "code_submission",
        "event_id": sid,
        "student_id": student[:256],
        "exercise_id": _exercise(str(object_id)),
        "language": language,
        "code": response,
        "source": "xapi",
    }
    if occurred is not None:
        event["occurred_at"] = occurred.isoformat()
    grader = _grader(result, statement) if isinstance(result, dict) else None
    if grader is not None:
        event["result"] = grader
    return MappedStatement(sid, label, event)
