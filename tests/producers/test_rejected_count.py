"""Events the collector refuses are counted by reason (ops see refusals), with no value in any label."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from foundation.settings import Settings
from producers import Collector, InvalidEventError


def test_invalid_sdk_input_is_counted_then_raised(settings_factory: Callable[..., Settings]) -> None:
    registry = CollectorRegistry()
    with Collector(settings_factory(), registry=registry) as c:
        with pytest.raises(InvalidEventError):
            c.track_lab_command("student-77@school.example", "s1", -1, "show ip route", "toaster")
        with pytest.raises(InvalidEventError):
            c.track_network_metrics("r1", packet_loss=2.0)
        c.track_network_metrics(
            "r1",
            packet_loss=0.0,
            latency_ms=1.0,
            bandwidth_utilization=0.1,
            connection_count=1,
            error_rate=0.0,
        )
    assert registry.get_sample_value("labstream_collector_rejected_total", {"reason": "invalid"}) == 2.0
    assert b"student-77" not in generate_latest(registry)
