"""``freeze``: a kafka-python producer that failed a send delivers nothing more, and fails the rest.

This reaches into kafka-python internals (see ``producers/delivery.py``); this test is what says
the pinned version still behaves as ``freeze`` needs.
"""

from __future__ import annotations

import logging

import pytest
from kafka.errors import KafkaError, RequestTimedOutError

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


async def test_a_request_failing_on_the_network_fails_its_records_cleanly(
    proxied_broker, settings_factory, caplog
) -> None:
    """A produce request that times out on a silent broker fails (or retries) its batches.

    kafka-python 2.3.x's own handling dies in the errback ("object is not callable") and leaves
    the records to the in-flight expiry, late; ``make_producer`` mends it (see
    ``producers/delivery.py``). The records then fail with the request's own error.
    """
    settings = settings_factory(bootstrap_servers=proxied_broker.bootstrap)
    topic = settings.topics.lab_events
    producer = make_producer(
        settings, request_timeout_ms=1000, delivery_timeout_ms=60_000, retries=1, max_block_ms=2000
    )
    try:
        producer.send(topic, key=b"k", value=b"warm").get(10)
        proxied_broker.blackhole()
        futures = [producer.send(topic, key=f"k{i}".encode(), value=b"v") for i in range(50)]
        with caplog.at_level(logging.ERROR, logger="kafka.future"):
            producer.flush(30)  # the 60 s delivery timeout is not what fails them
        assert all(f.failed() for f in futures), sum(not f.is_done for f in futures)
        assert {type(f.exception) for f in futures} == {RequestTimedOutError}
        assert not [r for r in caplog.records if r.name == "kafka.future"], "an errback died"
    finally:
        proxied_broker.restore()
        producer.close(5)
