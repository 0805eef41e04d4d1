"""Acceptance 2: promote a new model while a worker processes a stream on the real broker.

Alerts before the swap carry the old version, after it the new one; every spike event opens
exactly one incident (one ``firing`` record: the ``resolved`` record of the same incident
repeats its event ids), and the worker consumed exactly as many metric events as were sent.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from detector import ModelRegistry, synthetic_normal_traffic, train_detector
from foundation.settings import Settings
from producers import Collector
from tests.fixtures.kafka import consume_all
from tests.fixtures.metrics import SPIKE, normal_reading

pytestmark = [pytest.mark.integration]


def _phase(c: Collector, prefix: str, devices: int = 8, warm: int = 35) -> list[str]:
    """Warm up ``devices`` devices, then one spike each; returns the spikes' event ids."""
    for i in range(warm):
        for d in range(devices):
            c.track_network_metrics(f"{prefix}-{d}", **normal_reading(i + d))
    spikes = [c.track_network_metrics(f"{prefix}-{d}", **SPIKE) for d in range(devices)]
    c.flush()
    return spikes


async def _alerts_naming(settings: Settings, ids: set[str]) -> dict[str, list[Any]]:
    """The alerts topic read until its alerts name every one of ``ids`` (or 60 s passed)."""
    topic = settings.topics.alerts
    return await consume_all(
        settings.bootstrap_servers or "",
        [topic],
        timeout=60,
        until=lambda g: {e for m in g[topic] for e in json.loads(m.value)["event_ids"]} >= ids,
    )


def _events_in(worker: Any, topic: str) -> float:
    _, body = worker.get("/metrics")
    for line in body.decode().splitlines():
        if line.startswith("labstream_events_in_total{") and f'topic="{topic}"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_promotion_swaps_the_model_without_losing_or_repeating_events(
    settings_factory: Callable[..., Settings], worker_factory: Callable[..., Any]
) -> None:
    settings = settings_factory(model_poll_s=0.2, alert_window_s=0.001)
    reg = ModelRegistry(settings.model_dir)
    old = reg.ensure_model(seed=42).version
    rows, ids, _ = synthetic_normal_traffic(n_devices=30, minutes=300, seed=7)
    new_det = train_detector(rows, ids, seed=7)
    new = reg.save(new_det, {"source": "synthetic", "synthetic": True, "seed": 7})
    worker = worker_factory(settings)
    worker.wait_ready()
    topic, alerts_topic = settings.topics.network_metrics, settings.topics.alerts
    sent = 0
    with Collector(settings) as c:
        before = _phase(c, "swap-a")
        sent += len(before) * 36
        await _alerts_naming(settings, set(before))
        reg.promote(new)
        for i in range(40):  # the stream keeps flowing while the worker notices the promotion
            c.track_network_metrics("swap-a-0", **normal_reading(i))
        sent += 40
        c.flush()
        deadline = time.monotonic() + 30
        while json.loads(worker.get("/ready")[1])["model_version"] != new:
            assert time.monotonic() < deadline, worker.log_tail()
            await asyncio.sleep(0.2)
        after = _phase(c, "swap-b")
        sent += len(after) * 36
    got = await _alerts_naming(settings, set(before) | set(after))
    alerts = [
        json.loads(m.value)
        for m in got[alerts_topic]
        if json.loads(m.value)["alert_type"] == "network_anomaly"
        and json.loads(m.value)["status"] == "firing"
    ]
    version_of = {e: a["model_version"] for a in alerts for e in a["event_ids"]}
    assert {version_of[e] for e in before} == {old}
    assert {version_of[e] for e in after} == {new}
    ids_in_alerts = [e for a in alerts for e in a["event_ids"]]
    assert all(ids_in_alerts.count(e) == 1 for e in before + after)  # nothing processed twice
    deadline = time.monotonic() + 30
    while _events_in(worker, topic) < sent and time.monotonic() < deadline:
        await asyncio.sleep(0.3)
    status, _ = worker.get("/metrics")
    assert status == 200, f"worker /metrics answered {status}:\n{worker.log_tail(20)}"
    assert _events_in(worker, topic) == sent  # nothing lost, nothing consumed twice
