"""Input events: what the collectors publish on the three input topics."""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import Field, StrictInt

from schemas.envelope import Envelope, FiniteFloat, Identifier, Model

Language = Literal["python", "yaml", "jinja2", "text", "python2"]
DeviceType = Literal["cisco_ios", "cisco_nxos", "arista_eos", "juniper_junos", "linux"]
AnonymousId = Annotated[str, Field(min_length=8, max_length=128, pattern=r"^[A-Za-z0-9_.:\-]+$")]

LANGUAGES: tuple[str, ...] = get_args(Language)
DEVICE_TYPES: tuple[str, ...] = get_args(DeviceType)
METRIC_FIELDS: tuple[str, ...] = (
    "packet_loss",
    "latency_ms",
    "bandwidth_utilization",
    "connection_count",
    "error_rate",
)


class GraderResult(Model):
    """The LMS grader's verdict on a submission: passed or not, a score, its feedback.

    ``feedback`` is free text the grader wrote (often quoting the student's code): the collector
    scrubs it like code before publishing.
    """

    passed: bool
    score: Annotated[FiniteFloat, Field(ge=0, le=1)] | None = None
    feedback: Annotated[str, Field(max_length=65536)] | None = None


class CodeSubmissionFields(Envelope):
    """A code submission's fields, without who submitted it.

    ``result`` is the grader's verdict when the LMS graded the submission (null otherwise).
    ``python2`` code is not checked by CPython 3 (see ``stream_processors.code``).
    """

    event_type: Literal["code_submission"] = "code_submission"
    exercise_id: Identifier
    language: Language = "python"
    code: str
    result: GraderResult | None = None


class CodeSubmission(CodeSubmissionFields):
    """A student's code submission (topic ``student-events``, key ``anonymous_id``)."""

    anonymous_id: AnonymousId


class LabCommandFields(Envelope):
    """A lab command's fields, without who typed it."""

    event_type: Literal["lab_command"] = "lab_command"
    session_id: Identifier
    seq: StrictInt = Field(ge=0)
    device_type: DeviceType
    command: Annotated[str, Field(max_length=4096)]


class LabCommand(LabCommandFields):
    """A CLI command typed in a lab (topic ``lab-events``, key ``session_id``)."""

    anonymous_id: AnonymousId


# Upper bounds of a physically possible reading (issue 14; a validation tightening, so a reading
# beyond them is a ``validate`` dead letter). Before, ``connection_count: 10**400`` was valid JSON,
# passed the schema, then overflowed numpy: the whole batch fell back to one record at a time and
# the reading ended as a ``process`` dead letter.
MAX_LATENCY_MS = 3_600_000.0  # one hour: far beyond any timeout
MAX_CONNECTION_COUNT = 1_000_000_000  # a billion concurrent connections on one lab device
MAX_ERROR_RATE = 1_000_000.0  # a fraction in practice; generous in case a source sends errors/s


class NetworkMetrics(Envelope):
    """One reading of a lab device (topic ``network-metrics``, key ``device_id``)."""

    event_type: Literal["network_metrics"] = "network_metrics"
    device_id: Identifier
    packet_loss: Annotated[FiniteFloat, Field(ge=0, le=1)]
    latency_ms: Annotated[FiniteFloat, Field(ge=0, le=MAX_LATENCY_MS)]
    bandwidth_utilization: Annotated[FiniteFloat, Field(ge=0, le=1)]
    connection_count: Annotated[StrictInt, Field(ge=0, le=MAX_CONNECTION_COUNT)]
    error_rate: Annotated[FiniteFloat, Field(ge=0, le=MAX_ERROR_RATE)]

    def features(self) -> tuple[float, float, float, float, float]:
        return (
            self.packet_loss,
            self.latency_ms,
            self.bandwidth_utilization,
            float(self.connection_count),
            self.error_rate,
        )


InputEvent = CodeSubmission | LabCommand | NetworkMetrics
