"""Device baselines and alert de-duplication, on the real broker with a real worker."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from foundation.settings import Settings
from producers import Collector
from schemas import Alert, NetworkMetricsIn
from tests.fixtures.kafka import consume_all

pytestmark = [pytest.mark.integration]

T0 = dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.UTC)
WARMUP = 30  # detector.BaselineParams.warmup: readings before a device's own baseline is trusted

HOT = dict(
    packet_loss=0.011, latency_ms=140.0, bandwidth_utilization=0.93, connection_count=3000, error_rate=0.021
)
COLD = dict(
    packet_loss=0.0015, latency_ms=10.0, bandwidth_utilization=0.30, connection_count=50, error_rate=0.0011
)


def _jitter(base: dict[str, Any], i: int) -> dict[str, Any]:
    f = 1.0 + ((i * 7919) % 11 - 5) / 250.0  # ±2 %, deterministic
    return {
        k: (int(round(v * f)) if k == "connection_count" else min(1.0, v * f) if k != "latency_ms" else v * f)
        for k, v in base.items()
    }


def _reading(device: str, minute: int, values: dict[str, Any]) -> NetworkMetricsIn:
    return NetworkMetricsIn(device_id=device, occurred_at=T0 + dt.timedelta(minutes=minute), **values)


async def _alerts(
    settings: Settings, until: Callable[[list[Alert]], bool], timeout: float = 60
) -> list[Alert]:
    t = settings.topics
    got = await consume_all(
        settings.bootstrap_servers or "",
        [t.alerts],
        until=lambda g: until([Alert.model_validate_json(m.value) for m in g[t.alerts]]),
        timeout=timeout,
    )
    return [Alert.model_validate_json(m.value) for m in got[t.alerts]]


async def test_a_device_that_runs_hot_is_judged_by_its_own_baseline(
    settings_factory: Callable[..., Settings], worker_factory: Callable[..., Any]
) -> None:
    settings = settings_factory(alert_window_s=300.0)
    worker = worker_factory(settings)
    hot_ids, cold_ids = [], []
    with Collector(settings) as c:
        for i in range(120):  # two hours, one reading a minute
            hot_ids.append(c.submit(_reading("rack-hot", i, _jitter(HOT, i))))
            cold_ids.append(c.submit(_reading("rack-cold", i, _jitter(COLD, i))))
        # after two quiet hours, the cold device suddenly shows the hot device's normal values
        jump = c.submit(_reading("rack-cold", 120, HOT))
        c.flush()
    worker.wait_ready()
    alerts = await _alerts(settings, lambda a: any(x.subject == "rack-cold" for x in a))
    cold = [a for a in alerts if a.subject == "rack-cold"]
    assert len(cold) == 1 and cold[0].event_ids == [jump], cold
    assert cold[0].severity == "high"
    assert {r.feature for r in cold[0].reasons} >= {"latency_ms", "connection_count"}
    lat = next(r for r in cold[0].reasons if r.feature == "latency_ms")
    assert (
        lat.value == pytest.approx(140.0)
        and lat.expected == pytest.approx(10.0, rel=0.1)
        and lat.deviation > 5
    )
    # once its baseline has warmed up, the hot device's steady readings raise nothing
    post_warmup = set(hot_ids[WARMUP:])
    for a in alerts:
        if a.subject == "rack-hot":
            assert not post_warmup & set(a.event_ids), a


async def test_one_alert_per_incident_window_and_the_same_id_after_a_replay(
    settings_factory: Callable[..., Settings], worker_factory: Callable[..., Any]
) -> None:
    settings = settings_factory(alert_window_s=600.0)
    worker = worker_factory(settings)
    spike = {**COLD, "latency_ms": 900.0, "packet_loss": 0.3}
    with Collector(settings) as c:
        for i in range(40):
            c.submit(_reading("edge-1", i, _jitter(COLD, i)))
        # an incident of 8 bad readings over 8 minutes (inside one 10-minute window) ...
        incident = [c.submit(_reading("edge-1", 40 + i, spike)) for i in range(8)]
        # ... (the detector may flag a few readings of its decaying tail: the same incident) and, after
        # 30 quiet minutes, a second incident: a new window, a new alert
        after = [c.submit(_reading("edge-1", 48 + i, _jitter(COLD, i))) for i in range(30)]
        second = c.submit(_reading("edge-1", 80, spike))
        c.flush()
    worker.wait_ready()
    records = await _alerts(settings, lambda a: sum(r.status == "firing" for r in a) >= 2, timeout=60)
    records = [a for a in records if a.alert_type == "network_anomaly"]
    alerts = [a for a in records if a.status == "firing"]
    assert len(alerts) == 2, alerts
    first, later = sorted(alerts, key=lambda a: a.started_at)
    assert first.event_ids == [incident[0]] and first.count == 1
    assert later.event_ids == [second]
    assert first.alert_id != later.alert_id
    # the 30 quiet readings after it resolve the first incident: same id, the whole incident counted
    [done] = [a for a in records if a.alert_id == first.alert_id and a.status == "resolved"]
    assert done.resolution == "recovered" and done.ended_at == done.last_seen_at
    assert set(done.event_ids) <= set(incident) | set(after[:5]) and done.count == len(done.event_ids)
    worker.stop()

    # A replay with no state at all (a new consumer group reads the same topic from the start, as after a
    # crash that lost the table) yields the same alert ids: consumers can dedupe by alert_id.
    replay = settings.model_copy(update={"app_id": settings.app_id + "-replay"})
    w2 = worker_factory(replay)
    w2.wait_ready()
    again = await _alerts(settings, lambda a: len(a) >= 4, timeout=60)
    ids = [a.alert_id for a in again if a.alert_type == "network_anomaly" and a.status == "firing"]
    assert len(ids) == 4 and set(ids) == {first.alert_id, later.alert_id}, ids


async def test_worker_answers_pathological_code_and_keeps_going(
    settings_factory: Callable[..., Settings], worker_factory: Callable[..., Any]
) -> None:
    from kafka import KafkaProducer

    settings = settings_factory(code_max_bytes=256 * 1024, code_check_timeout_s=3.0)
    t = settings.topics
    worker = worker_factory(settings)
    cases = {
        "minus-bomb": ("python", "-" * 200000 + "1"),
        "five-mb": ("python", "x = 1\n" * (5 * 1024 * 1024 // 6)),
        "deep-nesting": ("python", "(" * 100000),
        "null-bytes": ("python", "print('a')\x00\n"),
        "bad-yaml": ("yaml", "- hosts: r1\n  tasks: [\n    - name: x\n"),
        "recursion": ("python", "-" * 5000 + "1"),
    }
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_list, max_request_size=16 * 1024 * 1024)
    ids = {}
    for name, (language, code) in cases.items():
        eid = str(uuid.uuid4())
        ids[eid] = name
        value = {
            "event_id": eid,
            "event_type": "code_submission",
            "schema_version": 1,
            "occurred_at": "2026-11-21T10:00:00Z",
            "source": "test",
            "anonymous_id": "k1-" + "a" * 32,
            "exercise_id": f"ex-{name}",
            "language": language,
            "code": code,
        }
        producer.send(
            t.student_events, key=b"k1-" + b"a" * 32, value=json.dumps(value, ensure_ascii=True).encode()
        )
    producer.send(t.student_events, key=b"k-raw", value=b"\xff\xfe not utf-8")
    # a lone surrogate cannot be UTF-8: valid JSON syntax, but not the contract's UTF-8 JSON
    surrogate = b'{"event_type": "code_submission", "code": "s = \'\\ud800\'"}'
    producer.send(t.student_events, key=b"k-surrogate", value=surrogate)
    producer.flush()
    producer.close()
    with Collector(settings) as c:
        after = c.track_code_submission("student-after", "import ssl\n", "ex-after")
        c.flush()
    worker.wait_ready()

    def done(g: dict[str, list[Any]]) -> bool:
        return len(g[t.code_checks]) >= len(cases) + 1 and len(g[t.dead_letters]) >= 2

    got = await consume_all(
        settings.bootstrap_servers or "", [t.code_checks, t.dead_letters], until=done, timeout=120
    )
    assert done(got), f"{ {k: len(v) for k, v in got.items()} }\n{worker.log_tail()}"
    checks = {json.loads(m.value)["event_id"]: json.loads(m.value) for m in got[t.code_checks]}
    by_name = {ids[e]: v for e, v in checks.items() if e in ids}
    assert set(by_name) == set(cases)
    assert by_name["five-mb"]["error"]["message"].startswith("submission is")  # over the size bound
    assert (
        "memory" in by_name["minus-bomb"]["error"]["message"].lower()
        or by_name["minus-bomb"]["has_syntax_error"]
    )
    assert (
        by_name["deep-nesting"]["has_syntax_error"]
        and "nested" in by_name["deep-nesting"]["error"]["message"]
    )
    assert by_name["null-bytes"]["has_syntax_error"]
    assert by_name["bad-yaml"]["has_syntax_error"] and by_name["bad-yaml"]["error"]["line"] is not None
    assert checks[after]["imports_used"] == ["ssl"] and not checks[after]["has_syntax_error"]
    dls = {m.key: json.loads(m.value) for m in got[t.dead_letters]}
    assert set(dls) == {b"k-raw", b"k-surrogate"}
    assert all(d["stage"] == "decode" for d in dls.values())
    assert "escape" in dls[b"k-surrogate"]["error"]
    assert worker.get("/health")[0] == 200
