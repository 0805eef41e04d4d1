"""The background thread that drains the spool into Kafka, in order, when Kafka is back.

A batch is read from the head of the spool, sent, flushed, and only the
acknowledged prefix is committed, so a record leaves the spool once (a crash
between Kafka's ack and the cursor write can repeat that batch's tail:
at-least-once). When the spool is empty the collector goes back to direct
sends, under the same lock that appends take, so no event overtakes another.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kafka.errors import KafkaError

from producers.spool import Spool

__all__ = ["DeliveryState", "Drainer"]

log = logging.getLogger(__name__)

_BATCH = 2000


@dataclass(eq=False)
class DeliveryState:
    """What the collector and its drainer share; ``lock`` guards ``spooling`` and spool appends."""

    lock: threading.Lock
    producer: Any  # kafka.KafkaProducer, or None while Kafka was never reached
    spooling: bool
    connect: Callable[[], Any]
    on_published: Callable[[str], None]
    barrier: bool = False  # sends started failing: flush in-flight ones into the spool first


class Drainer(threading.Thread):
    """Drains the spool whenever the collector is in spooling mode."""

    def __init__(self, state: DeliveryState, spool: Spool) -> None:
        super().__init__(name="labstream-spool-drainer", daemon=True)
        self._s = state
        self._spool = spool
        self._wake = threading.Event()
        self._halt = threading.Event()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._halt.set()
        self._wake.set()
        if self.is_alive():
            self.join(timeout)

    def wait_drained(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self._s.spooling or self._spool.depth:
            if time.monotonic() >= deadline:
                return False
            self._wake.set()
            time.sleep(0.02)
        return True

    def run(self) -> None:
        backoff = 0.1
        while not self._halt.is_set():
            self._wake.wait(backoff if self._s.spooling else 1.0)
            self._wake.clear()
            if self._halt.is_set() or not self._s.spooling:
                continue
            try:
                progressed = self._drain_once()
            except (KafkaError, OSError) as e:
                log.warning("spool drain failed (%s); retrying", type(e).__name__)
                progressed = False
            except Exception as e:  # noqa: BLE001 - the thread must survive; the spool keeps the events
                log.error("spool drain crashed (%s); retrying", type(e).__name__)  # noqa: TRY400
                progressed = False
            backoff = 0.0 if progressed else min(max(backoff, 0.1) * 2, 5.0)

    def _drain_once(self) -> bool:
        s = self._s
        if s.producer is None:
            s.producer = s.connect()
            if s.producer is None:
                return False
        producer = s.producer
        if self._spool.depth == 0:
            with s.lock:
                if self._spool.depth == 0:
                    s.spooling = False
                    s.barrier = False
                    log.info("spool drained; sending directly again")
                    return False
        records = self._spool.peek(_BATCH)
        futures = []
        for topic, key, value in records:
            try:
                futures.append((topic, producer.send(topic, key=key, value=value)))
            except KafkaError:
                break
        producer.flush()
        ok = 0
        for topic, fut in futures:
            if not fut.succeeded():
                break
            ok += 1
            s.on_published(topic)
        self._spool.commit(ok)
        if ok < len(records):
            log.warning("spool drain: Kafka took %d of %d records; retrying the rest", ok, len(records))
        return ok == len(records) and ok > 0
