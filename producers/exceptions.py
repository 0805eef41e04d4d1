"""Errors raised by the collectors (SDK, HTTP ingest, replay).

Messages never carry a student id, a pseudonym, a secret or any field value:
only field locations and error types.
"""

from __future__ import annotations

from typing import Any

from foundation.exceptions import LabStreamError

__all__ = [
    "CollectorClosedError",
    "CollectorError",
    "DeliveryError",
    "FieldError",
    "InvalidEventError",
    "SpoolCorruptError",
    "SpoolError",
    "SpoolFullError",
    "SpoolLockedError",
    "SpoolWriteError",
]

FieldError = dict[str, Any]
"""``{"index": int | None, "field": "a.b", "type": "missing", "message": "Field required"}``."""


class CollectorError(LabStreamError):
    """Root of the collectors' errors."""


class InvalidEventError(CollectorError, ValueError):
    """An event failed validation; ``errors`` lists field locations and messages, never values."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        where = ", ".join(f"{e['field'] or '(event)'}: {e['type']}" for e in errors[:5])
        more = f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""
        super().__init__(f"invalid event: {where}{more}")


class SpoolError(CollectorError):
    """The on-disk spool could not take an event; ``retriable``: the same call may succeed later.

    ``accepted``: of a batch (``Collector.submit_many``), how many of the first events were taken.
    """

    retriable = False
    accepted = 0


class SpoolFullError(SpoolError):
    """Kafka is unreachable and the on-disk spool reached ``spool_max_bytes``: the event was NOT taken."""

    retriable = True


class SpoolWriteError(SpoolError):
    """A write or fsync of the spool failed (short write, ENOSPC, EFBIG, EIO): the event was NOT taken.

    The spool cut its file back to the last whole record, so what it held before is kept and later
    appends work once there is room again.
    """

    retriable = True


class SpoolCorruptError(SpoolError):
    """A spool segment failed its CRC check somewhere other than a torn tail."""


class SpoolLockedError(SpoolError):
    """Another collector process holds the spool directory."""


class DeliveryError(CollectorError):
    """Kafka refused an event for a reason that retrying will not fix (e.g. record too large)."""


class CollectorClosedError(CollectorError):
    """The collector was closed."""
