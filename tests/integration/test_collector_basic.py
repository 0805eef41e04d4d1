"""The collector publishes pseudonymised topic values to the right topics, keyed."""

from __future__ import annotations

import json
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaConsumer
from prometheus_client import CollectorRegistry

from labstream.broker import EmbeddedBroker, ensure_topics
from labstream.settings import Settings, Topics
from producers import Collector, InvalidEventError

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def _own_broker():
    with EmbeddedBroker() as b:
        yield b


@pytest.fixture
def kafka_bootstrap(request: pytest.FixtureRequest) -> str:
    """The lead's session ``broker`` fixture when present, else a broker of our own."""
    try:
        return request.getfixturevalue("broker").bootstrap
    except pytest.FixtureLookupError:
        return request.getfixturevalue("_own_broker").bootstrap


async def _read_all(bootstrap: str, topic: str, n: int, timeout_ms: int = 10_000) -> list:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    out: list = []
    try:
        while len(out) < n:
            batch = await consumer.getmany(timeout_ms=timeout_ms)
            if not batch:
                break
            for records in batch.values():
                out.extend(records)
    finally:
        await consumer.stop()
    return out


async def test_each_event_type_lands_keyed_and_pseudonymised(kafka_bootstrap: str, tmp_path) -> None:
    settings = Settings(bootstrap_servers=kafka_bootstrap, pseudonym_key="test-key", data_dir=tmp_path)
    settings = settings.with_topics(Topics.with_prefix(f"t-{uuid4().hex[:8]}-"))
    topics = settings.topics
    ensure_topics(kafka_bootstrap, topics.inputs(), 2)
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
    (code,) = await _read_all(kafka_bootstrap, topics.student_events, 1)
    (cmd,) = await _read_all(kafka_bootstrap, topics.lab_events, 1)
    (met,) = await _read_all(kafka_bootstrap, topics.network_metrics, 1)
    assert code.key == anon.encode() and cmd.key == b"sess-9" and met.key == b"r1"
    v = json.loads(code.value)
    assert v["event_id"] == e1 and v["anonymous_id"] == anon and v["code"] == "print(1)\n"
    assert json.loads(cmd.value)["event_id"] == e2 and json.loads(met.value)["event_id"] == e3
    for rec in (code, cmd, met):
        assert b"student-001" not in rec.value


def test_invalid_input_error_names_fields_not_values(kafka_bootstrap: str, tmp_path) -> None:
    settings = Settings(bootstrap_servers=kafka_bootstrap, pseudonym_key="test-key", data_dir=tmp_path)
    with Collector(settings) as c, pytest.raises(InvalidEventError) as info:
        c.track_lab_command("student-secret-007", "sess", -1, "show run", "toaster-9000")
    text = str(info.value)
    assert "device_type" in text and "seq" in text
    assert "student-secret-007" not in text and "toaster" not in text
    assert isinstance(info.value, ValueError)
