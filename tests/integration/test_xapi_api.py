"""``/xapi/statements`` on the API, against the real broker: the Statement API rules of xAPI 1.0.3
that apply to an ingest, the mapping on real-world statements, privacy, and ``replay --format xapi``."""

from __future__ import annotations

import base64
import copy
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from labstream.api import create_api
from producers import Collector
from schemas import CodeSubmission
from tests.fixtures.kafka import consume_all

pytestmark = pytest.mark.integration

TOKEN = "tok-" + "x" * 28
BASIC = {
    "Authorization": "Basic " + base64.b64encode(f"moodle:{TOKEN}".encode()).decode(),
    "X-Experience-API-Version": "1.0.3",
}
CASES = json.loads(
    (Path(__file__).parents[1] / "producers" / "data" / "xapi_statements.json").read_text("utf-8")
)["cases"]
STUDENT_IDS = [c["expect"]["student_id"] for c in CASES if c["expect"]["outcome"] == "published"]


def _statements() -> list[dict]:
    return [copy.deepcopy(c["statement"]) for c in CASES]


@pytest.fixture
def api(settings_factory):
    made: list[Collector] = []

    def make(settings=None, **overrides):
        s = settings or settings_factory(api_tokens=[TOKEN], **overrides)
        collector = Collector(s)
        made.append(collector)
        app = create_api(s, collector=collector)
        return s, app, httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api")

    yield make
    for c in made:
        c.close()


def _count(app, verb: str, outcome: str) -> float:
    return (
        app.state.registry.get_sample_value(
            "labstream_xapi_statements_total", {"verb": verb, "outcome": outcome}
        )
        or 0.0
    )


async def test_batch_maps_publishes_code_only_and_ids_are_idempotent_across_restarts(
    api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    s, app, client = api()
    statements = _statements()
    async with client:
        r = await client.post("/xapi/statements", json=statements, headers=BASIC)
        assert r.status_code == 200, r.text
        assert r.json() == [st["id"] for st in statements]
        assert r.headers["x-experience-api-version"] == "1.0.3"
        again = await client.post(
            "/xapi/statements", json=statements, headers=BASIC
        )  # same ids, same content
        assert again.status_code == 200
    published = sum(c["expect"]["outcome"] == "published" for c in CASES)
    assert _count(app, "evaluated", "published") == 1 and _count(app, "answered", "published") == 1
    assert _count(app, "played", "ignored") == 1 and _count(app, "navigated", "ignored") == 1
    assert _count(app, "evaluated", "ignored") == 2  # Open edX choice answers: not code
    assert _count(app, "evaluated", "duplicate") == 3

    # a new API process on the same data dir still knows the ids: same content no-op, other content 409
    app.state.collector.close()
    _, app2, client2 = api(settings=s)
    changed = _statements()
    changed[2]["result"]["response"] += "# resubmitted under the same id\n"
    async with client2:
        r = await client2.post("/xapi/statements", json=_statements()[:3], headers=BASIC)
        assert r.status_code == 200 and _count(app2, "evaluated", "duplicate") == 3
        r = await client2.post("/xapi/statements", json=[changed[0], changed[2]], headers=BASIC)
        assert r.status_code == 409 and r.json()["index"] == 1
        put = await client2.put(
            "/xapi/statements", params={"statementId": changed[2]["id"]}, json=changed[2], headers=BASIC
        )
        assert put.status_code == 409

    topic = s.topics.student_events
    got = await consume_all(
        s.bootstrap_servers, [topic], until=lambda g: len(g[topic]) >= published, timeout=30
    )
    await_more = await consume_all(s.bootstrap_servers, [topic], until=lambda g: False, timeout=2)
    assert len(await_more[topic]) == published  # nothing published twice, nothing from the 409s
    events = [CodeSubmission.from_bytes(m.value) for m in got[topic]]
    by_id = {str(e.event_id): e for e in events}
    expected = {c["statement"]["id"]: c["expect"] for c in CASES if c["expect"]["outcome"] == "published"}
    assert set(by_id) == set(expected)
    for sid, expect in expected.items():
        e = by_id[sid]
        assert e.language == expect["language"] and e.source == "xapi"
        assert (None if e.result is None else e.result.model_dump(exclude_none=True)) == expect["result"]
        assert e.anonymous_id == app.state.collector.pseudonymizer.pseudonym(expect["student_id"])
    raw = b"".join(m.value + (m.key or b"") for m in got[topic])
    logs = caplog.text + "".join(r.getMessage() for r in caplog.records)
    for student in STUDENT_IDS + ["Example.Learner@adlnet.gov"]:
        assert student.encode() not in raw and student.lower().encode() not in raw
        assert student not in logs and student.lower() not in logs


async def test_statement_api_rules(api) -> None:
    s, app, client = api()
    statements = _statements()
    code = statements[2]
    async with client:
        r = await client.post("/xapi/statements", json=code)
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic")
        wrong = {**BASIC, "Authorization": "Basic " + base64.b64encode(b"moodle:nope").decode()}
        assert (await client.post("/xapi/statements", json=code, headers=wrong)).status_code == 403
        bearer = {"Authorization": f"Bearer {TOKEN}", "X-Experience-API-Version": "1.0.3"}
        no_version = {"Authorization": BASIC["Authorization"]}
        r = await client.post("/xapi/statements", json=code, headers=no_version)
        assert r.status_code == 400 and "X-Experience-API-Version" in r.json()["detail"]
        r = await client.post(
            "/xapi/statements", json=code, headers={**BASIC, "X-Experience-API-Version": "0.95"}
        )
        assert r.status_code == 400
        r = await client.post(
            "/xapi/statements", json=code, headers={**BASIC, "X-Experience-API-Version": "1.1.0"}
        )
        assert r.status_code == 400

        # a batch is all or nothing: one malformed statement or a repeated id refuses it, naming the index
        bad = copy.deepcopy(statements[:4])
        del bad[3]["verb"]
        r = await client.post("/xapi/statements", json=bad, headers=BASIC)
        assert r.status_code == 400 and r.json()["errors"] == [
            {"index": 3, "field": "verb.id", "message": "verb.id is required (an IRI)"}
        ]
        twice = [statements[2], {**statements[8], "id": statements[2]["id"]}]
        r = await client.post("/xapi/statements", json=twice, headers=BASIC)
        assert r.status_code == 400 and r.json()["errors"][0]["index"] == 1
        r = await client.post("/xapi/statements", content=b"{nope", headers=BASIC)
        assert r.status_code == 400
        assert _count(app, "evaluated", "published") == 0  # nothing of the refused batches went out

        # PUT: one statement under statementId; 204; the id in the body must agree
        put = await client.put(
            "/xapi/statements", params={"statementId": code["id"]}, json=code, headers=bearer
        )
        assert put.status_code == 204 and put.headers["x-experience-api-version"] == "1.0.3"
        other = {**statements[8]}
        r = await client.put(
            "/xapi/statements", params={"statementId": code["id"]}, json=other, headers=BASIC
        )
        assert r.status_code == 400
        no_id = {k: v for k, v in statements[8].items() if k != "id"}
        new_id = "0b8a3c8e-6a53-4a8e-8f35-8d1a7e2c9f00"
        r = await client.put("/xapi/statements", params={"statementId": new_id}, json=no_id, headers=BASIC)
        assert r.status_code == 204
    assert _count(app, "evaluated", "published") == 1 and _count(app, "answered", "published") == 1
    topic = s.topics.student_events
    got = await consume_all(s.bootstrap_servers, [topic], until=lambda g: len(g[topic]) >= 2, timeout=30)
    assert sorted(json.loads(m.value)["event_id"] for m in got[topic]) == sorted([code["id"], new_id])


async def test_replay_format_xapi(settings_factory, tmp_path: Path) -> None:
    s = settings_factory()
    path = tmp_path / "export.jsonl"
    lines = [json.dumps(st) for st in _statements()] + ["{not json", json.dumps({"verb": {"id": "x"}})]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABSTREAM_")}
    env.update(
        {"LABSTREAM_BOOTSTRAP_SERVERS": s.bootstrap_servers or "", "LABSTREAM_PSEUDONYM_KEY": "k" * 20}
    )
    env["LABSTREAM_DATA_DIR"] = str(s.data_dir)
    for name, value in s.topics.model_dump().items():
        env[f"LABSTREAM_TOPIC_{name.upper()}"] = value
    out = subprocess.run(
        [sys.executable, "-m", "labstream.cli", "replay", "--format", "xapi", "--no-progress", str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    published = sum(c["expect"]["outcome"] == "published" for c in CASES)
    ignored = len(CASES) - published
    assert f"published {published}, spooled 0" in out.stdout, out.stdout + out.stderr
    assert f"skipped {ignored} statements of no use" in out.stdout
    assert "rejected 2" in out.stdout and out.returncode == 1
    for student in STUDENT_IDS:
        assert student not in out.stdout + out.stderr
    topic = s.topics.student_events
    got = await consume_all(
        s.bootstrap_servers, [topic], until=lambda g: len(g[topic]) >= published, timeout=30
    )
    assert len(got[topic]) == published
