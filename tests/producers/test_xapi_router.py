"""``/xapi/statements`` leaves credentials and the body limit to the API's guard: an oversized
statement batch is the guard's 413 and reaches nothing, and the router fails closed without it."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace

import httpx
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from foundation.api_guard import ApiGuard
from foundation.settings import Settings
from producers.metrics import CollectorMetrics
from producers.xapi import xapi_router

TOKEN = "xapi-router-token-" + "x" * 16  # noqa: S105 - a test token
LIMIT = 4096
BASIC = {
    "Authorization": "Basic " + base64.b64encode(f"lms:{TOKEN}".encode()).decode(),
    "X-Experience-API-Version": "1.0.3",
}


def _app(tmp_path: Path, *, guarded: bool) -> tuple[FastAPI, CollectorRegistry]:
    settings = Settings(
        bootstrap_servers="127.0.0.1:1",
        api_tokens=[TOKEN],  # type: ignore[list-item]
        api_max_request_bytes=LIMIT,
        data_dir=tmp_path,
    )
    registry = CollectorRegistry()
    collector = SimpleNamespace(metrics=CollectorMetrics(registry))  # submit is never reached
    app = FastAPI()
    app.include_router(xapi_router(settings, collector))  # type: ignore[arg-type]
    if guarded:
        app.add_middleware(ApiGuard, tokens=[TOKEN], max_body_bytes=settings.api_max_request_bytes)
    return app, registry


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api")


async def test_an_oversized_statement_batch_is_the_guards_413_and_reaches_nothing(tmp_path: Path) -> None:
    app, registry = _app(tmp_path, guarded=True)
    oversized = b"[" + b" " * LIMIT + b"]"  # valid JSON (an empty batch, a 400) were it read

    async def streamed() -> AsyncIterator[bytes]:  # no Content-Length: the guard counts the stream
        for _ in range(LIMIT // 512 + 1):
            yield b" " * 512

    async with _client(app) as client:
        r = await client.post("/xapi/statements", content=oversized, headers=BASIC)
        assert r.status_code == 413, r.text
        r = await client.post("/xapi/statements", content=streamed(), headers=BASIC)
        assert r.status_code == 413, r.text
        put = await client.put(
            "/xapi/statements", params={"statementId": "x"}, content=oversized, headers=BASIC
        )
        assert put.status_code == 413, put.text
        # one byte under the limit is read by the router: its own answer (an empty batch), not a 413
        r = await client.post("/xapi/statements", content=b"[" + b" " * (LIMIT - 3) + b"]", headers=BASIC)
        assert r.status_code == 400 and r.json()["detail"] == "empty batch"
        assert r.headers["x-experience-api-version"] == "1.0.3"
    for reason in ("malformed", "invalid"):
        assert not registry.get_sample_value("labstream_collector_rejected_total", {"reason": reason})


async def test_without_the_guard_the_router_fails_closed(tmp_path: Path) -> None:
    app, _ = _app(tmp_path, guarded=False)
    async with _client(app) as client:
        r = await client.post("/xapi/statements", json={}, headers=BASIC)
    assert r.status_code == 401
