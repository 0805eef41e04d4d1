"""The envelope every input event carries, and shared field types."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1


def utcnow() -> datetime:
    return datetime.now(UTC)


def _aware_utc(v: datetime) -> datetime:
    if v.tzinfo is None:
        raise ValueError("timestamp must carry a timezone (ISO-8601 UTC, e.g. 2026-01-01T00:00:00Z)")
    return v.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_aware_utc)]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
Identifier = Annotated[str, Field(min_length=1, max_length=200)]


class Model(BaseModel):
    """Base of every topic value: unknown fields are rejected, so a typo is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_max_length=10_000_000)

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode("utf-8")

    @classmethod
    def from_bytes(cls, raw: bytes | str) -> Any:
        return cls.model_validate_json(raw)


class Envelope(Model):
    """Fields common to every input event."""

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    event_type: str
    schema_version: int = Field(default=SCHEMA_VERSION, ge=1, le=SCHEMA_VERSION, strict=True)
    occurred_at: UtcDatetime = Field(default_factory=utcnow)
    source: Identifier = "labstream"
