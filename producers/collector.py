"""The collector SDK: pseudonymise, scrub, publish to Kafka; spool to disk when Kafka is away.

Two modes (what each promises: README "Collector: what a returned call promises"):

- **fire-and-forget** (default): ``track_*`` / :meth:`Collector.submit` return once the event
  is in kafka-python's buffer (or in the spool, when Kafka is away). Fast; a crash of this
  process loses what the buffer held.
- **durable** (``Collector(..., durable=True)``, or any call with ``durable=True``): every event
  goes through the on-disk spool (an outbox) and a call returns only once its events are
  fsynced there; one drainer thread sends them in order. A ``kill -9`` after the return loses
  nothing: the next collector on the same spool sends them. ``POST /v1/events`` uses it.

Order per key: while the spool holds anything, new events go to the spool too,
and the drainer (:mod:`producers.drain`) sends them in order before direct
sending resumes (in the durable mode it never does).

Nothing is dropped silently: every event the collector gives up on after taking it is
counted in ``labstream_collector_lost_total{reason}`` and :attr:`Collector.lost`.

>>> from foundation.settings import Settings
>>> with Collector(Settings(bootstrap_servers="127.0.0.1:9092")) as c:  # doctest: +SKIP
...     c.track_lab_command("s-1", "lab-7", 0, "enable secret hunter2", "cisco_ios")
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from kafka.errors import KafkaError, KafkaTimeoutError
from prometheus_client import CollectorRegistry
from pydantic_core import to_json

from foundation.exceptions import ConfigurationError
from foundation.settings import Settings
from producers.delivery import freeze, is_retriable, make_producer
from producers.drain import DeliveryState, Drainer
from producers.exceptions import (
    CollectorClosedError,
    DeliveryError,
    InvalidEventError,
    SpoolError,
    SpoolFullError,
    SpoolWriteError,
)
from producers.metrics import CollectorMetrics
from producers.pseudonym import Pseudonymizer
from producers.scrub import Scrubber
from producers.spool import FsyncPolicy, Spool
from producers.validation import validate_event
from schemas import CodeSubmissionIn, CollectorEventT, LabCommandIn, NetworkMetricsIn

__all__ = ["Collector"]

log = logging.getLogger(__name__)


def _topic_value(fields: dict[str, Any]) -> bytes:
    """The topic model's JSON from fields already validated on input, in the topic model's order.

    The same bytes as the topic model's serializer (``tests/producers/test_collector_encode.py``
    checks it): every field is a str, int, UUID or UTC datetime, which pydantic-core writes the same
    way with or without a schema. Building a model instance only to serialise it cost as much again.
    """
    return to_json(fields)


_EVENT_ID_AT = len(b'{"event_id":"')


def _event_id(value: bytes, event: CollectorEventT) -> str:
    """The event id as text: read back from the JSON just written (it comes first, 36 ASCII
    characters), which is cheaper than formatting the UUID a second time."""
    if value.startswith(b'{"event_id":"') and value[_EVENT_ID_AT + 36 : _EVENT_ID_AT + 37] == b'"':
        return value[_EVENT_ID_AT : _EVENT_ID_AT + 36].decode("ascii")
    return str(event.event_id)


_MIN_ID_LEN = 4  # shorter ids ("1", "ab") would match ordinary text: left alone


def _without_id(text: str, student_id: str) -> str:
    """``text`` with the submitter's own student id replaced by a marker.

    Students sign their work (``# Author: s1234567``); the id then left the collector inside the
    code or command, in clear (found by bench.chaos.security). The collector knows the id, so it
    removes it; ids of other students in free text cannot be recognised and are not.
    """
    if len(student_id) < _MIN_ID_LEN or student_id not in text:
        return text
    return text.replace(student_id, "<redacted:student_id>")


class Collector:
    """Publishes LMS events to the three input topics, private by construction."""

    def __init__(
        self,
        settings: Settings,
        registry: CollectorRegistry | None = None,
        *,
        pseudonymizer: Pseudonymizer | None = None,
        source: str = "labstream-collector",
        spool_fsync: FsyncPolicy = "interval",
        producer_overrides: dict[str, Any] | None = None,
        durable: bool = False,
    ) -> None:
        if not settings.bootstrap_list:
            raise ConfigurationError("the collector needs bootstrap servers (LABSTREAM_BOOTSTRAP_SERVERS)")
        self.settings = settings
        self.metrics = CollectorMetrics(registry if registry is not None else CollectorRegistry())
        self.pseudonymizer = pseudonymizer or Pseudonymizer.from_settings(settings)
        scrubbed = self.metrics.scrubbed
        scrubbed_by_kind: dict[str, Any] = {}  # labelled children: rule kinds, a fixed small set

        def count_scrubbed(kind: str) -> None:
            child = scrubbed_by_kind.get(kind)
            if child is None:
                child = scrubbed_by_kind.setdefault(kind, scrubbed.labels(kind=kind))
            child.inc()

        self.scrubber = Scrubber(count_scrubbed)
        self.source = source
        topics = settings.topics
        self._topic = {
            "code_submission": topics.student_events,
            "lab_command": topics.lab_events,
            "network_metrics": topics.network_metrics,
        }
        self._published = {t: self.metrics.published.labels(topic=t) for t in self._topic.values()}
        self._lab_topic = topics.lab_events
        self._code_topic = topics.student_events
        self._metrics_topic = topics.network_metrics
        self._metrics_serializer = NetworkMetricsIn.__pydantic_serializer__
        self._producer_overrides = dict(producer_overrides or {})
        self._max_value = int(self._producer_overrides.get("max_request_size", 16 * 1024 * 1024)) - 1024
        self.lost = 0  # events taken and then given up on (also labstream_collector_lost_total{reason})
        self.spool = Spool(
            settings.resolved_spool_dir,
            settings.spool_max_bytes,
            fsync=spool_fsync,
            on_corrupt=lambda n: self._lose(n, "spool_corrupt"),
        )
        self.metrics.spool_depth.set_function(lambda: self.spool.depth)
        self.metrics.spool_bytes.set_function(lambda: self.spool.bytes)
        self._closed = False
        self.durable = durable
        self._failed_reason = "spool_full"
        # direct sends that failed, with their send order, until they go to the spool together
        self._send_seq = itertools.count()
        self._failed: list[tuple[int, str, bytes, bytes]] = []
        producer = self._connect()
        self.delivery = DeliveryState(
            lock=threading.Lock(),
            producer=producer,
            spooling=durable or producer is None or self.spool.depth > 0,
            connect=self._connect,
            on_published=lambda topic: self._published[topic].inc(),
            flush_timeout=self._flush_timeout(),
            spool_failed=self._spool_failed,
            on_lost=self._lose,
            outbox=durable,
        )
        self._drainer = Drainer(self.delivery, self.spool)
        self._drainer.start()

    def _lose(self, n: int, reason: str) -> None:
        """Count ``n`` events the collector took and then gave up on (the only way one goes)."""
        self.lost += n
        self.metrics.lost.labels(reason=reason).inc(n)

    def _flush_timeout(self) -> float:
        """How long a send may take before it has either arrived or failed: the producer's delivery
        timeout plus a margin (kafka-python expires a send at the delivery timeout)."""
        delivery_ms = self._producer_overrides.get("delivery_timeout_ms", 30000)
        return float(delivery_ms) / 1000 + 5.0

    def _connect(self) -> Any:
        try:
            return make_producer(self.settings, **self._producer_overrides)
        except (KafkaError, OSError) as e:
            log.warning("Kafka unreachable (%s); events go to the spool until it is back", type(e).__name__)
            return None

    # --- typed helpers -------------------------------------------------------
    def track_code_submission(
        self,
        student_id: str,
        code: str,
        exercise_id: str,
        language: str = "python",
        result: dict[str, Any] | None = None,
    ) -> str:
        """Publish a code submission; returns its event_id. ``result`` is the grader's verdict, if
        any: ``{"passed": bool, "score": 0-1, "feedback": str}`` (score and feedback optional)."""
        return self.submit(
            self._validated(
                {
                    "event_type": "code_submission",
                    "student_id": student_id,
                    "code": code,
                    "exercise_id": exercise_id,
                    "language": language,
                    "result": result,
                    "source": self.source,
                }
            )
        )

    def track_lab_command(
        self, student_id: str, session_id: str, seq: int, command: str, device_type: str
    ) -> str:
        """Publish one CLI command typed in a lab session; returns its event_id."""
        return self.submit(
            self._validated(
                {
                    "event_type": "lab_command",
                    "student_id": student_id,
                    "session_id": session_id,
                    "seq": seq,
                    "command": command,
                    "device_type": device_type,
                    "source": self.source,
                }
            )
        )

    def track_network_metrics(self, device_id: str, **metrics: Any) -> str:
        """Publish one device reading (packet_loss, latency_ms, ...); returns its event_id."""
        return self.submit(
            self._validated(
                {"event_type": "network_metrics", "device_id": device_id, "source": self.source, **metrics}
            )
        )

    def _validated(self, raw: dict[str, Any]) -> CollectorEventT:
        """Validate SDK input; a refused event is counted (reason "invalid") before the error goes up."""
        try:
            return validate_event(raw)
        except InvalidEventError:
            self.metrics.rejected.labels(reason="invalid").inc()
            raise

    # --- generic path ----------------------------------------------------------
    def encode(self, event: CollectorEventT) -> tuple[str, bytes, bytes]:
        """Topic, key and value bytes of the topic record for a validated input event."""
        if isinstance(event, LabCommandIn):
            fields = event.__dict__.copy()
            student_id = fields.pop("student_id")
            fields["anonymous_id"] = self.pseudonymizer.pseudonym(student_id)
            command = fields["command"]
            # a line holding the submitter's id is changed below: the scrubber must not remember it
            has_id = len(student_id) >= _MIN_ID_LEN and student_id in command
            command = self.scrubber.command(fields["device_type"], command, remember=not has_id)
            fields["command"] = _without_id(command, student_id)
            return self._lab_topic, fields["session_id"].encode(), _topic_value(fields)
        if isinstance(event, CodeSubmissionIn):
            fields = event.__dict__.copy()
            anon = self.pseudonymizer.pseudonym(fields.pop("student_id"))
            fields["anonymous_id"] = anon
            # Python 2 source has Python's credential shapes: scrubbed by the Python rules
            language = "python" if fields["language"] == "python2" else fields["language"]
            code = self.scrubber.code(language, fields["code"])
            fields["code"] = _without_id(code, event.student_id)
            if event.result is not None:  # the grader's feedback often quotes the code: scrubbed alike
                result = event.result.__dict__.copy()
                if result["feedback"] is not None:
                    feedback = self.scrubber.code(language, result["feedback"])
                    result["feedback"] = _without_id(feedback, event.student_id)
                fields["result"] = result
            return self._code_topic, anon.encode(), _topic_value(fields)
        if isinstance(event, NetworkMetricsIn):  # same fields as the topic model: no student in it
            return self._metrics_topic, event.device_id.encode(), self._metrics_serializer.to_json(event)
        raise TypeError(f"not a collector event: {type(event).__name__}")

    def submit(self, event: CollectorEventT, *, durable: bool | None = None) -> str:
        """Pseudonymise, scrub and publish a validated input event; returns its event_id.

        Raises a :class:`SpoolError` (``SpoolFullError``, ``SpoolWriteError``; ``retriable``) when
        the event had to go to the spool and the spool could not take it (the event was not taken),
        :class:`DeliveryError` when it is too large. ``durable`` (default: the collector's mode):
        return only once the event is fsynced in the spool, see :meth:`submit_many`.
        """
        if durable or (durable is None and self.durable):
            return self.submit_many([event], durable=True)[0]
        if self._closed:
            raise CollectorClosedError("collector is closed")
        topic, key, value = self.encode(event)
        if len(value) > self._max_value:
            raise DeliveryError(f"event of {len(value)} bytes is larger than the producer's max_request_size")
        if self.delivery.spooling:
            self._to_spool(topic, key, value)
        else:
            self._send(topic, key, value)
        return _event_id(value, event)

    def submit_many(self, events: Sequence[CollectorEventT], *, durable: bool | None = None) -> list[str]:
        """Publish validated events in order; returns their event ids.

        Durable (``durable=True``, or the collector's mode): the events are appended to the spool
        and fsynced (one fsync for the lot, shared with concurrent callers) before this returns;
        the drainer sends them to Kafka. A collector stays in that mode once a durable call was
        made, so later events never overtake earlier ones. If the spool cannot take them all, the
        :class:`SpoolError` raised says in ``accepted`` how many of the first events were taken
        (and are on disk); the rest were not.

        Not durable: :meth:`submit` for each.
        """
        if not (durable or (durable is None and self.durable)):
            return [self.submit(e, durable=False) for e in events]
        if self._closed:
            raise CollectorClosedError("collector is closed")
        records, ids = [], []
        for event in events:
            topic, key, value = self.encode(event)
            if len(value) > self._max_value:
                raise DeliveryError(
                    f"event of {len(value)} bytes is larger than the producer's max_request_size"
                )
            records.append((topic, key, value))
            ids.append(_event_id(value, event))
        if not records:
            return ids
        self._enter_outbox()
        try:
            mark = self._to_spool_many(records)
        except SpoolError as e:
            if e.accepted:
                try:
                    self.spool.sync()
                except SpoolError:
                    e.accepted = 0  # on disk or not: unknown, so not promised
            raise
        self.spool.sync(upto=mark)
        return ids

    def _enter_outbox(self) -> None:
        """From now on every event goes through the spool (the durable mode)."""
        if self.delivery.outbox:
            return
        with self.delivery.lock:
            self.durable = True
            self.delivery.outbox = True
            if not self.delivery.spooling:
                self.delivery.spooling = True
                self.delivery.barrier = True
        log.info("collector: durable mode, every event goes through the spool")

    def _to_spool_many(self, records: list[tuple[str, bytes, bytes]]) -> int:
        """Append ``records`` in order (durable mode); the last one's number for ``Spool.sync``."""
        self._settle_direct_sends()
        with self.delivery.lock:
            mark = 0
            for i, (topic, key, value) in enumerate(records):
                try:
                    mark = self._append(topic, key, value)
                except SpoolError as e:
                    e.accepted = i
                    if i:
                        self._drainer.wake()
                    raise
            self._drainer.wake()
            return mark

    def _send(self, topic: str, key: bytes, value: bytes) -> None:
        producer = self.delivery.producer
        if producer is None:  # retired by the drainer a moment ago
            self._start_spooling("no producer")
            self._to_spool(topic, key, value)
            return
        try:
            fut = producer.send(topic, key=key, value=value)
        except KafkaError as e:  # metadata or buffer wait timed out: Kafka is away
            freeze(producer)  # what it holds goes to the spool ahead of this event, none of it to Kafka
            self._start_spooling(type(e).__name__)
            self._to_spool(topic, key, value)
            return
        fut.add_errback(self._on_send_error, producer, next(self._send_seq), topic, key, value)
        self._published[topic].inc()

    def _on_send_error(
        self, producer: Any, seq: int, topic: str, key: bytes, value: bytes, exc: BaseException
    ) -> None:
        """Runs in kafka-python's sender thread when a direct send failed.

        The event waits in ``_failed`` with its send order: kafka-python does not fail a
        partition's records in send order (an expired in-flight batch is failed after the newer
        batches behind it), so they go to the spool sorted, by :meth:`_spool_failed`, once the
        producer has resolved everything it held.
        """
        if not is_retriable(exc):
            self._lose(1, "kafka_rejected")
            self.metrics.rejected.labels(reason="kafka_rejected").inc()
            log.error("Kafka refused an event for good (%s) on topic %s", type(exc).__name__, topic)
            return
        # before kafka-python sends any later batch: those must follow this event, via the spool
        freeze(producer)  # never raises
        self._start_spooling(type(exc).__name__)
        with self.delivery.lock:
            self._failed.append((seq, topic, key, value))

    def _spool_failed(self) -> None:
        """Move the failed direct sends to the spool, in the order they were sent.

        Called once the producer that failed them has resolved every send (after its flush),
        before anything newer is appended: by the first spooled event, the drainer, flush, close.

        Each leaves ``_failed`` only once it is in the spool: when the spool cannot take one
        (full, a write error), it and the ones after it wait for the next call; new events are
        refused meanwhile (:meth:`_settle_direct_sends`), and :meth:`close` counts what still
        waits as lost.
        """
        with self.delivery.lock:
            if not self._failed:
                return
            self._failed.sort()
            done = 0
            try:
                for _, topic, key, value in self._failed:
                    self._append(topic, key, value)
                    done += 1
            except (SpoolError, OSError) as e:
                self._failed_reason = "spool_full" if isinstance(e, SpoolFullError) else "spool_write"
                log.error(  # noqa: TRY400 - the error's text names the spool, no event data
                    "%d events Kafka did not take wait in memory: the spool cannot take them (%s)",
                    len(self._failed) - done,
                    type(e).__name__,
                )
            finally:
                del self._failed[:done]

    def _start_spooling(self, why: str) -> None:
        with self.delivery.lock:
            if not self.delivery.spooling:
                log.warning("Kafka send failed (%s): spooling to disk until it is back", why)
                self.delivery.spooling = True
                self.delivery.barrier = True

    def _append(self, topic: str, key: bytes | None, value: bytes) -> int:
        try:
            number = self.spool.append(topic, key, value)
        except OSError as e:  # not from our writes (they raise SpoolWriteError): say so all the same
            raise SpoolWriteError(f"spool append failed ({type(e).__name__}): event not accepted") from e
        self.metrics.spooled.inc()
        return number

    def _settle_direct_sends(self) -> None:
        """Earlier direct sends resolve and their failures reach the spool before a newer event.

        Raises the spool's error when failed sends still wait for room: a newer event must not
        overtake them (it is refused, not taken).
        """
        producer = self.delivery.producer
        if self.delivery.barrier and producer is not None:
            self.delivery.barrier = False
            try:
                producer.flush(self.delivery.flush_timeout)
            except KafkaTimeoutError:
                log.warning("direct sends still unresolved after %.0f s", self.delivery.flush_timeout)
        self._spool_failed()
        if self._failed:
            cls = SpoolFullError if self._failed_reason == "spool_full" else SpoolWriteError
            raise cls("the spool cannot take earlier events Kafka did not take: event not accepted")

    def _to_spool(self, topic: str, key: bytes, value: bytes) -> None:
        self._settle_direct_sends()
        with self.delivery.lock:
            if self.delivery.spooling:
                self._append(topic, key, value)
                self._drainer.wake()
                return
        self._send(topic, key, value)  # the drainer emptied the spool meanwhile

    def flush(self, timeout: float | None = None) -> None:
        """Wait until direct sends are acknowledged (or spooled) and the spool is on disk."""
        producer = self.delivery.producer
        try:
            if producer is not None and not self.delivery.outbox:
                producer.flush(timeout)
        finally:
            self._spool_failed()
            self.spool.sync()

    def wait_drained(self, timeout: float = 30.0) -> bool:
        """Block until the spool is empty and direct sending resumed; False on timeout."""
        return self._drainer.wait_drained(timeout)

    def close(self, timeout: float | None = 10.0) -> None:
        """Flush, stop the drainer and close; what is still spooled is drained at the next start.

        Direct sends Kafka has not acknowledged within ``timeout`` (Kafka away or silent) are failed
        into the spool, in send order, not left in kafka-python's memory (neither spooled nor
        counted once the process ends): closing then takes up to the request timeout plus 5 s
        more.
        """
        if self._closed:
            return
        self._closed = True
        try:
            self._drainer.stop()
            producer = self.delivery.producer
            try:
                if producer is not None:
                    self._close_producer(producer, timeout)
            finally:
                self._spool_failed()
                if self._failed:
                    self._lose(len(self._failed), self._failed_reason)
                    log.error("closing: %d events Kafka did not take could not be spooled", len(self._failed))
                    self._failed.clear()
            if self.spool.depth:
                log.warning(
                    "closing with %d events in the spool; they are sent at the next start", self.spool.depth
                )
        finally:
            self.spool.close()  # its lock is released whatever happened above

    def _close_producer(self, producer: Any, timeout: float | None) -> None:
        try:
            producer.flush(timeout)
        except KafkaTimeoutError:
            # frozen: it fails at once what it holds (none of it reaches Kafka later), and the
            # failures reach the spool in close(); kafka-python's own close would wait on them again
            log.warning("closing: sends Kafka did not acknowledge in %s s go to the spool", timeout)
            freeze(producer)
            request_s = float(producer.config["request_timeout_ms"]) / 1000  # what the producer was given
            try:
                producer.flush(request_s + 5.0)
            except KafkaTimeoutError:
                # not seen since the producer-id wait is bounded (delivery.py); kafka-python 2.3.3's
                # Sender.force_close cannot help: it raises on a batch in flight ("not in deque")
                log.error("closing: the Kafka producer did not fail the sends it still holds")  # noqa: TRY400
                return
        try:
            producer.close(timeout)
        except (OSError, KafkaError) as e:
            # kafka-python's close races its own sender thread after a timed-out flush: the
            # sender may have closed the client's wake-up socket first (EBADF). The producer
            # is closed either way; what it failed to send reaches the spool in close().
            log.warning("closing the Kafka producer: %s", type(e).__name__)

    def __enter__(self) -> Collector:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
