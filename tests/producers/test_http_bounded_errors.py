"""A 1 MiB body of ``[{},...]``: a bounded 422, validated off the event loop (issue 15)."""

from __future__ import annotations

import asyncio
import json
import threading
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

import producers.http
from foundation.api_guard import ApiGuard
from foundation.settings import Settings
from producers.http import ingest_router
from producers.metrics import CollectorMetrics

TOKEN = "bounded-errors-token-" + "b" * 16  # noqa: S105 - a test token
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MAX_LISTED = 20
HOSTILE = b"[" + b",".join([b"{}"] * ((1024 * 1024 - 2) // 3)) + b"]"  # 1 MiB of empty objects


def _app() -> FastAPI:
    settings = Settings(
        bootstrap_servers="127.0.0.1:1",
        api_tokens=[TOKEN],  # type: ignore[list-item]
        api_max_listed_errors=MAX_LISTED,
        api_max_request_bytes=2 * 1024 * 1024,
    )
    app = FastAPI()
    collector = SimpleNamespace(metrics=CollectorMetrics(CollectorRegistry()))  # submit is never reached
    app.include_router(ingest_router(settings, collector))  # type: ignore[arg-type]

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "alive"}

    app.add_middleware(ApiGuard, tokens=[TOKEN], max_body_bytes=settings.api_max_request_bytes)
    return app


async def test_a_megabyte_of_empty_objects_gets_a_bounded_answer() -> None:
    items = HOSTILE.count(b"{}")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_app()), base_url="http://api") as c:
        r = await c.post("/v1/events", content=HOSTILE, headers=AUTH)
    assert r.status_code == 422
    body = r.json()
    assert len(body["errors"]) == MAX_LISTED
    assert len(body["errors"]) + body["errors_not_listed"] >= items  # every item has at least one error
    assert f"({len(body['errors']) + body['errors_not_listed']} errors)" in body["detail"]
    assert len(r.content) < 200 * MAX_LISTED + 1024  # bounded by the listed errors, not by the body
    assert [e["index"] for e in body["errors"]] == sorted(e["index"] for e in body["errors"])


@pytest.mark.parametrize("limit", [1, 3])
async def test_errors_of_one_event_are_bounded_too(limit: int) -> None:
    settings = Settings(bootstrap_servers="127.0.0.1:1", api_max_listed_errors=limit)
    event = {"event_type": "lab_command", "seq": "x", "device_type": 5}  # five or more errors
    try:
        producers.http._parse_and_validate(  # noqa: SLF001 - the function the handler runs in a thread
            json.dumps(event).encode(), settings.api_max_listed_errors
        )
    except producers.http._Refusal as r:  # noqa: SLF001
        assert len(r.errors) == limit and r.not_listed >= 5 - limit
    else:
        raise AssertionError("an invalid event was accepted")


async def test_other_requests_are_served_while_a_big_body_validates(monkeypatch: pytest.MonkeyPatch) -> None:
    """Validation is held (deterministically) at its first event; /health and a small POST must
    still be answered. Were validation on the event loop, the loop itself would be held."""
    started, release = threading.Event(), threading.Event()
    validate = producers.http.validate_event

    def held(item: Any, index: int | None = None) -> Any:
        if not started.is_set():
            started.set()
            release.wait(30)  # on the event loop this would block every request for 30 s
        return validate(item, index=index)

    monkeypatch.setattr(producers.http, "validate_event", held)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=_app()), base_url="http://api", timeout=120
    ) as c:
        big = asyncio.create_task(c.post("/v1/events", content=HOSTILE, headers=AUTH))
        assert await asyncio.to_thread(started.wait, 60)
        health = await c.get("/health")
        small = await c.post("/v1/events", content=b"{not json", headers=AUTH)
        answered_while_held = not release.is_set() and not big.done()
        release.set()
        r = await big
    assert health.status_code == 200 and small.status_code == 422
    assert answered_while_held
    assert r.status_code == 422 and len(r.json()["errors"]) == MAX_LISTED
