"""What flows through a pipeline: raw records in, outputs and dead letters out.

Pipelines are plain objects that turn a batch of :class:`Record` into a
:class:`BatchResult`; the Faust agents only move bytes. That keeps the logic
testable without a broker and lets the glue change for speed.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from schemas import DeadLetter, Stage

M = TypeVar("M", bound=BaseModel)

_MAX_ERROR_LEN = 500
MAX_DEAD_VALUE = 256 * 1024  # bytes of the original value kept in a dead letter (base64: ~350 KB)
MAX_DEAD_KEY = 4 * 1024


@dataclass(slots=True)
class Record:
    """One consumed Kafka record, as bytes."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: float = 0.0  # seconds since the epoch (Kafka record timestamp)


@dataclass(slots=True)
class Output:
    """One record to produce (a ``bytes`` key is sent as it is, a ``str`` one UTF-8 encoded)."""

    topic: str
    key: str | bytes
    value: bytes
    source: Record | None = None  # the input it came from: dead-lettered if Kafka refuses this for good

    def key_bytes(self) -> bytes:
        return self.key if isinstance(self.key, bytes) else self.key.encode("utf-8")


@dataclass(frozen=True, slots=True)
class TimeBounds:
    """How far an event's ``occurred_at`` may be from the worker's clock.

    An event stamped more than ``max_skew_s`` ahead of now, or more than ``horizon_s`` before
    now, is a ``validate`` dead letter (``LABSTREAM_MAX_CLOCK_SKEW_S``,
    ``LABSTREAM_EVENT_HORIZON_S``). Why: event time drives state (an anomaly stamped years ahead
    kept its device's incident open, so the device's next real incident raised no alert).
    ``0`` turns a bound off.

    >>> b = TimeBounds(max_skew_s=300, horizon_s=3600, clock=lambda: 10_000.0)
    >>> from datetime import UTC, datetime
    >>> b.problem(datetime.fromtimestamp(10_200, UTC)) is None
    True
    >>> b.problem(datetime.fromtimestamp(10_400, UTC))
    'occurred_at: 400 s ahead of the worker clock (at most 300 s allowed)'
    """

    max_skew_s: float = 0.0
    horizon_s: float = 0.0
    clock: Callable[[], float] = time.time

    def problem(self, occurred_at: datetime) -> str | None:
        at = occurred_at.timestamp()
        now = self.clock()
        if self.max_skew_s > 0 and at - now > self.max_skew_s:
            return (
                f"occurred_at: {at - now:.0f} s ahead of the worker clock "
                f"(at most {self.max_skew_s:.0f} s allowed)"
            )
        if self.horizon_s > 0 and now - at > self.horizon_s:
            return f"occurred_at: {now - at:.0f} s in the past (at most {self.horizon_s:.0f} s allowed)"
        return None

    def keep(self, pairs: list[tuple[Record, M]], result: BatchResult) -> list[tuple[Record, M]]:
        """The pairs whose event time is within bounds; the others are ``validate`` dead letters."""
        if self.max_skew_s <= 0 and self.horizon_s <= 0:
            return pairs
        out = []
        for record, event in pairs:
            problem = self.problem(event.occurred_at)  # type: ignore[attr-defined]
            if problem is None:
                out.append((record, event))
            else:
                result.dead(record, "validate", problem, "occurred_at_out_of_range")
        return out


@dataclass(slots=True)
class BatchResult:
    outputs: list[Output] = field(default_factory=list)
    dead_letters: list[DeadEntry] = field(default_factory=list)

    def dead(self, record: Record, stage: Stage, error: str, reason: str) -> None:
        """``reason`` is a bounded label for metrics (an error type, never data)."""
        self.dead_letters.append(DeadEntry(record, stage, error, reason))


@dataclass(slots=True)
class DeadEntry:
    record: Record
    stage: Stage
    error: str
    reason: str


def describe_validation_error(exc: ValidationError) -> str:
    """Field locations and messages only: never the input values (they may hold student data)."""
    parts = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False)[:10]:
        loc = ".".join(str(p) for p in err.get("loc", ())) or "<value>"
        parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    more = exc.error_count() - len(parts)
    if more > 0:
        parts.append(f"(+{more} more)")
    return "; ".join(parts)[:_MAX_ERROR_LEN]


def describe_exception(exc: BaseException) -> str:
    """Class name and a bounded message, for a processing failure."""
    if isinstance(exc, ValidationError):
        return describe_validation_error(exc)
    return f"{type(exc).__name__}: {str(exc)[:_MAX_ERROR_LEN]}"


def parse(record: Record, model: type[M], result: BatchResult, bounds: TimeBounds | None = None) -> M | None:
    """Decode and validate a record's value; on failure, dead-letter it and return None.

    ``decode``: the bytes are not a UTF-8 JSON document. ``validate``: the
    document does not match the schema, or its ``occurred_at`` is outside ``bounds``.
    """
    event = _parse(record, model, result)
    if event is None or bounds is None:
        return event
    return event if bounds.keep([(record, event)], result) else None


def _parse(record: Record, model: type[M], result: BatchResult) -> M | None:
    raw = record.value
    if raw is None:
        result.dead(record, "decode", "value is null (tombstone); expected a JSON object", "null")
        return None
    try:
        return model.model_validate_json(raw)
    except ValidationError as e:
        errors = e.errors(include_url=False, include_input=False, include_context=False)
        first = str(errors[0].get("type", "invalid")) if errors else "invalid"
        if first == "json_invalid":
            msg = f"not UTF-8 JSON: {errors[0].get('msg', '')}"[:_MAX_ERROR_LEN]
            result.dead(record, "decode", msg, "json_invalid")
        else:
            result.dead(record, "validate", describe_validation_error(e), first[:40])
        return None
    except (ValueError, RecursionError, MemoryError) as e:
        result.dead(record, "decode", describe_exception(e), type(e).__name__)
        return None


def _bounded(raw: bytes | None, limit: int, what: str, notes: list[str]) -> bytes | None:
    if raw is None or len(raw) <= limit:
        return raw
    digest = hashlib.sha256(raw).hexdigest()
    notes.append(f"{what} truncated to its first {limit} of {len(raw)} bytes (sha256 {digest})")
    return raw[:limit]


@cache
def _list_adapter(model: type[BaseModel]) -> TypeAdapter[list[Any]] | None:
    """A list validator for a model whose fields are all scalars, else None (see :func:`parse_many`)."""
    for prop in model.model_json_schema().get("properties", {}).values():
        kinds = [prop, *prop.get("anyOf", [])]
        if any(k.get("type") in ("array", "object") or "$ref" in k or "items" in k for k in kinds):
            return None
    return TypeAdapter(list[model])  # type: ignore[valid-type]


def _one_object(value: bytes | None) -> bool:
    return value is not None and value.strip()[:1] == b"{" and value.strip()[-1:] == b"}"


def parse_many(
    records: list[Record], model: type[M], result: BatchResult, bounds: TimeBounds | None = None
) -> list[tuple[Record, M]]:
    """Decode and validate a whole batch in one call; bad records are dead-lettered one by one.

    The values are joined into one JSON array and validated at once (one call
    into pydantic-core instead of one per record). Any failure, or an element
    count that differs from the record count, sends the batch through
    :func:`parse` record by record, so each bad record gets its own dead letter
    with its own stage and reason and the good ones are processed as usual.

    Why a joined array cannot pair a record with another record's data: every
    value must start with ``{`` and end with ``}``, so the joining comma is
    followed by ``{`` and can never sit between two members of one object; it
    could only sit inside a nested array or object, and the fast path is used
    only for models whose fields are all scalars, which reject such an element.
    A value holding two objects shifts the count, which is then checked.

    ``bounds``: events whose ``occurred_at`` is out of range are ``validate`` dead letters.
    """
    pairs = _parse_many(records, model, result)
    return pairs if bounds is None else bounds.keep(pairs, result)


def _parse_many(records: list[Record], model: type[M], result: BatchResult) -> list[tuple[Record, M]]:
    adapter = _list_adapter(model)
    if adapter is not None and records and all(_one_object(r.value) for r in records):
        try:
            models = adapter.validate_json(b"[" + b",".join(r.value for r in records) + b"]")  # type: ignore[misc]
        except (ValidationError, ValueError, RecursionError, MemoryError):
            models = None
        if models is not None and len(models) == len(records):
            return list(zip(records, models, strict=True))
    out = []
    for record in records:
        event = _parse(record, model, result)
        if event is not None:
            out.append((record, event))
    return out


def to_dead_letter(record: Record, stage: Stage, error: str) -> DeadLetter:
    """The dead letter of a record; a value (key) larger than ``MAX_DEAD_VALUE`` (``MAX_DEAD_KEY``)
    bytes is kept truncated, with its size and sha256 in ``error``.

    Why: a dead letter must itself be deliverable. An input up to the schema's 10 M characters,
    in base64 (4/3 larger), would exceed Kafka's default 1 MB record limit, and a batch whose
    outputs cannot be delivered stops the worker on every restart (``bench.chaos.bad_input``
    feeds such inputs).
    """
    notes: list[str] = []
    key = _bounded(record.key, MAX_DEAD_KEY, "key", notes)
    value = _bounded(record.value, MAX_DEAD_VALUE, "value", notes)
    return DeadLetter(
        original_topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=DeadLetter.b64(key),
        value=DeadLetter.b64(value),
        stage=stage,
        error="; ".join([error, *notes]),
    )


def dead_letter_key(record: Record) -> bytes:
    """The Kafka key of a record's dead letter: its original key, cut to ``MAX_DEAD_KEY`` bytes.

    Bounded like the value (the dead letter's ``error`` names the full size and sha256): one
    record with a 400 KB key and an invalid value made a dead letter larger than the producer's
    limit, the worker died on it, and met it again after every restart.
    """
    return (record.key or b"")[:MAX_DEAD_KEY]
