"""Collectors: pseudonyms, secret scrubbing, Kafka publishing, disk spool, HTTP ingest."""

from producers.collector import Collector
from producers.exceptions import (
    CollectorClosedError,
    CollectorError,
    DeliveryError,
    InvalidEventError,
    SpoolCorruptError,
    SpoolFullError,
    SpoolLockedError,
)
from producers.metrics import CollectorMetrics
from producers.pseudonym import Pseudonymizer
from producers.scrub import Scrubber
from producers.validation import validate_event, validate_json_event

__all__ = [
    "Collector",
    "CollectorClosedError",
    "CollectorError",
    "CollectorMetrics",
    "DeliveryError",
    "InvalidEventError",
    "Pseudonymizer",
    "Scrubber",
    "SpoolCorruptError",
    "SpoolFullError",
    "SpoolLockedError",
    "validate_event",
    "validate_json_event",
]
