"""``/analyze`` and ``/health`` on the real ``labstream api`` app (create_api), over HTTP."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from detector import ModelRegistry, synthetic_normal_traffic, train_detector
from labstream.api import create_api
from producers import Collector

pytestmark = pytest.mark.integration

TOKEN = "analyze-api-token-" + "a" * 20  # noqa: S105 - a test token

BODY = {
    "packet_loss": 0.001,
    "latency_ms": 20.0,
    "bandwidth_utilization": 0.4,
    "connection_count": 100,
    "error_rate": 0.001,
}


async def test_analyze_and_health_on_create_api(settings_factory) -> None:
    s = settings_factory(model_poll_s=0.01, api_tokens=[TOKEN])
    collector = Collector(s)
    try:
        app = create_api(s, collector=collector)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://api",
            headers={"Authorization": f"Bearer {TOKEN}"},  # /analyze takes the API's token (issue 15)
        ) as c:
            health = (await c.get("/health")).json()  # an empty registry gets the synthetic demo model
            assert health["status"] == "healthy" and health["model_loaded"] is True
            version = health["model_version"]
            r = await c.post("/analyze", json=BODY)
            assert r.status_code == 200 and r.json()["model_version"] == version
            assert r.json()["risk_level"] == "low" and r.json()["is_anomaly"] is False
            r = await c.post("/analyze", json={**BODY, "bandwidth_utilization": 2})
            assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "bandwidth_utilization"
            # a promoted version is picked up without restarting the app
            reg = ModelRegistry(s.model_dir)
            rows, ids, _ = synthetic_normal_traffic(n_devices=20, minutes=200, seed=5)
            new = reg.save(train_detector(rows, ids, seed=5), {"synthetic": True})
            reg.promote(new)
            await asyncio.sleep(0.05)
            assert (await c.get("/health")).json()["model_version"] == new
            assert (await c.post("/analyze", json=BODY)).json()["model_version"] == new
    finally:
        collector.close()
