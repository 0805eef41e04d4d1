"""The worker's HTTP endpoints, over real HTTP: health, readiness, metrics and the first design's /analyze."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest

from foundation.settings import Settings

pytestmark = [pytest.mark.integration]

NORMAL = {
    "packet_loss": 0.002,
    "latency_ms": 20.0,
    "bandwidth_utilization": 0.4,
    "connection_count": 100,
    "error_rate": 0.002,
}


def _post(url: str, body: bytes) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=5) as r:  # noqa: S310 - loopback
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_worker_endpoints(
    settings_factory: Callable[..., Settings], worker_factory: Callable[..., Any]
) -> None:
    worker = worker_factory(settings_factory())
    worker.wait_ready()
    status, body = worker.get("/health")
    assert status == 200 and json.loads(body) == {"status": "alive"}
    status, body = worker.get("/ready")
    ready = json.loads(body)
    assert status == 200 and ready["ready"] and ready["assigned_partitions"] > 0 and ready["model_version"]

    status, body = worker.get("/metrics")
    text = body.decode()
    assert status == 200
    for family in ("labstream_events_in_total", "labstream_model_info", "labstream_assigned_partitions"):
        assert family in text or family.removesuffix("_total") in text

    status, ok = _post(worker.url + "/analyze", json.dumps(NORMAL).encode())
    assert status == 200
    assert (
        ok["is_anomaly"] is False
        and ok["risk_level"] == "low"
        and ok["model_version"] == ready["model_version"]
    )
    spike = {**NORMAL, "latency_ms": 2500.0, "packet_loss": 0.4, "error_rate": 0.5}
    status, bad = _post(worker.url + "/analyze", json.dumps(spike).encode())
    assert status == 200 and bad["is_anomaly"] and bad["risk_level"] in ("medium", "high")
    assert bad["reasons"] and bad["recommendations"]

    status, err = _post(worker.url + "/analyze", json.dumps({**NORMAL, "packet_loss": 3}).encode())
    assert status == 422 and err["detail"][0]["loc"] == ["packet_loss"]
    status, err = _post(worker.url + "/analyze", b"{not json")
    assert status == 422
    status, err = _post(worker.url + "/analyze", json.dumps({**NORMAL, "extra": 1}).encode())
    # an unknown key is named <unknown>, never echoed (issue 15)
    assert status == 422 and err["detail"][0]["loc"] == ["<unknown>"]
    assert err["detail"][0]["type"] == "extra_forbidden" and '"extra"' not in json.dumps(err)
    assert worker.get("/analyze")[0] == 405
    assert worker.get("/no-such-page")[0] == 404
