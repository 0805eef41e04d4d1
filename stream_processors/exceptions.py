"""Errors of the stream processors; ``retriable`` drives the dead-letter/retry decision."""

from __future__ import annotations

from foundation.exceptions import LabStreamError


class ProcessingError(LabStreamError):
    """An event could not be processed; not retriable: it goes to dead-letters."""


class DecodeError(ProcessingError):
    """The bytes are not UTF-8 JSON."""


class ValidationFailed(ProcessingError):
    """The JSON does not match the topic's schema."""


class TransientError(LabStreamError):
    """Something the event needs is briefly away (a broker timeout, a full buffer): retried with
    back-off, never dead-lettered."""

    retriable = True


def is_retriable(exc: BaseException) -> bool:
    """Whether a failure may pass if tried again (then the batch is retried with back-off and never
    dead-lettered) or never will (then the record is dead-lettered at once).

    LabStream's errors and Kafka's say so themselves (``retriable``); aiokafka's
    ``KafkaTimeoutError`` (a send or metadata wait that timed out) says ``False`` but is a broker
    that is slow or away, so it counts as transient, as do timeouts and connection errors. An error
    that says nothing (Faust's ``ProducerSendError`` wraps every Kafka send error) is judged by
    its cause.
    """
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return False
        if isinstance(seen, TimeoutError | ConnectionError) or type(seen).__name__ == "KafkaTimeoutError":
            return True
        retriable = getattr(seen, "retriable", None)
        if isinstance(retriable, bool):
            return retriable
        seen = seen.__cause__
    return False
