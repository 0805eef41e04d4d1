"""Operator tools: dead letters listed and replayed after a fix; a student's pseudonym for a tutor."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

from kafka import KafkaProducer
from pydantic import SecretStr

from foundation.settings import Settings
from schemas import DeadLetter
from tests.fixtures.kafka import consume_all


def _run(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABSTREAM_")}
    env["LABSTREAM_BOOTSTRAP_SERVERS"] = settings.bootstrap_servers or ""
    env["LABSTREAM_PSEUDONYM_KEY"] = "ops-test-key"
    for name, value in settings.topics.model_dump().items():
        env[f"LABSTREAM_TOPIC_{name.upper()}"] = value
    return subprocess.run(
        [sys.executable, "-m", "labstream.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )


async def test_deadletters_list_and_replay(settings_factory: Callable[..., Settings]) -> None:
    settings = settings_factory()
    t = settings.topics
    letters = [
        DeadLetter(
            original_topic=t.lab_events,
            partition=0,
            offset=i,
            key=DeadLetter.b64(b"s-%d" % i),
            value=DeadLetter.b64(b'{"seq": %d}' % i),
            stage="process",
            error="RuntimeError: bug",
        )
        for i in range(3)
    ] + [
        DeadLetter(
            original_topic=t.network_metrics,
            partition=1,
            offset=9,
            key=None,
            value=DeadLetter.b64(b"\xff"),
            stage="decode",
            error="not UTF-8 JSON: invalid",
        )
    ]
    p = KafkaProducer(bootstrap_servers=settings.bootstrap_list)
    for d in letters:
        p.send(t.dead_letters, value=d.to_bytes())
    p.flush()
    p.close()

    out = _run(settings, "deadletters", "list")
    assert out.returncode == 0, out.stderr
    assert "4 dead letters" in out.stdout
    assert f"3  {t.lab_events}" in out.stdout and "process" in out.stdout and "decode" in out.stdout

    dry = _run(settings, "deadletters", "replay", "--stage", "process", "--dry-run")
    assert "would replay 3 of 4" in dry.stdout
    out = _run(settings, "deadletters", "replay", "--stage", "process")
    assert out.returncode == 0 and "replayed 3 of 4" in out.stdout, out.stdout + out.stderr
    got = await consume_all(
        settings.bootstrap_servers or "",
        [t.lab_events, t.network_metrics],
        until=lambda g: len(g[t.lab_events]) >= 3,
        timeout=20,
    )
    assert sorted((m.key, m.value) for m in got[t.lab_events]) == [
        (b"s-%d" % i, b'{"seq": %d}' % i) for i in range(3)
    ]
    assert got[t.network_metrics] == []  # the decode failure was not replayed


def test_pseudonym_matches_what_the_collector_publishes(settings_factory: Callable[..., Settings]) -> None:
    from producers import Pseudonymizer

    settings = settings_factory()
    out = _run(settings, "pseudonym", "student-1@school.example", "student-2@school.example")
    assert out.returncode == 0, out.stderr
    lines = dict(line.split("\t", 1) for line in out.stdout.splitlines())
    expected = Pseudonymizer.from_settings(
        settings.model_copy(update={"pseudonym_key": SecretStr("ops-test-key")})
    )
    assert lines["student-1@school.example"] == expected.pseudonym("student-1@school.example")
    assert lines["student-2@school.example"] != lines["student-1@school.example"]
