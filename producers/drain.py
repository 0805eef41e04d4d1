"""The background thread that drains the spool into Kafka, in order, when Kafka is back.

A batch is read from the head of the spool, sent, flushed, and only the
acknowledged prefix is committed, so a record leaves the spool once (a crash
between Kafka's ack and the cursor write can repeat that batch's tail:
at-least-once). When the spool is empty the collector goes back to direct
sends, under the same lock that appends take, so no event overtakes another.

A producer that delivers nothing of a drain batch is retired (closed without waiting) and a fresh
one is built on the next attempt. kafka-python 2.3.3 can leave a producer unable to send to a
partition for good: when a produce request fails (request timeout, disconnect) after its batch
passed ``delivery_timeout_ms``, ``Sender._fail_batch`` raises a TypeError (it calls the exception
instance it was given) before the partition is unmuted, so with one request in flight that
partition is never sent to again and every later batch for it only expires. Retiring the producer
can turn records it wrote but never confirmed into duplicates on Kafka: at-least-once, as above.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kafka.errors import KafkaError, KafkaTimeoutError

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
    flush_timeout: float = 35.0  # longest wait for a producer's sends: delivery timeout + a margin


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
        try:
            producer.flush(s.flush_timeout)
        except KafkaTimeoutError:
            pass  # what was acknowledged is committed below; the producer is retired
        ok = 0
        for topic, fut in futures:
            if not fut.succeeded():
                break
            ok += 1
            s.on_published(topic)
        self._spool.commit(ok)
        if ok < len(records):
            log.warning("spool drain: Kafka took %d of %d records; retrying the rest", ok, len(records))
            if ok == 0:
                self._retire(producer)
        return ok == len(records) and ok > 0

    def _retire(self, producer: Any) -> None:
        """Drop a producer that delivered nothing; the next attempt connects a fresh one.

        Its unfinished direct sends fail with IllegalStateError (forced close) and are spooled by
        the collector's errback.
        """
        s = self._s
        with s.lock:
            if s.producer is not producer:
                return
            s.producer = None
        log.warning("retiring a Kafka producer that delivered nothing; a fresh one when Kafka is back")
        try:
            producer.close(0)
        except KafkaError as e:  # close(0) flushes with no wait first: a batch still unresolved
            log.warning("a retired producer did not close cleanly (%s)", type(e).__name__)
