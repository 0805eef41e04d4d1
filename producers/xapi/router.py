"""``POST /xapi/statements`` and ``PUT /xapi/statements?statementId=``: the xAPI 1.0.3 Statement API
where it applies to an ingest (LabStream stores nothing an LMS could read back: no GET).

* Auth, rate limit and body size are the API's :class:`foundation.api_guard.ApiGuard`, as on every
  route: HTTP Basic, the password (or, with an empty password, the user name) being one of
  ``LABSTREAM_API_TOKENS``, or a bearer token; 401 without, 403 wrong, 429 over the per-token
  limit, 413 over ``api_max_request_bytes``. The router requires the guard's credentials
  (:func:`foundation.api_guard.require_credentials`), so it fails closed on an app without it.
* ``X-Experience-API-Version`` is required (``1.0`` or ``1.0.x``), else 400; every answer of the
  router carries ``X-Experience-API-Version: 1.0.3`` (the guard's refusals do not).
* POST takes one statement or an array, answers 200 with the statement ids in order; PUT takes one
  statement whose ``id`` (if any) equals ``statementId``, answers 204.
* All or nothing: a malformed statement, or two with one id in a batch, is a 400 naming the index
  (``errors``: index, field, message; never a value); an id already accepted with other content is
  a 409 naming the index; nothing of the request is published then.
* An id already accepted with the same content is a no-op (not published again).
* Statements LabStream has no use for are accepted and counted (``labstream_xapi_statements``
  by verb and outcome), not published. See :mod:`producers.xapi.mapping` for the mapping.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import Counter
from starlette.concurrency import run_in_threadpool

from foundation.api_guard import require_credentials
from foundation.settings import Settings
from producers.collector import Collector
from producers.exceptions import InvalidEventError, SpoolError
from producers.validation import validate_event
from producers.xapi.mapping import MappedStatement, content_hash, map_statement
from producers.xapi.store import StatementStore

__all__ = ["XAPI_VERSION", "xapi_router"]

XAPI_VERSION = "1.0.3"
_HEADERS = {"X-Experience-API-Version": XAPI_VERSION}
_BODY: dict[str, Any] = {
    "required": True,
    "content": {"application/json": {"schema": {"description": "An xAPI Statement or an array of them"}}},
}


def _answer(status: int, body: Any = None, headers: dict[str, str] | None = None) -> Response:
    if status == 204:
        return Response(status_code=204, headers={**_HEADERS, **(headers or {})})
    return JSONResponse(body, status_code=status, headers={**_HEADERS, **(headers or {})})


def _error(status: int, detail: str, headers: dict[str, str] | None = None, **extra: Any) -> Response:
    return _answer(status, {"detail": detail, **extra}, headers)


class _Ingest:
    """The all-or-nothing path of one request, serialised (a lock) so an id is checked and recorded
    by one request at a time."""

    def __init__(self, settings: Settings, collector: Collector) -> None:
        self.collector = collector
        self.store = StatementStore(settings.data_dir / "xapi" / "statements.sqlite")
        self.counted = Counter(
            "labstream_xapi_statements",
            "xAPI statements received, by verb (a known verb's last IRI segment, else other) and outcome "
            "(published, ignored: no use to LabStream, duplicate: id already accepted, same content).",
            ["verb", "outcome"],
            registry=collector.metrics.registry,
        )
        self._lock = threading.Lock()

    def run(self, statements: list[Any]) -> Response | list[str]:
        mapped: list[MappedStatement] = []
        errors: list[dict[str, Any]] = []
        seen: dict[str, int] = {}
        events: dict[int, Any] = {}
        for i, statement in enumerate(statements):
            try:
                m = map_statement(statement, i)
                if m.event is not None:
                    events[i] = validate_event(m.event, index=i)
            except InvalidEventError as e:
                errors += [{"index": i, "field": err["field"], "message": err["message"]} for err in e.errors]
                continue
            if m.statement_id in seen:
                errors.append(
                    {"index": i, "field": "id", "message": f"same id as statement {seen[m.statement_id]}"}
                )
            seen.setdefault(m.statement_id, i)
            mapped.append(m)
        if errors:
            self.collector.metrics.rejected.labels(reason="invalid").inc(len(statements))
            return _error(400, "invalid statements: nothing was accepted", errors=errors)
        hashes = [content_hash(s) for s in statements]
        with self._lock:
            known = self.store.lookup([m.statement_id for m in mapped])
            for i, m in enumerate(mapped):
                if m.statement_id in known and known[m.statement_id] != hashes[i]:
                    return _error(409, "a statement with this id was accepted with other content", index=i)
            taken: list[tuple[str, str]] = []
            try:
                for i, m in enumerate(mapped):
                    if m.statement_id in known:
                        self.counted.labels(verb=m.verb, outcome="duplicate").inc()
                        continue
                    if i in events:
                        self.collector.submit(events[i], durable=True)  # fsynced before the answer
                    self.counted.labels(verb=m.verb, outcome="published" if i in events else "ignored").inc()
                    taken.append((m.statement_id, hashes[i]))
            except SpoolError:
                return _error(
                    503,
                    "statements not stored: spool full or disk error",
                    {"Retry-After": "5"},
                    accepted=len(taken),
                )
            finally:
                self.store.record(taken)
        return [m.statement_id for m in mapped]


def xapi_router(settings: Settings, collector: Collector) -> APIRouter:
    """The ``/xapi/statements`` router bound to a collector and the API settings."""
    router = APIRouter(tags=["xapi"], dependencies=[Depends(require_credentials)])
    ingest = _Ingest(settings, collector)

    async def read(request: Request) -> list[Any] | Response:
        """Version header and JSON (the guard has authenticated and bounded the body): the
        statements, or the error answer."""
        version = request.headers.get("x-experience-api-version", "")
        if version != "1.0" and not version.startswith("1.0."):
            return _error(400, "X-Experience-API-Version header required: 1.0.x")
        try:
            data = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError, RecursionError):
            collector.metrics.rejected.labels(reason="malformed").inc()
            return _error(
                400, "malformed JSON", errors=[{"index": None, "field": "", "message": "malformed JSON"}]
            )
        return data if isinstance(data, list) else [data]

    @router.post(
        "/xapi/statements",
        summary="Store one xAPI statement or a batch (all or nothing)",
        openapi_extra={"requestBody": _BODY},
        responses={
            200: {"description": "Statement ids, in order"},
            400: {},
            401: {},
            403: {},
            409: {},
            413: {},
            429: {},
        },
    )
    async def post_statements(request: Request) -> Response:
        statements = await read(request)
        if isinstance(statements, Response):
            return statements
        if not statements:
            return _error(400, "empty batch", errors=[{"index": None, "field": "", "message": "empty batch"}])
        out = await run_in_threadpool(ingest.run, statements)
        return out if isinstance(out, Response) else _answer(200, out)

    @router.put(
        "/xapi/statements",
        status_code=204,
        summary="Store one xAPI statement under statementId",
        openapi_extra={"requestBody": _BODY},
        responses={400: {}, 401: {}, 403: {}, 409: {}, 413: {}, 429: {}},
    )
    async def put_statement(request: Request, statementId: str) -> Response:  # noqa: N803 - xAPI's name
        statements = await read(request)
        if isinstance(statements, Response):
            return statements
        if len(statements) != 1 or not isinstance(statements[0], dict):
            return _error(400, "PUT takes one statement object")
        statement = dict(statements[0])
        if "id" in statement and str(statement["id"]).lower() != statementId.lower():
            return _error(
                400,
                "statement id differs from statementId",
                errors=[{"index": 0, "field": "id", "message": "differs from statementId"}],
            )
        statement["id"] = statementId
        out = await run_in_threadpool(ingest.run, [statement])
        return out if isinstance(out, Response) else _answer(204)

    return router
