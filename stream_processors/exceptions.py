"""Errors of the stream processors; ``retriable`` drives the dead-letter/retry decision."""

from __future__ import annotations

from labstream.exceptions import LabStreamError


class ProcessingError(LabStreamError):
    """An event could not be processed; not retriable: it goes to dead-letters."""


class DecodeError(ProcessingError):
    """The bytes are not UTF-8 JSON."""


class ValidationFailed(ProcessingError):
    """The JSON does not match the topic's schema."""
