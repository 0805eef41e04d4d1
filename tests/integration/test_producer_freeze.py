"""``freeze``: a kafka-python producer that failed a send delivers nothing more, and fails the rest.

This reaches into kafka-python internals (see ``producers/delivery.py``); this test is what says
the pinned version still behaves as ``freeze`` needs.
"""

from __future__ import annotations

import pytest
from kafka.errors import KafkaError

from producers.delivery import freeze, is_frozen, make_producer
from tests.fixtures.kafka import consume_all

pytestmark = [pytest.mark.integration]


async def test_a_frozen_producer_fails_what_it_holds_and_sends_nothing(settings_factory) -> None:
    settings = settings_factory()
    topic = settings.topics.lab_events
    producer = make_producer(settings, linger_ms=200)  # records wait in the accumulator
    try:
        before = [producer.send(topic, key=b"k", value=b"before") for _ in range(50)]
        producer.flush(10)
        assert all(f.succeeded() for f in before)
        held = [producer.send(topic, key=f"k{i}".encode(), value=b"held") for i in range(300)]
        assert not is_frozen(producer)
        freeze(producer)
        freeze(producer)  # twice is harmless
        assert is_frozen(producer)
        later = [producer.send(topic, key=b"k", value=b"later") for _ in range(50)]
        producer.flush(10)
        failed = [f for f in held + later if f.failed()]
        assert len(failed) == 350, f"{len(failed)} of 350 failed"
        assert all(isinstance(f.exception, KafkaError) for f in failed)
    finally:
        producer.close(5)
    # read for 5 s: the 50 sent before the freeze, and nothing sent after it
    got = await consume_all(settings.bootstrap_servers, [topic], until=lambda g: False, timeout=5.0)
    assert [r.value for r in got[topic]] == [b"before"] * 50
