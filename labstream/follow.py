"""``TopicFollower``: a background thread that reads a topic from its start and keeps what a page needs.

The API serves views of output topics (exercise insights, stuck students) without a database: each
view follows its topic with a kafka-python consumer (no consumer group, every partition assigned,
from the beginning) and hands each decoded JSON value to ``keep``, which updates bounded in-memory
state under the follower's lock. A value that is not a JSON object is skipped and counted
(``skipped``); the thread never dies on one record.

>>> f = TopicFollower("127.0.0.1:9092", "alerts", keep=lambda value, state: None)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

__all__ = ["TopicFollower"]

log = logging.getLogger(__name__)


class TopicFollower:
    """Follows ``topic``; ``keep(value, state)`` runs under :attr:`lock` for each JSON object value."""

    def __init__(
        self, bootstrap: str | list[str], topic: str, keep: Callable[[dict[str, Any], dict[str, Any]], None]
    ) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.keep = keep
        self.state: dict[str, Any] = {}
        self.lock = threading.Lock()
        self.skipped = 0
        self.read = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> TopicFollower:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"follow-{self.topic}", daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._follow()
            except (KafkaError, OSError) as e:  # Kafka away: retry, the state so far stays served
                log.warning("following %s failed (%s); retrying", self.topic, type(e).__name__)
                self._stop.wait(2.0)

    def _follow(self) -> None:
        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False, group_id=None)
        try:
            partitions: set[int] | None = None
            while not partitions and not self._stop.is_set():
                partitions = consumer.partitions_for_topic(self.topic)
                if not partitions:
                    time.sleep(0.5)
            if not partitions:
                return
            tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
            consumer.assign(tps)
            consumer.seek_to_beginning(*tps)
            while not self._stop.is_set():
                for records in consumer.poll(timeout_ms=300).values():
                    for r in records:
                        self._one(r.value)
        finally:
            consumer.close()

    def _one(self, raw: bytes | None) -> None:
        try:
            value = json.loads(raw) if raw is not None else None
        except (ValueError, UnicodeDecodeError, RecursionError):
            value = None
        if not isinstance(value, dict):
            self.skipped += 1
            return
        with self.lock:
            try:
                self.keep(value, self.state)
            except (KeyError, TypeError, ValueError):
                self.skipped += 1
                return
            self.read += 1
