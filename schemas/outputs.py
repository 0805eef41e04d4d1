"""Output values: what the agents write on the output topics."""

from __future__ import annotations

import base64
import uuid
from typing import Literal

from pydantic import Field

from schemas.envelope import FiniteFloat, Model, UtcDatetime, utcnow
from schemas.events import DeviceType, Language

Category = Literal["show", "debug", "routing", "config", "other"]
Severity = Literal["low", "medium", "high"]
Stage = Literal["decode", "validate", "process"]


class SyntaxErrorInfo(Model):
    message: str
    line: int | None = None
    column: int | None = None


class CodeCheck(Model):
    """Result of checking one submission (topic ``code-checks``, key ``anonymous_id``)."""

    event_id: uuid.UUID
    anonymous_id: str
    exercise_id: str
    language: Language
    has_syntax_error: bool
    error: SyntaxErrorInfo | None = None
    imports_used: list[str] = Field(default_factory=list)
    code_length: int = Field(ge=0)


class CategorizedCommand(Model):
    """A normalised, categorised command (topic ``commands-categorized``, key ``session_id``)."""

    event_id: uuid.UUID
    anonymous_id: str
    session_id: str
    seq: int
    device_type: DeviceType
    normalized: str
    category: Category
    mode: str


class Reason(Model):
    """Why an alert fired: a feature, its value, what is normal, and how far off it is."""

    feature: str
    value: float
    expected: float
    deviation: float = Field(description="Distance from normal in robust standard deviations.")


class Alert(Model):
    """An alert for the ops team or a tutor (topic ``alerts``, key ``subject``)."""

    alert_id: str
    alert_type: str
    severity: Severity
    subject: str
    detected_at: UtcDatetime = Field(default_factory=utcnow)
    score: FiniteFloat | None = None
    model_version: str | None = None
    reasons: list[Reason] = Field(default_factory=list)
    recommendations: list[str] = Field(default_factory=list)
    event_ids: list[str] = Field(default_factory=list)
    count: int = Field(default=1, ge=1)


class DeadLetter(Model):
    """An event that could not be processed, with why (topic ``dead-letters``, key: original key)."""

    original_topic: str
    partition: int
    offset: int
    key: str | None = Field(description="base64 of the original key bytes, or null")
    value: str | None = Field(description="base64 of the original value bytes, or null")
    stage: Stage
    error: str
    failed_at: UtcDatetime = Field(default_factory=utcnow)

    @staticmethod
    def b64(raw: bytes | None) -> str | None:
        return None if raw is None else base64.b64encode(raw).decode("ascii")

    def original_value(self) -> bytes | None:
        return None if self.value is None else base64.b64decode(self.value)
