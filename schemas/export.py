"""JSON Schema export, one file per topic, for teams that do not use Python."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from schemas.collector import CollectorEvent
from schemas.envelope import SCHEMA_VERSION
from schemas.events import CodeSubmission, LabCommand, NetworkMetrics
from schemas.outputs import Alert, CategorizedCommand, CodeCheck, DeadLetter, ExerciseInsight, LabInsight

TOPIC_MODELS: dict[str, type[BaseModel]] = {
    "student-events": CodeSubmission,
    "lab-events": LabCommand,
    "network-metrics": NetworkMetrics,
    "code-checks": CodeCheck,
    "commands-categorized": CategorizedCommand,
    "alerts": Alert,
    "dead-letters": DeadLetter,
    "exercise-insights": ExerciseInsight,
    "lab-insights": LabInsight,
}


def json_schemas() -> dict[str, dict[str, object]]:
    """``{file stem: JSON Schema}`` for every topic value and the collector input."""
    from pydantic import TypeAdapter

    out: dict[str, dict[str, object]] = {}
    for topic, model in TOPIC_MODELS.items():
        schema = model.model_json_schema(mode="serialization" if topic not in _INPUTS else "validation")
        version = getattr(model, "SCHEMA_VERSION", SCHEMA_VERSION)  # alerts: version 2
        schema["$id"] = f"https://labstream.invalid/schemas/v{version}/{topic}.json"
        schema["x-topic"] = topic
        schema["x-schema-version"] = version
        out[topic] = schema
    collector = TypeAdapter(CollectorEvent).json_schema()
    collector["title"] = "CollectorEvent"
    collector["x-schema-version"] = SCHEMA_VERSION
    out["collector-input"] = collector
    return out


_INPUTS = {"student-events", "lab-events", "network-metrics"}


def write_json_schemas(out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in json_schemas().items():
        path = out_dir / f"{name}.schema.json"
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        written.append(path)
    return written
