"""Reading and replaying the dead-letters topic.

An event lands in ``dead-letters`` with its original key and bytes, the stage
that failed and why. After the cause is fixed (a schema bug, a worker bug),
``replay`` re-publishes the original bytes to the original topic, so nothing
that was dead-lettered is lost for good.
"""

from __future__ import annotations

import base64
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from foundation.settings import Settings
from schemas import DeadLetter


@dataclass(frozen=True, slots=True)
class Entry:
    offset: int
    partition: int
    letter: DeadLetter


def read_dead_letters(settings: Settings, timeout: float = 30.0) -> list[Entry]:
    """Every record of the dead-letters topic up to its current end (no consumer group, nothing committed)."""
    from kafka import KafkaConsumer, TopicPartition

    topic = settings.topics.dead_letters
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_list, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not tps:
            return []
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        out: list[Entry] = []
        deadline = time.monotonic() + timeout
        # The embedded broker (tansu) reports end offsets per record batch, not per record, so the
        # reported ends can be short: read past them until the topic has been quiet for a second.
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            batches = consumer.poll(timeout_ms=200)
            for tp, msgs in batches.items():
                out.extend(
                    Entry(m.offset, tp.partition, DeadLetter.model_validate_json(m.value)) for m in msgs
                )
            if batches:
                quiet_since = time.monotonic()
            elif (
                all(consumer.position(tp) >= ends[tp] for tp in tps) and time.monotonic() - quiet_since > 1.0
            ):
                break
        return out
    finally:
        consumer.close()


def summarise(entries: list[Entry]) -> Counter[tuple[str, str, str]]:
    """Counts by original topic, stage and the error's first clause (field names, never values)."""
    return Counter(
        (e.letter.original_topic, e.letter.stage, e.letter.error.split(";")[0][:80]) for e in entries
    )


def replay(settings: Settings, entries: list[Entry], keep: Callable[[DeadLetter], bool]) -> dict[str, int]:
    """Re-publish the original key and value of the kept dead letters to their original topics."""
    from kafka import KafkaProducer

    counts: Counter[str] = Counter()
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_list, acks="all", retries=5)
    try:
        futures = []
        for e in entries:
            d = e.letter
            if not keep(d):
                continue
            key = base64.b64decode(d.key) if d.key is not None else None
            value = base64.b64decode(d.value) if d.value is not None else None
            futures.append(producer.send(d.original_topic, key=key, value=value))
            counts[d.original_topic] += 1
        producer.flush()
        for f in futures:
            f.get(timeout=30)  # raise if any send failed: a replay is all or nothing visible
    finally:
        producer.close()
    return dict(counts)
