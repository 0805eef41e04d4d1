"""Idle sessions and streaks are deleted by a running worker: tombstones in the changelogs (issue 14)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer

from foundation.settings import Settings
from labstream.broker import free_port
from tests.fixtures.kafka import consume_all, worker_env

pytestmark = [pytest.mark.integration]


def _metric(port: int, name: str) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:  # noqa: S310 - loopback
        text = r.read().decode()
    return {m[0]: float(m[1]) for m in re.findall(rf'^{name}\{{table="([^"]+)"\}} ([0-9.e+]+)$', text, re.M)}


async def test_a_running_worker_deletes_idle_sessions_and_streaks(
    settings_factory: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = settings_factory(worker_web_port=free_port())
    env = worker_env(settings) | {"LABSTREAM_STATE_IDLE_S": "3", "LABSTREAM_STATE_SWEEP_S": "1"}
    t = settings.topics
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all")
    command = {
        "event_type": "lab_command",
        "anonymous_id": "k1-" + "c" * 32,
        "session_id": "sess-idle",
        "seq": 0,
        "device_type": "cisco_ios",
        "command": "enable",
    }
    code = {
        "event_type": "code_submission",
        "anonymous_id": "k1-" + "d" * 32,
        "exercise_id": "ex-1",
        "language": "python",
        "code": "if x = 1:\n  pass\n",
    }
    producer.send(t.lab_events, key=b"sess-idle", value=json.dumps(command).encode())
    producer.send(t.student_events, key=code["anonymous_id"].encode(), value=json.dumps(code).encode())
    producer.flush(30)
    producer.close(5)
    log = (tmp_path / "worker.log").open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "labstream.cli", "worker"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        changelogs = [
            f"{settings.app_id}-cli-sessions-changelog",
            f"{settings.app_id}-struggling-students-changelog",
        ]

        def tombstoned(got: dict[str, list[Any]]) -> bool:
            return all(msgs and msgs[-1].value is None for msgs in got.values())

        got = await consume_all(settings.bootstrap_servers or "", changelogs, until=tombstoned, timeout=120)
        assert tombstoned(got), (tmp_path / "worker.log").read_text(errors="replace")[-3000:]
        # written first (the state), then deleted once idle: a tombstone under the same key
        assert [(m.key, m.value is None) for m in got[changelogs[0]]] == [
            (b"sess-idle", False),
            (b"sess-idle", True),
        ]
        assert [m.value is None for m in got[changelogs[1]]] == [False, True]
        deadline = time.monotonic() + 30
        while (
            time.monotonic() < deadline
            and len(_metric(settings.worker_web_port, "labstream_state_expired_keys_total")) < 2
        ):
            time.sleep(0.5)
        assert _metric(settings.worker_web_port, "labstream_state_expired_keys_total") == {
            "sessions": 1.0,
            "students": 1.0,
        }
    finally:
        proc.terminate()
        proc.wait(30)
