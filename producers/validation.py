"""Validation of collector input with errors that never echo a value.

pydantic's own messages can quote the input (``found `x` at 1``) and its
locations can carry client-chosen keys; :func:`safe_errors` keeps field names
the schemas define, list indices and error types, and drops the rest.

>>> try:
...     validate_event({"event_type": "lab_command", "student_id": "s-1"})
... except InvalidEventError as e:
...     sorted(err["field"] for err in e.errors)[:2]
['command', 'device_type']
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from producers.exceptions import FieldError, InvalidEventError
from schemas import (
    CodeSubmissionIn,
    CollectorEventT,
    GraderResult,
    LabCommandIn,
    NetworkMetricsIn,
    collector_event_adapter,
)

__all__ = ["safe_errors", "validate_event", "validate_json_event"]

_KNOWN_NAMES: frozenset[str] = frozenset(
    {"code_submission", "lab_command", "network_metrics"}
    | set(CodeSubmissionIn.model_fields)
    | set(LabCommandIn.model_fields)
    | set(NetworkMetricsIn.model_fields)
    | set(GraderResult.model_fields)
)
# Error types whose pydantic message may quote part of the input after the first comma.
_QUOTING_TYPES = frozenset({"uuid_parsing", "json_invalid", "datetime_parsing", "datetime_from_date_parsing"})


_TAGS = frozenset({"code_submission", "lab_command", "network_metrics"})


def _field(loc: tuple[int | str, ...]) -> str:
    if loc and loc[0] in _TAGS:  # the discriminated union's branch: not a field the client sent
        loc = loc[1:]
    return ".".join(str(p) if isinstance(p, int) or p in _KNOWN_NAMES else "<unknown>" for p in loc)


def safe_errors(exc: ValidationError, index: int | None = None) -> list[FieldError]:
    """Field locations, error types and value-free messages of a pydantic error."""
    out: list[FieldError] = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        msg = err["msg"]
        if err["type"] in _QUOTING_TYPES:
            msg = msg.split(",", 1)[0]
        if err["type"] == "extra_forbidden":
            msg = "Extra inputs are not permitted"
        if err["type"] == "union_tag_invalid":  # pydantic quotes the tag sent (found by bench.chaos.security)
            msg = "event_type must be one of " + ", ".join(sorted(_TAGS))
        out.append({"index": index, "field": _field(err["loc"]), "type": err["type"], "message": msg})
    return out


def validate_event(data: Any, index: int | None = None) -> CollectorEventT:
    """A collector input event from a dict; :class:`InvalidEventError` otherwise."""
    try:
        return collector_event_adapter.validate_python(data)
    except ValidationError as e:
        raise InvalidEventError(safe_errors(e, index)) from None


def validate_json_event(raw: str | bytes, index: int | None = None) -> CollectorEventT:
    """A collector input event from JSON text (replay files, one line each)."""
    try:
        return collector_event_adapter.validate_json(raw)
    except ValidationError as e:
        raise InvalidEventError(safe_errors(e, index)) from None
