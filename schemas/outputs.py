"""Output values: what the agents write on the output topics."""

from __future__ import annotations

import base64
import uuid
from typing import Literal

from pydantic import Field

from schemas.envelope import FiniteFloat, Model, UtcDatetime, utcnow
from schemas.events import DeviceType, GraderResult, Language

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
    result: GraderResult | None = Field(
        default=None, description="The grader's verdict from the submission (without its feedback), or null."
    )


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


class Counted(Model):
    """A value and how often it was seen in a window."""

    value: str
    count: int = Field(ge=1)


class ExerciseInsight(Model):
    """Aggregates of one exercise over one tumbling window (topic ``exercise-insights``, key
    ``exercise_id``). Rates are over the window's submissions; ``grader_failure_rate`` over the
    graded ones (null when none was graded). Error messages are normalised so variants group
    (names, numbers and quoted values become ``<name>``, ``<n>``, ``'<v>'``)."""

    exercise_id: str
    window: Literal["hour", "day"]
    window_start: UtcDatetime
    window_end: UtcDatetime
    submissions: int = Field(ge=0)
    distinct_students: int = Field(ge=0)
    syntax_errors: int = Field(ge=0)
    syntax_error_rate: FiniteFloat = Field(ge=0, le=1)
    graded: int = Field(ge=0)
    grader_failures: int = Field(ge=0)
    grader_failure_rate: FiniteFloat | None = Field(default=None, ge=0, le=1)
    unchecked: int = Field(default=0, ge=0, description="python2 and submissions a checker bound stopped")
    top_errors: list[Counted] = Field(default_factory=list)
    top_imports: list[Counted] = Field(default_factory=list)


class LabInsight(Model):
    """Aggregates of one lab device type over one tumbling window (topic ``lab-insights``, key
    ``device_type``): the most used commands (normalised, numbers and addresses as ``<n>``) and the
    share of commands whose first word the platform's CLI does not know (null for ``linux``)."""

    device_type: DeviceType
    window: Literal["hour", "day"]
    window_start: UtcDatetime
    window_end: UtcDatetime
    commands: int = Field(ge=0)
    unknown_commands: int | None = Field(default=None, ge=0)
    unknown_share: FiniteFloat | None = Field(default=None, ge=0, le=1)
    top_commands: list[Counted] = Field(default_factory=list)
