"""The collector publishes pseudonymised topic values to the right topics, keyed."""

from __future__ import annotations

import json

import pytest
from prometheus_client import CollectorRegistry

from producers import Collector, InvalidEventError
from tests.fixtures.kafka import consume_all

pytestmark = pytest.mark.integration


async def test_each_event_type_lands_keyed_and_pseudonymised(settings_factory) -> None:
    settings = settings_factory()
    kafka_bootstrap = settings.bootstrap_servers
    topics = settings.topics
    with Collector(settings, registry=CollectorRegistry()) as c:
        e1 = c.track_code_submission("student-001", "print(1)\n", "ex-1")
        e2 = c.track_lab_command("student-001", "sess-9", 0, "sh ip int br", "cisco_ios")
        e3 = c.track_network_metrics(
            "r1",
            packet_loss=0.01,
            latency_ms=3.5,
            bandwidth_utilization=0.2,
            connection_count=4,
            error_rate=0.0,
        )
        c.flush()
        anon = c.pseudonymizer.pseudonym("student-001")
    got = await consume_all(kafka_bootstrap, topics.inputs(), until=lambda g: all(len(v) for v in g.values()))
    (code,), (cmd,), (met,) = (got[t] for t in topics.inputs())
    assert code.key == anon.encode() and cmd.key == b"sess-9" and met.key == b"r1"
    v = json.loads(code.value)
    assert v["event_id"] == e1 and v["anonymous_id"] == anon and v["code"] == "print(1)\n"
    assert json.loads(cmd.value)["event_id"] == e2 and json.loads(met.value)["event_id"] == e3
    for rec in (code, cmd, met):
        assert b"student-001" not in rec.value


def test_invalid_input_error_names_fields_not_values(settings_factory) -> None:
    settings = settings_factory()
    with Collector(settings) as c, pytest.raises(InvalidEventError) as info:
        c.track_lab_command("student-secret-007", "sess", -1, "show run", "toaster-9000")
    text = str(info.value)
    assert "device_type" in text and "seq" in text
    assert "student-secret-007" not in text and "toaster" not in text
    assert isinstance(info.value, ValueError)
