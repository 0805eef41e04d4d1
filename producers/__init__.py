"""Collectors: pseudonyms, secret scrubbing, Kafka publishing, disk spool, HTTP ingest."""

from producers.collector import Collector
from producers.exceptions import (
    CollectorClosedError,
    CollectorError,
    DeliveryError,
    InvalidEventError,
    SpoolCorruptError,
    SpoolError,
    SpoolFullError,
    SpoolLockedError,
    SpoolWriteError,
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
    "SpoolError",
    "SpoolFullError",
    "SpoolLockedError",
    "SpoolWriteError",
    "validate_event",
    "validate_json_event",
]
