"""The collector SDK: pseudonymise, scrub, publish to Kafka; spool to disk when Kafka is away.

Order per key: while the spool holds anything, new events go to the spool too,
and the drainer (:mod:`producers.drain`) sends them in order before direct
sending resumes.

>>> from labstream.settings import Settings
>>> with Collector(Settings(bootstrap_servers="127.0.0.1:9092")) as c:  # doctest: +SKIP
...     c.track_lab_command("s-1", "lab-7", 0, "enable secret hunter2", "cisco_ios")
"""

from __future__ import annotations

import itertools
import logging
import threading
from types import TracebackType
from typing import Any

from kafka.errors import KafkaError, KafkaTimeoutError
from prometheus_client import CollectorRegistry
from pydantic_core import to_json

from labstream.exceptions import ConfigurationError
from labstream.settings import Settings
from producers.delivery import freeze, is_retriable, make_producer
from producers.drain import DeliveryState, Drainer
from producers.exceptions import CollectorClosedError, DeliveryError, InvalidEventError, SpoolFullError
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
        self.spool = Spool(settings.resolved_spool_dir, settings.spool_max_bytes, fsync=spool_fsync)
        self.metrics.spool_depth.set_function(lambda: self.spool.depth)
        self.metrics.spool_bytes.set_function(lambda: self.spool.bytes)
        self._closed = False
        self.lost = 0  # events Kafka refused for good or a full spool could not take (also in metrics)
        # direct sends that failed, with their send order, until they go to the spool together
        self._send_seq = itertools.count()
        self._failed: list[tuple[int, str, bytes, bytes]] = []
        producer = self._connect()
        self.delivery = DeliveryState(
            lock=threading.Lock(),
            producer=producer,
            spooling=producer is None or self.spool.depth > 0,
            connect=self._connect,
            on_published=lambda topic: self._published[topic].inc(),
            flush_timeout=self._flush_timeout(),
            spool_failed=self._spool_failed,
        )
        self._drainer = Drainer(self.delivery, self.spool)
        self._drainer.start()

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

    def submit(self, event: CollectorEventT) -> str:
        """Pseudonymise, scrub and publish a validated input event; returns its event_id.

        Raises :class:`SpoolFullError` when Kafka is away and the spool is full
        (the event was not taken), :class:`DeliveryError` when it is too large.
        """
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
            self.lost += 1
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
        """
        with self.delivery.lock:
            if not self._failed:
                return
            failed = sorted(self._failed)
            self._failed.clear()
            for i, (_, topic, key, value) in enumerate(failed):
                try:
                    self._append(topic, key, value)
                except SpoolFullError:
                    lost = len(failed) - i
                    self.lost += lost
                    self.metrics.rejected.labels(reason="spool_full").inc(lost)
                    log.error("spool full: %d events that Kafka did not take are lost", lost)  # noqa: TRY400
                    return

    def _start_spooling(self, why: str) -> None:
        with self.delivery.lock:
            if not self.delivery.spooling:
                log.warning("Kafka send failed (%s): spooling to disk until it is back", why)
                self.delivery.spooling = True
                self.delivery.barrier = True

    def _append(self, topic: str, key: bytes | None, value: bytes) -> None:
        self.spool.append(topic, key, value)
        self.metrics.spooled.inc()

    def _to_spool(self, topic: str, key: bytes, value: bytes) -> None:
        producer = self.delivery.producer
        if self.delivery.barrier and producer is not None:
            self.delivery.barrier = False
            # earlier direct sends resolve first, so their failures reach the spool before this event
            try:
                producer.flush(self.delivery.flush_timeout)
            except KafkaTimeoutError:
                log.warning("direct sends still unresolved after %.0f s", self.delivery.flush_timeout)
        self._spool_failed()
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
            if producer is not None:
                producer.flush(timeout)
        finally:
            self._spool_failed()
            self.spool.sync()

    def wait_drained(self, timeout: float = 30.0) -> bool:
        """Block until the spool is empty and direct sending resumed; False on timeout."""
        return self._drainer.wait_drained(timeout)

    def close(self, timeout: float | None = 10.0) -> None:
        """Flush, stop the drainer and close; what is still spooled is drained at the next start."""
        if self._closed:
            return
        self._closed = True
        self._drainer.stop()
        producer = self.delivery.producer
        try:
            if producer is not None:
                producer.flush(timeout)
                producer.close(timeout)
        finally:
            self._spool_failed()
        if self.spool.depth:
            log.warning(
                "closing with %d events in the spool; they are sent at the next start", self.spool.depth
            )
        self.spool.close()

    def __enter__(self) -> Collector:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
