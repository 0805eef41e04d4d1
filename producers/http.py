"""HTTP ingest for LMS backends not written in Python: ``POST /v1/events``.

One event (a JSON object) or a batch (a JSON array), with a bearer token. A
batch is all-or-nothing on validation: one invalid event rejects the whole
request with a 422 listing the errors as ``{"index", "field", "message"}``
(values are never echoed), at most ``api_max_listed_errors`` of them, with
``errors_not_listed`` counting the rest. Parsing and validation run in a worker
thread, not on the event loop, so a large hostile body does not stall other
requests. Accepted events take the collector's durable path: pseudonymised,
scrubbed, appended to the on-disk spool and fsynced, then sent to Kafka by the
collector's drainer. 202 ``{"accepted": n}`` is answered only once every event of
the request is on disk, so a crash of this process after the answer loses none of
them; when the spool cannot take them (full, disk error) the answer is 503 with
``Retry-After``.

Credentials, the per-token and failed-login rate limits and the body-size limit
are the app's :class:`foundation.api_guard.ApiGuard` (every route of
``labstream api`` gets them); the router also requires its credentials
(:func:`foundation.api_guard.require_credentials`), so it fails closed elsewhere.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool

from foundation.api_guard import bound_errors, require_credentials
from foundation.settings import Settings
from producers.collector import Collector
from producers.exceptions import InvalidEventError, SpoolError
from producers.validation import validate_event
from schemas import CollectorEvent, collector_event_adapter

__all__ = ["ingest_router", "request_body_schema"]

_ERR = {"type": "object", "properties": {"detail": {"type": "string"}}}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {"description": "Accepted", "content": {"application/json": {"example": {"accepted": 2}}}},
    401: {"description": "No bearer token"},
    403: {"description": "Unknown token"},
    413: {"description": "Body larger than api_max_request_bytes"},
    422: {
        "description": "Malformed JSON or invalid events: errors by index, field, message "
        "(at most api_max_listed_errors; errors_not_listed counts the rest)"
    },
    429: {"description": "Rate limit per token, or failed logins per address, exceeded (see Retry-After)"},
    503: {"description": "The spool cannot take the events (full, disk error): retry (see Retry-After)"},
}


def request_body_schema(ref_template: str = "#/components/schemas/{model}") -> dict[str, Any]:
    """JSON Schema of the body: one collector event or a non-empty list of them."""
    one = TypeAdapter(CollectorEvent).json_schema(ref_template=ref_template)
    defs = one.pop("$defs", {})
    return {"anyOf": [one, {"type": "array", "items": one, "minItems": 1}], "$defs": defs}


def _error(status: int, detail: str, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse({"detail": detail, **extra}, status_code=status, headers=headers)


def _submit_all(collector: Collector, events: list[Any], durable: bool = True) -> tuple[int, bool]:
    """Every event fsynced in the spool (durable), or how many of the first ones were, and False."""
    try:
        collector.submit_many(events, durable=durable)
    except SpoolError as e:
        return e.accepted, True
    return len(events), False


class _Refusal(Exception):  # noqa: N818 - not an error of ours: the 422 a body gets
    def __init__(self, reason: str, detail: str, errors: list[dict[str, Any]], items: int = 0) -> None:
        super().__init__(detail)
        self.reason, self.detail, self.errors, self.items = reason, detail, errors, items
        self.not_listed = 0


def _parse_and_validate(body: bytes, max_errors: int) -> list[Any]:
    """The events of a body (runs in a worker thread); :class:`_Refusal` when anything is wrong
    (all-or-nothing), listing at most ``max_errors`` errors and counting the rest."""
    try:
        data = json.loads(body)
    # RecursionError: json.loads recurses per nesting level, and "[" * 100_000 fits in the size
    # limit: refused like any malformed body (a 422), never a 500 (bench.chaos.bad_input).
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise _Refusal(
            "malformed", "malformed JSON", [{"index": None, "field": "", "message": "malformed JSON"}]
        ) from None
    batch = data if isinstance(data, list) else [data]
    if not batch:
        raise _Refusal("empty", "empty batch", [{"index": None, "field": "", "message": "empty batch"}])
    events: list[Any] = []
    errors: list[dict[str, Any]] = []
    not_listed = 0
    for i, item in enumerate(batch):
        if len(errors) >= max_errors:  # refused anyway and the list is full: only count (3x faster)
            try:
                collector_event_adapter.validate_python(item)
            except ValidationError as e:
                not_listed += e.error_count()
            continue
        try:
            events.append(validate_event(item, index=i if isinstance(data, list) else None))
        except InvalidEventError as e:
            listed, more = bound_errors(e.errors, max_errors - len(errors))
            errors += [{"index": x["index"], "field": x["field"], "message": x["message"]} for x in listed]
            not_listed += more
    if errors:
        total = len(errors) + not_listed
        refusal = _Refusal(
            "invalid", f"invalid events: nothing was accepted ({total} errors)", errors, len(batch)
        )
        refusal.not_listed = not_listed
        raise refusal
    return events


def ingest_router(settings: Settings, collector: Collector, *, durable: bool = True) -> APIRouter:
    """The ``/v1/events`` router bound to a collector and the API settings.

    ``durable=False`` is the old acceptance (202 once the events are in kafka-python's buffer): only
    ``bench.collector`` uses it, as the baseline of what durability costs.
    """
    router = APIRouter(tags=["ingest"], dependencies=[Depends(require_credentials)])
    max_errors = settings.api_max_listed_errors

    @router.post(
        "/v1/events",
        status_code=202,
        summary="Publish one event or a batch (all-or-nothing on validation)",
        responses=_RESPONSES,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/IngestBody"}}},
            },
            "security": [{"bearer": []}],
        },
    )
    async def post_events(request: Request) -> JSONResponse:
        try:  # the guard has bounded the body (413)
            events = await run_in_threadpool(_parse_and_validate, await request.body(), max_errors)
        except _Refusal as r:
            if r.reason == "malformed":
                collector.metrics.rejected.labels(reason="malformed").inc()
            if r.reason == "invalid":
                # all-or-nothing: every event of the batch was refused, the invalid ones and the rest
                collector.metrics.rejected.labels(reason="invalid").inc(r.items)
                return _error(422, r.detail, errors=r.errors, errors_not_listed=r.not_listed)
            return _error(422, r.detail, errors=r.errors)
        # in a worker thread: the fsync must not hold up the event loop
        accepted, refused = await run_in_threadpool(_submit_all, collector, events, durable)
        if refused:
            return _error(
                503, "events not stored: spool full or disk error", {"Retry-After": "5"}, accepted=accepted
            )
        return JSONResponse({"accepted": accepted}, status_code=202)

    return router
