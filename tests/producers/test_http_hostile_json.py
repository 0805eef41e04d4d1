"""POST /v1/events answers hostile JSON with a 4xx that names the problem, never a 500 (issue 6)."""

from __future__ import annotations

from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from foundation.api_guard import ApiGuard
from foundation.settings import Settings
from producers.http import ingest_router
from producers.metrics import CollectorMetrics

TOKEN = "hostile-json-token-" + "h" * 16  # noqa: S105


@pytest.fixture
def app() -> FastAPI:
    settings = Settings(bootstrap_servers="127.0.0.1:1", api_tokens=TOKEN)  # type: ignore[arg-type]
    app = FastAPI()
    collector = SimpleNamespace(metrics=CollectorMetrics(CollectorRegistry()))  # submit is never reached
    app.include_router(ingest_router(settings, collector))  # type: ignore[arg-type]
    app.add_middleware(ApiGuard, tokens=[TOKEN], max_body_bytes=settings.api_max_request_bytes)
    return app


@pytest.mark.parametrize("depth", [1_000, 100_000])
@pytest.mark.parametrize("opener", [b"[", b'{"a":'])
async def test_deeply_nested_json_is_a_422(app: FastAPI, depth: int, opener: bytes) -> None:
    closer = b"]" if opener == b"[" else b"}"
    body = opener * depth + b"1" + closer * depth
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        r = await client.post("/v1/events", content=body, headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 422, r.text[:200]
    assert r.json()["detail"]
