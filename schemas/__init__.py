"""Pydantic v2 models of every topic's value (schema version 1) and their JSON Schema export."""

from schemas.collector import (
    CodeSubmissionIn,
    CollectorEvent,
    CollectorEventT,
    LabCommandIn,
    NetworkMetricsIn,
    collector_event_adapter,
)
from schemas.envelope import SCHEMA_VERSION, Envelope, Model, utcnow
from schemas.events import (
    DEVICE_TYPES,
    LANGUAGES,
    METRIC_FIELDS,
    CodeSubmission,
    DeviceType,
    InputEvent,
    LabCommand,
    Language,
    NetworkMetrics,
)
from schemas.export import TOPIC_MODELS, json_schemas, write_json_schemas
from schemas.outputs import (
    Alert,
    CategorizedCommand,
    Category,
    CodeCheck,
    DeadLetter,
    Reason,
    Severity,
    Stage,
    SyntaxErrorInfo,
)

__all__ = [
    "DEVICE_TYPES",
    "LANGUAGES",
    "METRIC_FIELDS",
    "SCHEMA_VERSION",
    "TOPIC_MODELS",
    "Alert",
    "CategorizedCommand",
    "Category",
    "CodeCheck",
    "CodeSubmission",
    "CodeSubmissionIn",
    "CollectorEvent",
    "CollectorEventT",
    "DeadLetter",
    "DeviceType",
    "Envelope",
    "InputEvent",
    "LabCommand",
    "LabCommandIn",
    "Language",
    "Model",
    "NetworkMetrics",
    "NetworkMetricsIn",
    "Reason",
    "Severity",
    "Stage",
    "SyntaxErrorInfo",
    "collector_event_adapter",
    "json_schemas",
    "utcnow",
    "write_json_schemas",
]
