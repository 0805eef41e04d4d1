"""The collector SDK: pseudonymise, scrub, publish to Kafka.

>>> from labstream.settings import Settings
>>> with Collector(Settings(bootstrap_servers="127.0.0.1:9092")) as c:  # doctest: +SKIP
...     c.track_lab_command("s-1", "lab-7", 0, "enable secret hunter2", "cisco_ios")
"""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Any

from prometheus_client import CollectorRegistry

from labstream.exceptions import ConfigurationError
from labstream.settings import Settings
from producers.metrics import CollectorMetrics
from producers.pseudonym import Pseudonymizer
from producers.scrub import Scrubber
from producers.validation import validate_event
from schemas import (
    CodeSubmission,
    CodeSubmissionIn,
    CollectorEventT,
    LabCommand,
    LabCommandIn,
    NetworkMetrics,
    NetworkMetricsIn,
)

__all__ = ["Collector"]

log = logging.getLogger(__name__)


class Collector:
    """Publishes LMS events to the three input topics, private by construction."""

    def __init__(
        self,
        settings: Settings,
        registry: CollectorRegistry | None = None,
        *,
        pseudonymizer: Pseudonymizer | None = None,
        source: str = "labstream-collector",
    ) -> None:
        if not settings.bootstrap_list:
            raise ConfigurationError("the collector needs bootstrap servers (LABSTREAM_BOOTSTRAP_SERVERS)")
        self.settings = settings
        self.metrics = CollectorMetrics(registry if registry is not None else CollectorRegistry())
        self.pseudonymizer = pseudonymizer or Pseudonymizer.from_settings(settings)
        self.scrubber = Scrubber(lambda kind: self.metrics.scrubbed.labels(kind=kind).inc())
        self.source = source
        topics = settings.topics
        self._topic = {
            "code_submission": topics.student_events,
            "lab_command": topics.lab_events,
            "network_metrics": topics.network_metrics,
        }
        from kafka import KafkaProducer

        self._producer = KafkaProducer(bootstrap_servers=settings.bootstrap_list, acks="all", linger_ms=5)

    # --- typed helpers -------------------------------------------------------
    def track_code_submission(
        self, student_id: str, code: str, exercise_id: str, language: str = "python"
    ) -> str:
        """Publish a code submission; returns its event_id."""
        return self.submit(
            validate_event(
                {
                    "event_type": "code_submission",
                    "student_id": student_id,
                    "code": code,
                    "exercise_id": exercise_id,
                    "language": language,
                    "source": self.source,
                }
            )
        )

    def track_lab_command(
        self, student_id: str, session_id: str, seq: int, command: str, device_type: str
    ) -> str:
        """Publish one CLI command typed in a lab session; returns its event_id."""
        return self.submit(
            validate_event(
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
            validate_event(
                {"event_type": "network_metrics", "device_id": device_id, "source": self.source, **metrics}
            )
        )

    # --- generic path ----------------------------------------------------------
    def encode(self, event: CollectorEventT) -> tuple[str, bytes, bytes]:
        """Topic, key and value bytes of the topic record for a validated input event."""
        if isinstance(event, LabCommandIn):
            fields = event.__dict__.copy()
            fields["anonymous_id"] = self.pseudonymizer.pseudonym(fields.pop("student_id"))
            fields["command"] = self.scrubber.command(event.device_type, event.command)
            value = LabCommand.model_construct(**fields)
            return self._topic["lab_command"], event.session_id.encode(), value.to_bytes()
        if isinstance(event, CodeSubmissionIn):
            fields = event.__dict__.copy()
            anon = self.pseudonymizer.pseudonym(fields.pop("student_id"))
            fields["anonymous_id"] = anon
            fields["code"] = self.scrubber.code(event.language, event.code)
            return (
                self._topic["code_submission"],
                anon.encode(),
                CodeSubmission.model_construct(**fields).to_bytes(),
            )
        if isinstance(event, NetworkMetricsIn):
            value = NetworkMetrics.model_construct(**event.__dict__)
            return self._topic["network_metrics"], event.device_id.encode(), value.to_bytes()
        raise TypeError(f"not a collector event: {type(event).__name__}")

    def submit(self, event: CollectorEventT) -> str:
        """Pseudonymise, scrub and publish a validated input event; returns its event_id."""
        topic, key, value = self.encode(event)
        self._producer.send(topic, key=key, value=value)
        self.metrics.published.labels(topic=topic).inc()
        return str(event.event_id)

    def flush(self, timeout: float | None = None) -> None:
        self._producer.flush(timeout)

    def close(self, timeout: float | None = None) -> None:
        self._producer.close(timeout)

    def __enter__(self) -> Collector:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
