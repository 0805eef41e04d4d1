"""``/analyze`` and ``/health`` over HTTP (httpx against an ASGI app), including 422s."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from foundation.api_guard import ApiGuard
from stream_processors.analyze_api import analyze_router

TOKEN = "analyze-test-token-" + "0" * 16  # noqa: S105 - a test token

NORMAL = {
    "packet_loss": 0.001,
    "latency_ms": 20.0,
    "bandwidth_utilization": 0.4,
    "connection_count": 100,
    "error_rate": 0.001,
}
BAD = {
    "packet_loss": 0.5,
    "latency_ms": 900.0,
    "bandwidth_utilization": 1.0,
    "connection_count": 20000,
    "error_rate": 0.5,
}


def _client(get_detector) -> httpx.AsyncClient:
    app = FastAPI()
    app.include_router(analyze_router(get_detector, max_errors=3))
    app.add_middleware(ApiGuard, tokens=[TOKEN], max_body_bytes=64 * 1024)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://test",
        headers={"Authorization": f"Bearer {TOKEN}"},
    )


async def test_analyze_normal_and_anomalous(detector):
    async with _client(lambda: detector) as c:
        ok = (await c.post("/analyze", json=NORMAL)).json()
        assert ok["is_anomaly"] is False and ok["risk_level"] == "low"
        assert ok["recommendations"] == ["Continue normal monitoring", "No immediate action required"]
        assert ok["reasons"] == [] and ok["model_version"] == detector.version
        bad = (await c.post("/analyze", json=BAD)).json()
        assert bad["is_anomaly"] is True and bad["risk_level"] in {"medium", "high"}
        assert bad["anomaly_score"] > ok["anomaly_score"]
        assert bad["reasons"] and set(bad["reasons"][0]) == {"feature", "value", "expected", "deviation"}
        assert "Immediate investigation required" in bad["recommendations"] or bad["risk_level"] == "medium"


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"packet_loss": 1.5}, "packet_loss"),
        ({"latency_ms": -1}, "latency_ms"),
        ({"bandwidth_utilization": "lots"}, "bandwidth_utilization"),
        ({"connection_count": 1.5}, "connection_count"),
        ({"error_rate": None}, "error_rate"),
        ({"device_id": "r1"}, "<unknown>"),  # a key outside the five metrics is never echoed
    ],
)
async def test_invalid_input_is_a_422_naming_the_field(detector, patch, field):
    async with _client(lambda: detector) as c:
        r = await c.post("/analyze", json={**NORMAL, **patch})
    assert r.status_code == 422
    assert any(err["loc"][-1] == field for err in r.json()["detail"])
    assert "device_id" not in r.text and "lots" not in r.text


async def test_errors_are_bounded_and_counted(detector):
    body = {**{f"extra_{i}": i for i in range(40)}}  # five missing fields and 40 unknown keys
    async with _client(lambda: detector) as c:
        r = await c.post("/analyze", json=body)
    assert r.status_code == 422
    assert len(r.json()["detail"]) == 3 and r.json()["errors_not_listed"] == 45 - 3
    assert "extra_" not in r.text


async def test_analyze_needs_the_token_and_the_router_fails_closed(detector):
    async with _client(lambda: detector) as c:
        r = await c.post("/analyze", json=NORMAL, headers={"Authorization": ""})
        assert r.status_code == 401
        assert (await c.get("/health", headers={"Authorization": ""})).status_code == 200
    bare = FastAPI()  # the router on an app without the guard: /analyze refuses, /health answers
    bare.include_router(analyze_router(lambda: detector))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=bare), base_url="http://t") as c:
        r = await c.post("/analyze", json=NORMAL, headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 401
        assert (await c.get("/health")).status_code == 200


async def test_missing_field_is_a_422(detector):
    body = dict(NORMAL)
    del body["latency_ms"]
    async with _client(lambda: detector) as c:
        r = await c.post("/analyze", json=body)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "latency_ms"


async def test_health_with_and_without_a_model(detector):
    async with _client(lambda: detector) as c:
        assert (await c.get("/health")).json() == {
            "status": "healthy",
            "model_loaded": True,
            "model_version": detector.version,
        }
    async with _client(lambda: None) as c:
        assert (await c.get("/health")).json() == {
            "status": "degraded",
            "model_loaded": False,
            "model_version": None,
        }
        assert (await c.post("/analyze", json=NORMAL)).status_code == 503
