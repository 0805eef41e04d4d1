"""What the LMS sends to a collector (SDK, ``POST /v1/events``, ``labstream replay``).

The same fields as the topic value with ``student_id`` in place of
``anonymous_id``; ``event_id``, ``occurred_at``, ``schema_version`` and
``source`` are filled in when missing. ``network_metrics`` has no student.

>>> e = collector_event_adapter.validate_python(
...     {"event_type": "lab_command", "student_id": "s-1", "session_id": "lab-7",
...      "seq": 0, "device_type": "cisco_ios", "command": "sh ip int br"})
>>> type(e).__name__
'LabCommandIn'
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, TypeAdapter

from schemas.events import CodeSubmissionFields, LabCommandFields, NetworkMetrics

StudentId = Annotated[str, Field(min_length=1, max_length=256)]


class CodeSubmissionIn(CodeSubmissionFields):
    student_id: StudentId


class LabCommandIn(LabCommandFields):
    student_id: StudentId


class NetworkMetricsIn(NetworkMetrics):
    pass


CollectorEventT = CodeSubmissionIn | LabCommandIn | NetworkMetricsIn
CollectorEvent = Annotated[CollectorEventT, Field(discriminator="event_type")]
collector_event_adapter: TypeAdapter[CollectorEventT] = TypeAdapter(CollectorEvent)
