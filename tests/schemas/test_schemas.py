from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from pydantic import ValidationError

from schemas import (
    TOPIC_MODELS,
    Alert,
    CodeSubmission,
    LabCommand,
    NetworkMetrics,
    collector_event_adapter,
    json_schemas,
)

METRICS = dict(
    device_id="r1",
    packet_loss=0.01,
    latency_ms=20.0,
    bandwidth_utilization=0.5,
    connection_count=100,
    error_rate=0.01,
)


def test_envelope_defaults_and_round_trip() -> None:
    m = NetworkMetrics(**METRICS)
    assert m.schema_version == 1 and m.event_type == "network_metrics"
    assert m.occurred_at.tzinfo is not None
    assert NetworkMetrics.from_bytes(m.to_bytes()) == m


@pytest.mark.parametrize(
    "change",
    [
        {"packet_loss": 1.5},
        {"packet_loss": float("nan")},
        {"latency_ms": -1},
        {"connection_count": 1.5},
        {"connection_count": "100"},
        {"error_rate": float("inf")},
        {"unknown_field": 1},
        {"device_id": ""},
        {"schema_version": 2},
        {"occurred_at": "2026-01-01T00:00:00"},  # no timezone
    ],
)
def test_metrics_reject_wrong_values(change: dict) -> None:
    with pytest.raises(ValidationError):
        NetworkMetrics.model_validate({**METRICS, **change})


def test_lab_command_requires_known_device_and_int_seq() -> None:
    base = dict(
        anonymous_id="k1-0123456789abcdef", session_id="s", seq=0, device_type="cisco_ios", command="x"
    )
    LabCommand.model_validate(base)
    for bad in ({"device_type": "toaster"}, {"seq": "1"}, {"seq": -1}):
        with pytest.raises(ValidationError):
            LabCommand.model_validate({**base, **bad})


def test_collector_input_uses_student_id_not_anonymous_id() -> None:
    e = collector_event_adapter.validate_python(
        {"event_type": "code_submission", "student_id": "s1", "exercise_id": "e", "code": "x=1"}
    )
    assert e.student_id == "s1" and isinstance(e.event_id, uuid.UUID)
    with pytest.raises(ValidationError):
        collector_event_adapter.validate_python(
            {
                "event_type": "code_submission",
                "anonymous_id": "k1-0123456789abcdef",
                "exercise_id": "e",
                "code": "",
            }
        )


def test_validation_errors_can_be_reported_without_values() -> None:
    from stream_processors.records import describe_validation_error

    secret = "student-4711@school.example"
    with pytest.raises(ValidationError) as ei:
        CodeSubmission.model_validate({"anonymous_id": secret, "exercise_id": "e", "code": 1})
    text = describe_validation_error(ei.value)
    assert "anonymous_id" in text and "code" in text
    assert secret not in text


def test_json_schemas_cover_every_topic_and_validate_examples(tmp_path: Path) -> None:
    import jsonschema

    schemas = json_schemas()
    assert set(schemas) >= {
        "student-events",
        "lab-events",
        "network-metrics",
        "code-checks",
        "commands-categorized",
        "alerts",
        "dead-letters",
        "collector-input",
    }
    example = json.loads(NetworkMetrics(**METRICS).to_bytes())
    jsonschema.validate(example, schemas["network-metrics"])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**example, "packet_loss": 3}, schemas["network-metrics"])
    alert = json.loads(
        Alert(
            alert_id="a",
            fingerprint="f",
            alert_type="network_anomaly",
            severity="high",
            subject="r1",
            started_at="2026-03-02T13:05:11Z",
            last_seen_at="2026-03-02T13:05:11Z",
        ).to_bytes()
    )
    jsonschema.validate(alert, schemas["alerts"])


def test_cli_writes_one_schema_per_topic(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "labstream.cli", "schemas", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    files = sorted(p.name for p in tmp_path.glob("*.schema.json"))
    assert "alerts.schema.json" in files and len(files) == len(TOPIC_MODELS) + 1
    assert str(tmp_path / "alerts.schema.json") in out.stdout
    for p in tmp_path.glob("*.json"):  # alerts moved to version 2 (lifecycle); every other value is 1
        assert json.loads(p.read_text())["x-schema-version"] == (2 if p.name == "alerts.schema.json" else 1)


def test_committed_json_schemas_match_the_models() -> None:
    """docs/schemas is what other teams read: it must equal what the models export (`make schemas`)."""
    root = Path(__file__).resolve().parents[2] / "docs" / "schemas"
    for name, schema in json_schemas().items():
        committed = json.loads((root / f"{name}.schema.json").read_text())
        assert committed == json.loads(json.dumps(schema)), f"{name}: run `make schemas`"
