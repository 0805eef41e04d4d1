"""HTTP ingest: auth, limits, per-event errors, batches on Kafka, and a schemathesis run."""

from __future__ import annotations

import json

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings

from labstream.api import create_api
from producers import Collector
from tests.fixtures.kafka import consume_all

pytestmark = pytest.mark.integration

TOKEN = "tok-" + "a" * 28
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _event(i: int) -> dict:
    return {
        "event_type": "lab_command",
        "student_id": f"student-{i}",
        "session_id": "s-1",
        "seq": i,
        "device_type": "cisco_ios",
        "command": f"enable secret planted-{i}",
    }


@pytest.fixture
def api(settings_factory):
    def make(**overrides):
        s = settings_factory(api_tokens=[TOKEN], **overrides)
        collector = Collector(s)
        app = create_api(s, collector=collector)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api")
        made.append(collector)
        return s, app, client

    made: list[Collector] = []
    yield make
    for c in made:
        c.close()


async def test_auth_size_and_validation_errors(api) -> None:
    s, _, client = api(api_max_request_bytes=4096)
    async with client:
        r = await client.post("/v1/events", json=_event(1))
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
        r = await client.post("/v1/events", json=_event(1), headers={"Authorization": "Bearer nope"})
        assert r.status_code == 403
        r = await client.post("/v1/events", content=b"[" + b" " * 5000 + b"]", headers=AUTH)
        assert r.status_code == 413

        async def chunks():  # no Content-Length: the streamed body is counted
            for _ in range(10):
                yield b" " * 1000

        r = await client.post("/v1/events", content=chunks(), headers=AUTH)
        assert r.status_code == 413
        r = await client.post("/v1/events", content=b"{not json", headers=AUTH)
        assert r.status_code == 422 and r.json()["errors"][0]["message"] == "malformed JSON"
        bad = [_event(0), {**_event(1), "device_type": "toaster"}, {**_event(2), "seq": -1, "student_id": ""}]
        r = await client.post("/v1/events", json=bad, headers=AUTH)
        assert r.status_code == 422
        errors = r.json()["errors"]
        assert {(e["index"], e["field"]) for e in errors} == {
            (1, "device_type"),
            (2, "seq"),
            (2, "student_id"),
        }
        assert "toaster" not in r.text and "student-" not in r.text and "planted" not in r.text


async def test_batch_accepted_lands_on_kafka_scrubbed(api) -> None:
    s, _, client = api()
    async with client:
        r = await client.post("/v1/events", json=[_event(i) for i in range(25)], headers=AUTH)
        assert r.status_code == 202 and r.json() == {"accepted": 25}
        r = await client.post("/v1/events", json=_event(99), headers=AUTH)
        assert r.json() == {"accepted": 1}
    topic = s.topics.lab_events
    got = await consume_all(s.bootstrap_servers, [topic], until=lambda g: len(g[topic]) >= 26)
    values = [json.loads(rec.value) for rec in got[topic]]
    assert sorted(v["seq"] for v in values) == [*range(25), 99]
    assert all(v["command"] == "enable secret <redacted:enable_secret>" for v in values)
    assert all(b"student-" not in rec.value and b"planted" not in rec.value for rec in got[topic])


async def test_rate_limit_per_token(api) -> None:
    _, _, client = api(api_rate_limit_per_minute=3)
    async with client:
        codes = [
            (await client.post("/v1/events", json=_event(i), headers=AUTH)).status_code for i in range(5)
        ]
        assert codes[:3] == [202] * 3 and codes[3] == 429
        r = await client.post("/v1/events", json=_event(9), headers=AUTH)
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1


def test_schemathesis_finds_no_server_error(api) -> None:
    _, app, _ = api(api_rate_limit_per_minute=100_000)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures, statuses = [], []
    for op in schema.get_all_operations():
        operation = op.ok()

        @hsettings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=operation.as_strategy())
        def check(case) -> None:
            case.headers = {**(case.headers or {}), **AUTH}
            response = case.call()
            statuses.append(response.status_code)
            if response.status_code >= 500:
                failures.append((case.method, case.path, response.status_code))

        check()
    assert failures == []
    assert len(statuses) >= 50 and 202 in statuses, sorted(set(statuses))
