"""The background thread that drains the spool into Kafka, in order, when Kafka is back.

A batch is read from the head of the spool, sent, flushed, and only the
acknowledged prefix is committed, so a record leaves the spool once (a crash
between Kafka's ack and the cursor write can repeat that batch's tail:
at-least-once). When the spool is empty the collector goes back to direct
sends, under the same lock that appends take, so no event overtakes another.

Per-key order. kafka-python sends one batch per partition at a time, and when a batch
expires during an outage it goes on to the partition's next one; if Kafka is back by
then, the later batch arrives before the expired one is sent again. So a producer is
frozen (:func:`producers.delivery.freeze`) at its first failed send, direct or drain:
it sends nothing more and fails everything it still holds. A frozen producer is then
flushed, its failed direct sends go to the spool sorted by send order (kafka-python fails
an expired in-flight batch after the newer batches queued behind it, so the order of its
failures is not the send order), and it is retired and replaced by a fresh one before the
drainer sends anything. Records
past the committed prefix that did arrive are sent again: duplicates with the same
``event_id``, never reordered.

A record Kafka refuses for good (not retriable: too large for the broker, for instance) is
given up on, counted in ``labstream_collector_lost_total{reason="kafka_rejected"}``, and the
drain goes on past it: one bad record never stalls the records behind it.

In the durable mode (``outbox``) every event goes through the spool and the drainer is the
only sender: it never switches back to direct sends.

A retired producer is closed without waiting. That also covers a kafka-python 2.3.3 defect that
can leave a producer unable to send to a partition for good: when a produce request fails
(request timeout, disconnect) after its batch passed ``delivery_timeout_ms``,
``Sender._fail_batch`` raises a TypeError (it calls the exception instance it was given) before
the partition is unmuted, so every later batch for it only expires. Retiring a producer can turn
records it wrote but never confirmed into duplicates on Kafka: at-least-once, as above.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kafka.errors import KafkaError, KafkaTimeoutError

from producers.delivery import freeze, is_frozen, is_retriable
from producers.spool import Spool

__all__ = ["DeliveryState", "Drainer"]

log = logging.getLogger(__name__)

_BATCH = 2000
_CLOSE_WAIT = 5.0  # seconds a retired (frozen) producer gets to fail what it holds and stop


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
    spool_failed: Callable[[], None] = lambda: None  # failed direct sends to the spool, in send order
    on_lost: Callable[[int, str], None] = lambda n, reason: None  # events given up on, counted
    outbox: bool = False  # durable mode: every event through the spool, never back to direct sends


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
        while (self._s.spooling and not self._s.outbox) or self._spool.depth:
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
        if s.producer is not None and is_frozen(s.producer):
            self._settle(s.producer)
        if s.producer is None:
            s.producer = s.connect()
            if s.producer is None:
                return False
        producer = s.producer
        if self._spool.depth == 0:
            if s.outbox:
                return False
            with s.lock:
                if self._spool.depth == 0:
                    s.spooling = False
                    s.barrier = False
                    log.info("spool drained; sending directly again")
                    return False
        records = self._spool.peek(_BATCH)
        futures = []
        refused: BaseException | None = None  # send() itself refused the record after the futures
        for topic, key, value in records:
            try:
                fut = producer.send(topic, key=key, value=value)
            except KafkaError as e:
                refused = e
                if is_retriable(e):
                    freeze(producer)
                break
            fut.add_errback(self._on_drain_error, producer)
            futures.append((topic, fut))
        try:
            producer.flush(s.flush_timeout)
        except KafkaTimeoutError:
            pass  # what was acknowledged is committed below; the producer is retired
        ok = given_up = 0  # the prefix that is done with: acknowledged, or refused for good
        for topic, fut in futures:
            if fut.succeeded():
                s.on_published(topic)
            elif fut.failed() and not is_retriable(fut.exception):
                given_up += 1  # Kafka will never take it: give it up (counted), do not stall the rest
            else:
                break
            ok += 1
        if refused is not None and ok == len(futures) and not is_retriable(refused):
            given_up += 1
            ok += 1
        if given_up:
            s.on_lost(given_up, "kafka_rejected")
            log.error("spool drain: Kafka refused %d records for good; skipped", given_up)  # noqa: TRY400
        self._spool.commit(ok)
        if ok < len(records):
            log.warning("spool drain: Kafka took %d of %d records; retrying the rest", ok, len(records))
            self._retire(producer)  # frozen first: a send a timed-out flush left unresolved never arrives
        return ok == len(records) and ok > 0

    @staticmethod
    def _on_drain_error(producer: Any, exc: BaseException) -> None:
        """Runs in kafka-python's sender thread: stop the partition's later batches from arriving.

        Not for a record refused for good: it is given up, so the records after it may go on.
        """
        if is_retriable(exc):
            freeze(producer)

    def _settle(self, producer: Any) -> None:
        """A producer frozen by a failed direct send: let its failures reach the spool, retire it."""
        try:
            producer.flush(self._s.flush_timeout)
        except KafkaTimeoutError:
            log.warning("a frozen producer still holds sends after %.0f s", self._s.flush_timeout)
        self._s.spool_failed()
        self._retire(producer)
        self._s.spool_failed()  # what closing it failed, before anything newer is spooled

    def _retire(self, producer: Any) -> None:
        """Drop a producer that failed a send; the next attempt connects a fresh one.

        It is frozen first, so its unfinished sends fail at once (none reaches Kafka) and are
        spooled by the collector's errback while it closes.
        """
        s = self._s
        with s.lock:
            if s.producer is not producer:
                return
            s.producer = None
        freeze(producer)
        log.warning("retiring a Kafka producer that failed a send; a fresh one when Kafka is back")
        try:
            producer.close(_CLOSE_WAIT)
        except KafkaError as e:  # its flush timed out: a send still unresolved (kafka-python defect)
            log.warning("a retired producer did not close cleanly (%s)", type(e).__name__)
