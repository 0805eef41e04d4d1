"""HTTP ingest for LMS backends not written in Python: ``POST /v1/events``.

One event (a JSON object) or a batch (a JSON array), with a bearer token. A
batch is all-or-nothing on validation: one invalid event rejects the whole
request with a 422 listing every error as ``{"index", "field", "message"}``
(values are never echoed). Accepted events take the collector's durable path:
pseudonymised, scrubbed, appended to the on-disk spool and fsynced, then sent to Kafka by the
collector's drainer. 202 ``{"accepted": n}`` is answered only once every event of the request
is on disk, so a crash of this process after the answer loses none of them; when the spool
cannot take them (full, disk error) the answer is 503 with ``Retry-After``.
"""

from __future__ import annotations

import hmac
import json
import math
import threading
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import SecretStr, TypeAdapter
from starlette.concurrency import run_in_threadpool

from labstream.settings import Settings
from producers.collector import Collector
from producers.exceptions import InvalidEventError, SpoolError
from producers.validation import validate_event
from schemas import CollectorEvent

__all__ = ["RateLimiter", "ingest_router", "request_body_schema"]

_ERR = {"type": "object", "properties": {"detail": {"type": "string"}}}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {"description": "Accepted", "content": {"application/json": {"example": {"accepted": 2}}}},
    401: {"description": "No bearer token"},
    403: {"description": "Unknown token"},
    413: {"description": "Body larger than api_max_request_bytes"},
    422: {"description": "Malformed JSON or invalid events: errors by index, field, message"},
    429: {"description": "Rate limit per token exceeded (see Retry-After)"},
    503: {"description": "The spool cannot take the events (full, disk error): retry (see Retry-After)"},
}


def request_body_schema(ref_template: str = "#/components/schemas/{model}") -> dict[str, Any]:
    """JSON Schema of the body: one collector event or a non-empty list of them."""
    one = TypeAdapter(CollectorEvent).json_schema(ref_template=ref_template)
    defs = one.pop("$defs", {})
    return {"anyOf": [one, {"type": "array", "items": one, "minItems": 1}], "$defs": defs}


class RateLimiter:
    """A token bucket per API token index: ``per_minute`` requests, refilled continuously."""

    def __init__(self, per_minute: int) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(per_minute)
        self._buckets: dict[int, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, who: int) -> float:
        """0.0 when allowed, else the seconds to wait."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(who, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[who] = (tokens - 1.0, now)
                return 0.0
            self._buckets[who] = (tokens, now)
            return (1.0 - tokens) / self.rate


def _error(status: int, detail: str, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse({"detail": detail, **extra}, status_code=status, headers=headers)


def _submit_all(collector: Collector, events: list[Any], durable: bool = True) -> tuple[int, bool]:
    """Every event fsynced in the spool (durable), or how many of the first ones were, and False."""
    try:
        collector.submit_many(events, durable=durable)
    except SpoolError as e:
        return e.accepted, True
    return len(events), False


def ingest_router(settings: Settings, collector: Collector, *, durable: bool = True) -> APIRouter:
    """The ``/v1/events`` router bound to a collector and the API settings.

    ``durable=False`` is the old acceptance (202 once the events are in kafka-python's buffer): only
    ``bench.collector`` uses it, as the baseline of what durability costs.
    """
    router = APIRouter(tags=["ingest"])
    tokens = [
        (t.get_secret_value() if isinstance(t, SecretStr) else str(t)).encode("utf-8")
        for t in settings.api_tokens
    ]
    limiter = RateLimiter(settings.api_rate_limit_per_minute)
    limit = settings.api_max_request_bytes

    def authenticate(request: Request) -> int | JSONResponse:
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            return _error(401, "bearer token required", {"WWW-Authenticate": 'Bearer realm="labstream"'})
        given = credential.strip().encode("utf-8")
        match = -1
        for i, token in enumerate(tokens):  # every token compared, in constant time each
            if hmac.compare_digest(given, token):
                match = i
        if match < 0:
            return _error(403, "token not accepted")
        return match

    async def read_body(request: Request) -> bytes | JSONResponse:
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            return _error(413, f"request body larger than {limit} bytes")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                return _error(413, f"request body larger than {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

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
        who = authenticate(request)
        if isinstance(who, JSONResponse):
            return who
        wait = limiter.take(who)
        if wait > 0:
            return _error(429, "rate limit exceeded", {"Retry-After": str(max(1, math.ceil(wait)))})
        body = await read_body(request)
        if isinstance(body, JSONResponse):
            return body
        try:
            data = json.loads(body)
        # RecursionError: json.loads recurses per nesting level, and "[" * 100_000 fits in the size
        # limit; it used to escape as a 500 (found by bench.chaos.bad_input).
        except (ValueError, UnicodeDecodeError, RecursionError):
            collector.metrics.rejected.labels(reason="malformed").inc()
            return _error(
                422, "malformed JSON", errors=[{"index": None, "field": "", "message": "malformed JSON"}]
            )
        batch = data if isinstance(data, list) else [data]
        if not batch:
            return _error(422, "empty batch", errors=[{"index": None, "field": "", "message": "empty batch"}])
        events, errors = [], []
        for i, item in enumerate(batch):
            try:
                events.append(validate_event(item, index=i if isinstance(data, list) else None))
            except InvalidEventError as e:
                errors += [
                    {"index": err["index"], "field": err["field"], "message": err["message"]}
                    for err in e.errors
                ]
        if errors:
            # all-or-nothing: every event of the batch was refused, the invalid ones and the rest
            collector.metrics.rejected.labels(reason="invalid").inc(len(batch))
            return _error(422, "invalid events: nothing was accepted", errors=errors)
        # in a worker thread: the fsync must not hold up the event loop
        accepted, refused = await run_in_threadpool(_submit_all, collector, events, durable)
        if refused:
            return _error(
                503, "events not stored: spool full or disk error", {"Retry-After": "5"}, accepted=accepted
            )
        return JSONResponse({"accepted": accepted}, status_code=202)

    return router
