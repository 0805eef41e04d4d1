"""At DEBUG, nothing private reaches a log line (issue 15).

A ``labstream worker --log-level debug`` and a ``labstream -v api`` (DEBUG for every logger)
run as subprocesses on the session broker. A workload carrying planted student ids and
secrets (in commands, in code, in an invalid event, in a query string, as a wrong token)
goes through the API and the worker; then every line of both logs is scanned for the
student ids, their pseudonyms, the secrets, the API token and the pseudonym key.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from foundation.settings import Settings
from producers import Pseudonymizer
from tests.fixtures.api import ApiProcess
from tests.fixtures.kafka import consume_all

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TAG = uuid.uuid4().hex[:6]
STUDENTS = [f"stud-DBG{TAG}-{i}" for i in range(4)]
SECRET = f"Dbg5ecret{TAG}Zq"  # noqa: S105 - planted on purpose
QUERY_SECRET = f"qs{TAG}Secret77"  # noqa: S105
TOKEN = f"debug-log-token-{TAG}-" + "t" * 20  # noqa: S105


@pytest.fixture
def debug_api(tmp_path: Path) -> Iterator[Callable[[Settings], ApiProcess]]:
    """``labstream -v api`` (root logger at DEBUG), its own spool; stopped after the test."""
    started: list[ApiProcess] = []

    def make(settings: Settings) -> ApiProcess:
        env = {"LABSTREAM_DATA_DIR": str(tmp_path / "api-data")}
        started.append(ApiProcess(settings, tmp_path / "api.log", token=TOKEN, args=("-v",), env=env))
        return started[-1].start()

    yield make
    for api in started:
        api.stop()


def _workload() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    good: list[dict[str, Any]] = []
    for i, sid in enumerate(STUDENTS):
        lab = {
            "event_type": "lab_command",
            "student_id": sid,
            "session_id": f"lab-{TAG}",
            "device_type": "cisco_ios",
        }
        good.append(lab | {"seq": 2 * i, "command": f"enable secret {SECRET}"})
        good.append(lab | {"seq": 2 * i + 1, "command": f"username admin password {SECRET}"})
        code = {
            "event_type": "code_submission",
            "student_id": sid,
            "exercise_id": "ex-dbg",
            "language": "python",
        }
        good.append(code | {"code": f'password = "{SECRET}"\nprint(password'})  # a syntax error too
        good.append(code | {"code": f"# {sid}\nconnect(password='{SECRET}')\n"})
    bad: list[dict[str, Any]] = [
        {"event_type": "lab_command", "student_id": STUDENTS[0], "seq": SECRET, "command": SECRET},
        {"event_type": "code_submission", "student_id": STUDENTS[1], SECRET: STUDENTS[1]},
    ]
    return good, bad


async def test_debug_logs_of_worker_and_api_hold_nothing_private(
    settings_factory: Callable[..., Settings],
    worker_factory: Callable[..., Any],
    debug_api: Callable[[Settings], ApiProcess],
) -> None:
    settings = settings_factory(api_tokens=[TOKEN])
    worker = worker_factory(settings, "--log-level", "debug")
    api = debug_api(settings)
    worker.wait_ready()
    api.wait_ready(timeout=90)
    good, bad = _workload()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=api.url, timeout=30) as client:
        r = await client.post(f"/v1/events?student={STUDENTS[0]}&key={QUERY_SECRET}", json=good, headers=auth)
        assert r.status_code == 202, r.text
        for b in bad:
            assert (await client.post("/v1/events", json=b, headers=auth)).status_code == 422
        r = await client.post("/v1/events", json=good[0], headers={"Authorization": f"Bearer {SECRET}"})
        assert r.status_code == 403
        r = await client.get(f"/metrics?who={STUDENTS[1]}", headers=auth)
        assert r.status_code == 200
    topics = [settings.topics.code_checks, settings.topics.commands_categorized]
    want = {
        settings.topics.code_checks: 2 * len(STUDENTS),
        settings.topics.commands_categorized: 2 * len(STUDENTS),
    }
    got = await consume_all(
        settings.bootstrap_servers or "", topics, until=lambda g: all(len(g[t]) >= n for t, n in want.items())
    )
    assert all(len(got[t]) >= n for t, n in want.items()), {t: len(v) for t, v in got.items()}
    time.sleep(1.0)  # the worker's commits and the API's last sends are logged too
    api.stop()
    worker.stop()

    pseudonymizer = Pseudonymizer.from_settings(settings)
    pseudonyms = [pseudonymizer.pseudonym(s) for s in STUDENTS]
    # the pseudonyms really travel: the worker's outputs carry them (so a record logged would show one)
    outputs = b"".join((m.key or b"") + (m.value or b"") for t in topics for m in got[t])
    assert any(p.encode() in outputs for p in pseudonyms)
    planted = {
        **{f"student id {s}": s for s in STUDENTS},
        **{f"pseudonym of {s}": p for s, p in zip(STUDENTS, pseudonyms, strict=True)},
        "secret": SECRET,
        "query-string secret": QUERY_SECRET,
        "api token": TOKEN,
    }
    if settings.pseudonym_key is not None:
        planted["pseudonym key"] = settings.pseudonym_key.get_secret_value()
    pattern = re.compile("|".join(re.escape(v) for v in planted.values()))
    logs = {
        "worker": worker.log_path.read_text(errors="replace"),
        "api": api.log_path.read_text(errors="replace"),
    }
    leaks = [
        f"{name} log: {line[:300]}"
        for name, text in logs.items()
        for line in text.splitlines()
        if pattern.search(line)
    ]
    assert leaks == [], "\n".join(leaks[:20])
    # the logs really are at DEBUG, with the records' lines (redacted) in them
    for name, text in logs.items():
        assert " DEBUG " in text or "[DEBUG]" in text, f"{name} log has no DEBUG line"
    assert "redacted" in logs["api"], "the API's producer lines were not seen"
