"""Output values: what the agents write on the output topics."""

from __future__ import annotations

import base64
import hashlib
import uuid
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

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


ALERT_SCHEMA_VERSION = 2
AlertStatus = Literal["firing", "updated", "resolved"]
Resolution = Literal["recovered", "no data"]


class AlertLinks(Model):
    """Where to look: the runbook of the alert type, the Grafana dashboard with the subject selected."""

    runbook: str | None = None
    dashboard: str | None = None


class Alert(Model):
    """One lifecycle record of an incident (topic ``alerts``, key ``subject``), schema version 2.

    An incident gives a ``firing`` record when it opens, an ``updated`` record each time its
    severity rises, and one ``resolved`` record when it ends; all carry the incident's ``alert_id``
    and the ``fingerprint`` of its alert type and subject. ``count`` and ``last_seen_at`` cover the
    whole incident up to that record. A version 1 record (``detected_at``, no lifecycle) is read as
    a ``firing`` record that started and was last seen at ``detected_at``.
    """

    SCHEMA_VERSION: ClassVar[int] = ALERT_SCHEMA_VERSION

    schema_version: Literal[1, 2] = 2
    alert_id: str
    fingerprint: str
    status: AlertStatus = "firing"
    alert_type: str
    severity: Severity
    subject: str
    started_at: UtcDatetime
    last_seen_at: UtcDatetime
    ended_at: UtcDatetime | None = None
    resolution: Resolution | None = Field(
        default=None, description="Why a resolved incident ended: later normal readings, or silence."
    )
    summary: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    links: AlertLinks = Field(default_factory=AlertLinks)
    score: FiniteFloat | None = None
    model_version: str | None = None
    reasons: list[Reason] = Field(default_factory=list)
    recommendations: list[str] = Field(default_factory=list)
    event_ids: list[str] = Field(default_factory=list)
    count: int = Field(default=1, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _from_v1(cls, data: Any) -> Any:
        """Read a version 1 record (``detected_at``, no lifecycle) as a firing record."""
        if isinstance(data, dict) and "detected_at" in data and "started_at" not in data:
            data = dict(data)
            at = data.pop("detected_at")
            data.update(schema_version=1, started_at=at, last_seen_at=at)
            data.setdefault(
                "fingerprint", alert_fingerprint(str(data.get("alert_type")), str(data.get("subject")))
            )
        return data

    @property
    def duration_s(self) -> float:
        """Seconds from the incident's start to its end (resolved) or to its last anomalous reading."""
        return ((self.ended_at or self.last_seen_at) - self.started_at).total_seconds()


def alert_fingerprint(alert_type: str, subject: str) -> str:
    """Stable identity of an alert type and subject (16 hex digits of a SHA-256), for grouping."""
    return hashlib.sha256(f"{alert_type}\x00{subject}".encode()).hexdigest()[:16]


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
