"""Insights end to end on the real broker: collector -> worker (code agent, exercise facts, insights
agent with tumbling windows; lab facts, lab insights) -> ``exercise-insights`` and ``lab-insights``
-> ``GET /v1/insights/exercises/{id}`` and ``GET /v1/insights/labs``."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from foundation.settings import Settings
from labstream.api import create_api
from producers import Collector
from schemas import ExerciseInsight, LabInsight
from tests.fixtures.kafka import consume_all

pytestmark = pytest.mark.integration

TOKEN = "tok-" + "i" * 28
EXERCISE = "http://lms.example/xblock/ex-ssh-" + uuid.uuid4().hex[:6]  # an xAPI-style IRI, with slashes


def _submissions() -> list[tuple[str, str, str, dict | None]]:
    """(student, language, code, grader result): three students on one exercise."""
    name_error = (
        "Traceback (most recent call last):\n  File \"test.py\", line 4\nNameError: name '{}' is not defined"
    )
    return [
        (
            "s-ana",
            "python",
            "import netmiko\nprint(conn)\n",
            {"passed": False, "score": 0.0, "feedback": name_error.format("conn")},
        ),
        (
            "s-ana",
            "python",
            "import netmiko\nprint(device)\n",
            {"passed": False, "feedback": name_error.format("device")},
        ),
        ("s-ben", "python", "def backup(host:\n    pass\n", None),
        ("s-ben", "python", "import netmiko\nimport os\n", {"passed": True, "score": 1.0}),
        (
            "s-cai",
            "python2",
            'import telnetlib\nprint "hi"\n',
            {"passed": False, "score": 0.5, "feedback": "KeyError: 'hostname'"},
        ),
        ("s-cai", "python", "import paramiko\n", None),
    ]


async def test_insights_topics_and_endpoints(
    settings_factory: Callable[..., Settings], worker_factory: Callable[..., Any]
) -> None:
    settings = settings_factory(api_tokens=[TOKEN])
    worker_factory(settings)
    subs = _submissions()
    with Collector(settings) as c:
        for student, language, code, result in subs:
            event = {
                "event_type": "code_submission",
                "student_id": student,
                "exercise_id": EXERCISE,
                "language": language,
                "code": code,
                "result": result,
            }
            from producers import validate_event

            c.submit(validate_event(event))
        for seq, command in enumerate(
            ["en", "conf t", "int gi0/1", "ip add 10.0.12.1 255.255.255.0", "shw run", "end"]
        ):
            c.track_lab_command("s-ana", "lab-ins-1", seq, command, "cisco_ios")
        for seq, command in enumerate(["en", "sh ip int br", "ipconfig"]):
            c.track_lab_command("s-ben", "lab-ins-2", seq, command, "cisco_ios")

    topic = settings.topics.exercise_insights

    def latest(got: dict[str, list[Any]]) -> dict[str, ExerciseInsight]:
        out = {}
        for m in got[topic]:
            ins = ExerciseInsight.from_bytes(m.value)
            assert m.key == ins.exercise_id.encode()
            out[ins.window] = ins  # one exercise: one partition, in order
        return out

    got = await consume_all(
        settings.bootstrap_servers or "",
        [topic],
        until=lambda g: all(i.submissions == len(subs) for i in latest(g).values()) and len(latest(g)) == 2,
        timeout=120,
    )
    windows = latest(got)
    assert set(windows) == {"hour", "day"}, "no insights arrived"
    for ins in windows.values():
        assert ins.exercise_id == EXERCISE
        assert (ins.submissions, ins.distinct_students, ins.syntax_errors, ins.unchecked) == (6, 3, 1, 1)
        assert ins.syntax_error_rate == pytest.approx(1 / 6)
        assert (ins.graded, ins.grader_failures) == (4, 3) and ins.grader_failure_rate == pytest.approx(0.75)
        errors = {e.value: e.count for e in ins.top_errors}
        assert errors["NameError: name '<v>' is not defined"] == 2  # 'conn' and 'device' grouped
        assert errors["KeyError: '<v>'"] == 1 and len(errors) == 3  # and the syntax error
        assert {i.value: i.count for i in ins.top_imports} == {
            "netmiko": 3,
            "os": 1,
            "telnetlib": 1,
            "paramiko": 1,
        }
    assert windows["hour"].window_end.timestamp() - windows["hour"].window_start.timestamp() == 3600
    assert windows["day"].window_end.timestamp() - windows["day"].window_start.timestamp() == 86400

    from kafka import KafkaConsumer

    probe = KafkaConsumer(bootstrap_servers=settings.bootstrap_list)
    try:  # created by the worker with the tables' partition count (co-partitioning), not auto-created
        for internal in settings.internal_topics:
            assert probe.partitions_for_topic(internal) == set(range(settings.partitions)), internal
    finally:
        probe.close()
    labs = settings.topics.lab_insights
    got = await consume_all(
        settings.bootstrap_servers or "",
        [labs],
        until=lambda g: any(LabInsight.from_bytes(m.value).commands == 9 for m in g[labs]),
        timeout=60,
    )
    lab_windows = {}
    for m in got[labs]:
        ins = LabInsight.from_bytes(m.value)
        assert m.key == b"cisco_ios"
        lab_windows[ins.window] = ins
    assert set(lab_windows) == {"hour", "day"}
    for ins in lab_windows.values():
        assert (ins.commands, ins.unknown_commands) == (9, 2) and ins.unknown_share == pytest.approx(2 / 9)
        assert {c.value: c.count for c in ins.top_commands}["enable"] == 2

    app = create_api(settings)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api")
    try:
        async with client:
            url = "/v1/insights/exercises/" + EXERCISE
            assert (await client.get(url)).status_code == 401
            auth = {"Authorization": f"Bearer {TOKEN}"}
            body: dict[str, Any] = {}
            for _ in range(100):
                r = await client.get(url, headers=auth)
                if r.status_code == 200:
                    body = r.json()
                    if {w["window"]: w["submissions"] for w in body["windows"]} == {"hour": 6, "day": 6}:
                        break
                await asyncio.sleep(0.3)
            assert body.get("exercise_id") == EXERCISE, body
            served = {w["window"]: ExerciseInsight.model_validate(w) for w in body["windows"]}
            assert served == windows
            listing = (await client.get("/v1/insights/exercises", headers=auth)).json()["exercises"]
            assert [e["exercise_id"] for e in listing] == [EXERCISE]
            r = await client.get("/v1/insights/exercises/no-such-exercise", headers=auth)
            assert r.status_code == 404
            for _ in range(100):
                types = (await client.get("/v1/insights/labs", headers=auth)).json()["device_types"]
                if types and types[0]["day"] and types[0]["day"]["commands"] == 9:
                    break
                await asyncio.sleep(0.3)
            assert [t["device_type"] for t in types] == ["cisco_ios"]
            assert LabInsight.model_validate(types[0]["day"]) == lab_windows["day"]
    finally:
        app.state.tutor_views.close()
        app.state.collector.close()
