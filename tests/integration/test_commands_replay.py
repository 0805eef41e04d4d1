"""Through the topics: the command corpus published twice, interleaved, gives identical outputs (issue 14).

Every lab command is published to ``lab-events`` a second time (same event id, same seq) somewhere
after the original, as a redelivery, a collector's re-send or a dead-letter replay would; a real
``labstream worker`` must answer each copy exactly as it answered the first, in the CLI mode the
corpus expects.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pytest
from kafka import KafkaProducer

from foundation.settings import Settings
from schemas import CategorizedCommand
from tests.fixtures.kafka import consume_all
from tests.stream_processors.test_commands_idempotent import _corpus

pytestmark = [pytest.mark.integration]


async def test_corpus_published_twice_interleaved_gives_identical_outputs(
    settings_factory: Callable[..., Settings], worker_factory: Callable[..., Any]
) -> None:
    settings = settings_factory()
    sessions = _corpus()
    expected = {json.loads(v)["event_id"]: want for _, rows in sessions for v, want in rows}
    clean = [
        (sid, rows[i][0])
        for i in range(max(len(r) for _, r in sessions))
        for sid, rows in sessions
        if i < len(rows)
    ]
    order = list(clean)
    rng = random.Random(1414)
    for item in clean:
        order.insert(rng.randint(order.index(item) + 1, len(order)), item)
    worker = worker_factory(settings)
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all", linger_ms=5)
    try:
        for sid, value in order:
            producer.send(settings.topics.lab_events, key=sid.encode(), value=value)
        producer.flush(60)
    finally:
        producer.close(10)
    worker.wait_ready()
    topic = settings.topics.commands_categorized
    got = await consume_all(
        settings.bootstrap_servers or "", [topic], until=lambda g: len(g[topic]) >= len(order), timeout=180
    )
    answers: dict[str, set[bytes]] = defaultdict(set)
    for m in got[topic]:
        answers[json.loads(m.value)["event_id"]].add(m.value)
    assert len(got[topic]) >= len(order), worker.log_tail()
    assert set(answers) == set(expected)
    for event_id, values in answers.items():
        assert len(values) == 1, "a repeated command got another answer"
        c = CategorizedCommand.model_validate_json(next(iter(values)))
        assert (c.normalized, c.category, c.mode) == expected[event_id]
