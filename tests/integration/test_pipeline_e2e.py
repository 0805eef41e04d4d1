"""End to end on the real embedded broker: collector → Kafka → worker → output topics."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from foundation.settings import Settings
from labstream.broker import list_topics
from producers import Collector
from schemas import Alert, CategorizedCommand, CodeCheck, DeadLetter
from tests.fixtures.kafka import consume_all
from tests.fixtures.metrics import SPIKE, normal_reading

pytestmark = [pytest.mark.integration]

STUDENT_A = f"alice-{uuid.uuid4().hex[:6]}@school.example"
STUDENT_B = f"bob-{uuid.uuid4().hex[:6]}@school.example"

SESSION = [
    ("en", "enable", "other", "exec"),
    ("conf t", "configure terminal", "config", "privileged"),
    ("router ospf 1", "router ospf 1", "routing", "config"),
    ("network 10.0.0.0 0.0.0.255 area 0", "network 10.0.0.0 0.0.0.255 area 0", "routing", "config-router"),
    ("int gi0/1", "interface GigabitEthernet0/1", "config", "config-router"),
    ("no shut", "no shutdown", "config", "config-if"),
    ("end", "end", "other", "config-if"),
    ("sh ip int br", "show ip interface brief", "show", "privileged"),
]


async def test_each_event_type_arrives_exactly(
    settings_factory: Callable[..., Settings], worker_factory: Callable[..., Any]
) -> None:
    settings = settings_factory()
    worker = worker_factory(settings)
    with Collector(settings) as c:
        bad = c.track_code_submission(STUDENT_A, "for x in range(3)\n    print(x)\n", "ex-01", "python")
        good = c.track_code_submission(
            STUDENT_B, "import os\nfrom netmiko import ConnectHandler\n\ndef f():\n    import json\n", "ex-02"
        )
        cmd_ids = [
            c.track_lab_command(STUDENT_A, "lab-session-1", seq, raw, "cisco_ios")
            for seq, (raw, *_rest) in enumerate(SESSION)
        ]
        for i in range(80):
            c.track_network_metrics("dev-e2e-1", **normal_reading(i))
        spike = c.track_network_metrics("dev-e2e-1", **SPIKE)
        c.flush()
    worker.wait_ready()
    t = settings.topics

    def done(got: dict[str, list[Any]]) -> bool:
        return (
            len(got[t.code_checks]) >= 2
            and len(got[t.commands_categorized]) >= len(SESSION)
            and any(json.loads(m.value)["alert_type"] == "network_anomaly" for m in got[t.alerts])
        )

    got = await consume_all(
        settings.bootstrap_servers or "", [t.code_checks, t.commands_categorized, t.alerts], until=done
    )
    assert done(got), f"outputs missing: { {k: len(v) for k, v in got.items()} }\n{worker.log_tail()}"

    checks = {
        str(c.event_id): c for c in (CodeCheck.model_validate_json(m.value) for m in got[t.code_checks])
    }
    b = checks[bad]
    assert b.has_syntax_error and b.error is not None
    assert (b.error.line, b.error.column) == (1, 18)
    assert b.error.message == "expected ':'"
    assert b.exercise_id == "ex-01" and b.imports_used == []
    g = checks[good]
    assert not g.has_syntax_error and g.error is None
    assert g.imports_used == ["os", "netmiko", "json"]
    assert g.anonymous_id != STUDENT_B and len(g.anonymous_id) >= 16
    # the keys of the output records are the pseudonyms, never the student ids
    assert {m.key for m in got[t.code_checks]} == {b.anonymous_id.encode(), g.anonymous_id.encode()}

    cats = sorted(
        (CategorizedCommand.model_validate_json(m.value) for m in got[t.commands_categorized]),
        key=lambda x: x.seq,
    )
    assert [str(x.event_id) for x in cats] == cmd_ids
    for x, (_raw, normalized, category, mode) in zip(cats, SESSION, strict=True):
        assert (x.normalized, x.category, x.mode) == (normalized, category, mode), x
        assert x.session_id == "lab-session-1" and x.device_type == "cisco_ios"

    alerts = [Alert.model_validate_json(m.value) for m in got[t.alerts]]
    net = [a for a in alerts if a.alert_type == "network_anomaly"]
    assert len(net) == 1, net
    a = net[0]
    assert a.subject == "dev-e2e-1" and a.severity == "high"
    assert spike in a.event_ids and a.count == len(a.event_ids)
    assert a.model_version and a.reasons and a.recommendations
    assert {r.feature for r in a.reasons} & {"latency_ms", "packet_loss", "error_rate"}


async def test_bad_input_goes_to_dead_letters_and_worker_keeps_going(
    settings_factory: Callable[..., Settings], worker_factory: Callable[..., Any]
) -> None:
    from kafka import KafkaProducer

    settings = settings_factory()
    t = settings.topics
    worker = worker_factory(settings)
    raw = KafkaProducer(bootstrap_servers=settings.bootstrap_list)
    garbage = b"\xff\xfe{not json"
    invalid = {
        t.student_events: {"event_type": "code_submission", "anonymous_id": "k1-0123456789abcdef", "code": 5},
        t.lab_events: {"event_type": "lab_command", "session_id": "s", "seq": -1, "device_type": "toaster"},
        t.network_metrics: {
            "event_type": "network_metrics",
            "device_id": "d",
            "packet_loss": 7,
            "latency_ms": 1,
            "bandwidth_utilization": 0.1,
            "connection_count": 1,
            "error_rate": 0,
        },
    }
    for topic, value in invalid.items():
        raw.send(topic, key=b"k-garbage", value=garbage)
        raw.send(topic, key=b"k-invalid", value=json.dumps(value).encode())
    raw.flush()
    raw.close()
    with Collector(settings) as c:
        after_code = c.track_code_submission(STUDENT_A, "x = 1\n", "ex-9")
        after_cmd = c.track_lab_command(STUDENT_A, "s-after", 0, "show version", "cisco_ios")
        c.flush()
    worker.wait_ready()

    def done(got: dict[str, list[Any]]) -> bool:
        return len(got[t.dead_letters]) >= 6 and got[t.code_checks] and got[t.commands_categorized]

    got = await consume_all(
        settings.bootstrap_servers or "", [t.dead_letters, t.code_checks, t.commands_categorized], until=done
    )
    assert done(got), f"{ {k: len(v) for k, v in got.items()} }\n{worker.log_tail()}"
    dls = [DeadLetter.model_validate_json(m.value) for m in got[t.dead_letters]]
    by = {(d.original_topic, base64.b64decode(d.key or "")): d for d in dls}
    for topic in invalid:
        g = by[(topic, b"k-garbage")]
        assert g.stage == "decode" and "JSON" in g.error
        assert g.original_value() == garbage
        v = by[(topic, b"k-invalid")]
        assert v.stage == "validate"
        assert json.loads(v.original_value() or b"") == invalid[topic]
    assert "code" in by[(t.student_events, b"k-invalid")].error
    assert "device_type" in by[(t.lab_events, b"k-invalid")].error
    assert "packet_loss" in by[(t.network_metrics, b"k-invalid")].error
    # the dead-letter record keeps the original key
    assert {m.key for m in got[t.dead_letters]} == {b"k-garbage", b"k-invalid"}
    # and the worker went on with what followed
    assert [CodeCheck.model_validate_json(m.value).event_id for m in got[t.code_checks]] == [
        uuid.UUID(after_code)
    ]
    assert (
        str(CategorizedCommand.model_validate_json(got[t.commands_categorized][0].value).event_id)
        == after_cmd
    )
    status, _ = worker.get("/health")
    assert status == 200


async def test_no_student_id_in_any_topic(
    settings_factory: Callable[..., Settings], worker_factory: Callable[..., Any], broker: Any
) -> None:
    """Every byte of every topic of the run (inputs, outputs, the worker's changelogs): no student id."""
    settings = settings_factory(struggling_threshold=2)
    worker = worker_factory(settings)
    students = [f"planted-{uuid.uuid4().hex}" for _ in range(5)]
    with Collector(settings) as c:
        for i, s in enumerate(students):
            c.track_code_submission(s, f"print({i}\n", "ex-1")
            c.track_code_submission(s, f"print({i}\n", "ex-1")
            c.track_lab_command(s, f"sess-{i}", 0, "sh run", "cisco_ios")
        c.flush()
    worker.wait_ready()
    t = settings.topics

    def done(got: dict[str, list[Any]]) -> bool:
        return (
            len(got[t.code_checks]) >= 10
            and len(got[t.alerts]) >= 5
            and len(got[t.commands_categorized]) >= 5
        )

    await consume_all(settings.bootstrap_servers or "", t.outputs(), until=done)
    ours = [x for x in list_topics(broker.bootstrap) if x in t.all() or x.startswith(settings.app_id)]
    assert len(ours) > len(t.all()), f"expected changelog topics too: {ours}"
    everything = await consume_all(broker.bootstrap, ours, until=lambda g: False, timeout=5.0)
    blob = b"".join((m.key or b"") + b"\x00" + (m.value or b"") for msgs in everything.values() for m in msgs)
    assert len(blob) > 1000
    for s in students:
        assert s.encode() not in blob
    struggling = [Alert.model_validate_json(m.value) for m in everything[t.alerts]]
    assert {a.alert_type for a in struggling} == {"struggling_student"}
