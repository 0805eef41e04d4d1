"""No silent drop: every path on which the collector gives up on an event it took is counted.

``labstream_collector_lost_total{reason}`` and ``Collector.lost`` must say it; the events not
given up on must still arrive.
"""

from __future__ import annotations

import json
import os
import time

import pytest
from kafka.errors import MessageSizeTooLargeError
from prometheus_client import CollectorRegistry

from labstream.broker import ensure_topics
from producers import Collector, SpoolError
from producers import spool as spool_mod
from producers.spool import Spool
from tests.fixtures.kafka import consume_all

pytestmark = [pytest.mark.integration]

FAST_FAIL = {"delivery_timeout_ms": 3000, "request_timeout_ms": 1000, "max_block_ms": 1000, "linger_ms": 5}


def _lost(registry: CollectorRegistry, reason: str) -> float:
    return registry.get_sample_value("labstream_collector_lost_total", {"reason": reason}) or 0.0


def _cmd(c: Collector, i: int) -> str:
    return c.track_lab_command("student-1", "sess-1", i, "show clock", "cisco_ios")


@pytest.mark.slow
@pytest.mark.parametrize("reason", ["spool_full", "spool_write"])
def test_failed_sends_the_spool_cannot_take_wait_then_are_counted(
    proxied_broker, settings_factory, monkeypatch, reason
) -> None:
    """Kafka goes silent; the spool takes only some of the failed sends (full, or its disk fails).

    The rest wait in memory (never cleared before they are appended), a newer event is refused
    (it would overtake them), and what still waits at close is counted lost, by reason.
    """
    bootstrap = proxied_broker.bootstrap
    settings = settings_factory(create=False, bootstrap_servers=bootstrap, spool_max_bytes=4096)
    ensure_topics(bootstrap, settings.topics.inputs(), 2)
    registry = CollectorRegistry()
    c = Collector(settings, registry=registry, producer_overrides=FAST_FAIL, spool_fsync="never")
    try:
        for i in range(20):
            _cmd(c, i)
        c.flush(10)
        proxied_broker.blackhole()
        if reason == "spool_write":
            real_write = os.write

            def disk_fails_after_5(fd: int, data: bytes) -> int:
                if c.spool.appended_total >= 5:
                    raise OSError(5, "Input/output error")
                return real_write(fd, data)

            monkeypatch.setattr(spool_mod.os, "write", disk_fails_after_5)
        for i in range(20, 120):  # 100 events into kafka-python's buffer; they will fail
            _cmd(c, i)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # until all 100 failed: spooled or waiting
            time.sleep(0.05)
            c.delivery.spool_failed()
            with c.delivery.lock:
                depth, waiting = c.spool.depth, len(c._failed)  # noqa: SLF001
            if depth + waiting == 100:
                break
        assert waiting > 0 and depth + waiting == 100, (depth, waiting)
        assert c.lost == 0  # nothing given up on yet: they wait
        with pytest.raises(SpoolError):  # a newer event must not overtake the waiting ones
            _cmd(c, 500)
    finally:
        depth = c.spool.depth
        c.close(timeout=1)
    assert c.lost == waiting == 100 - depth
    assert _lost(registry, reason) == waiting
    with Spool(settings.resolved_spool_dir, 1 << 20) as s:  # the spool has the first ones, in order
        seqs = [json.loads(v)["seq"] for _, _, v in s.peek(1000)]
    assert seqs == list(range(20, 20 + depth))


async def test_a_record_kafka_refuses_for_good_is_skipped_and_counted(settings_factory) -> None:
    """A spooled record larger than the producer's max_request_size is refused by kafka-python for
    good: the drain gives it up (counted) instead of stalling every record behind it."""
    settings = settings_factory()
    topic = settings.topics.lab_events
    with Spool(settings.resolved_spool_dir, settings.spool_max_bytes) as s:
        for i in range(30):
            big = i == 10
            value = {"seq": i, "pad": "x" * (300_000 if big else 10)}
            s.append(topic, b"sess-1", json.dumps(value).encode())
    registry = CollectorRegistry()
    with Collector(settings, registry=registry, producer_overrides={"max_request_size": 200_000}) as c:
        assert c.wait_drained(30)
        assert c.lost == 1 and _lost(registry, "kafka_rejected") == 1
    got = await consume_all(settings.bootstrap_servers, [topic], until=lambda g: len(g[topic]) >= 29)
    assert [json.loads(r.value)["seq"] for r in got[topic]] == [i for i in range(30) if i != 10]


async def test_a_corrupt_spool_record_is_counted_and_the_rest_delivered(settings_factory) -> None:
    settings = settings_factory()
    topic = settings.topics.lab_events
    with Spool(settings.resolved_spool_dir, settings.spool_max_bytes) as s:
        for i in range(40):
            s.append(topic, b"sess-1", json.dumps({"seq": i}).encode())
    seg = sorted(settings.resolved_spool_dir.glob("*.seg"))[-1]
    data = bytearray(seg.read_bytes())
    data[len(data) // 3] ^= 0x40
    seg.write_bytes(bytes(data))
    registry = CollectorRegistry()
    with Collector(settings, registry=registry) as c:
        assert c.wait_drained(30)
        assert c.lost == 1 and _lost(registry, "spool_corrupt") == 1
    got = await consume_all(settings.bootstrap_servers, [topic], until=lambda g: len(g[topic]) >= 39)
    seqs = [json.loads(r.value)["seq"] for r in got[topic]]
    assert len(seqs) == 39 and seqs == sorted(seqs)


def test_a_direct_send_kafka_refuses_for_good_is_counted(settings_factory) -> None:
    """kafka-python's errback with a non-retriable error (what a broker refusing a too-large record gives)."""
    settings = settings_factory()
    registry = CollectorRegistry()
    with Collector(settings, registry=registry) as c:
        _cmd(c, 0)
        c.flush(10)
        c._on_send_error(  # noqa: SLF001 - the callback kafka-python calls on a failed send
            c.delivery.producer, 1, settings.topics.lab_events, b"k", b"{}", MessageSizeTooLargeError()
        )
        assert c.lost == 1 and _lost(registry, "kafka_rejected") == 1
        assert c.spool.depth == 0  # not spooled: retrying would never succeed
