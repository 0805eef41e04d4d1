"""`labstream alerts` prints alerts readably (and as JSON lines) from the alerts topic."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from kafka import KafkaProducer

from foundation.settings import Settings
from labstream.alerts import format_alert
from schemas import Alert, Reason
from schemas.outputs import alert_fingerprint

T0 = datetime(2026, 3, 2, 13, 5, 11, tzinfo=UTC)
ALERT = Alert(
    alert_id="a-1",
    fingerprint=alert_fingerprint("network_anomaly", "lab-r9"),
    started_at=T0,
    last_seen_at=T0 + timedelta(seconds=60),
    alert_type="network_anomaly",
    severity="high",
    subject="lab-r9",
    score=9.5,
    model_version="v1",
    reasons=[Reason(feature="latency_ms", value=180.0, expected=20.0, deviation=12.3)],
    recommendations=["Immediate investigation required"],
    event_ids=["e1", "e2"],
    count=2,
)


def test_format_alert_is_one_readable_line_plus_advice() -> None:
    text = format_alert(ALERT)
    first, second = text.splitlines()
    assert "HIGH" in first and "network_anomaly" in first and "lab-r9" in first and "x2" in first
    assert first.startswith("13:06:11 FIRING ") and " 1m " in first
    assert "latency_ms 180 (normal 20, +12.3σ)" in first
    assert second.strip() == "→ Immediate investigation required"


def test_format_alert_shows_the_lifecycle() -> None:
    end = T0 + timedelta(minutes=75)
    done = ALERT.model_copy(
        update={"status": "resolved", "ended_at": end, "last_seen_at": end, "resolution": "no data"}
    )
    [line] = format_alert(done).splitlines()
    assert line.startswith("14:20:11 RESOLVED ") and " 1h15m " in line and "(no data)" in line


def test_a_version_1_record_reads_as_firing() -> None:
    v1 = {
        "alert_id": "a",
        "alert_type": "network_anomaly",
        "severity": "low",
        "subject": "r1",
        "detected_at": "2026-03-02T13:05:11Z",
        "count": 1,
    }
    a = Alert.model_validate_json(json.dumps(v1))
    assert a.status == "firing" and a.schema_version == 1 and a.started_at == a.last_seen_at == T0
    assert a.fingerprint == alert_fingerprint("network_anomaly", "r1")


def test_alerts_command_tails_the_topic(settings_factory: Callable[..., Settings]) -> None:
    settings = settings_factory()
    p = KafkaProducer(bootstrap_servers=settings.bootstrap_list)
    p.send(settings.topics.alerts, key=b"lab-r9", value=ALERT.to_bytes())
    p.flush()
    p.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABSTREAM_")}
    env.update(
        LABSTREAM_BOOTSTRAP_SERVERS=settings.bootstrap_servers or "",
        LABSTREAM_TOPIC_ALERTS=settings.topics.alerts,
    )
    for args, check in (
        ([], lambda line: "network_anomaly" in line and "lab-r9" in line),
        (["--json"], lambda line: json.loads(line)["alert_id"] == "a-1"),
    ):
        proc = subprocess.Popen(
            [sys.executable, "-m", "labstream.cli", "alerts", "--from-beginning", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 30
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert time.monotonic() < deadline and check(line), line
        finally:
            proc.terminate()
            proc.wait(10)


def test_alerts_command_needs_a_broker() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABSTREAM_")}
    out = subprocess.run(
        [sys.executable, "-m", "labstream.cli", "alerts"], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 2 and "LABSTREAM_BOOTSTRAP_SERVERS" in out.stderr
