"""Acceptance 1 and 4: no planted secret in any topic's bytes; no student id in logs, metrics or errors."""

from __future__ import annotations

import logging
import re

import httpx
import pytest

from labstream.api import create_api
from producers import Collector, InvalidEventError
from tests.fixtures.kafka import consume_all
from tests.producers.scrub_corpus import code_cases, command_cases

pytestmark = pytest.mark.integration


async def test_corpus_secrets_never_reach_kafka_and_words_survive(settings_factory) -> None:
    settings = settings_factory()
    commands, codes = command_cases(copies=2), code_cases()
    assert len(commands) >= 150 and len(codes) >= 50
    with Collector(settings) as c:
        sent = {}
        for i, case in enumerate(commands):
            sent[c.track_lab_command(f"student-{i}", f"sess-{i % 7}", i, case.text, case.kind)] = case
        for i, case in enumerate(codes):
            sent[c.track_code_submission(f"student-{i}", case.text, "ex-1", case.kind)] = case
        c.flush()
        scrubbed = sum(
            v
            for m in c.metrics.registry.collect()
            for s in m.samples
            if s.name == "labstream_scrubbed_secrets_total"
            for v in [s.value]
        )
    topics = settings.topics.all()
    got = await consume_all(
        settings.bootstrap_servers, topics, until=lambda g: sum(len(v) for v in g.values()) >= len(sent)
    )
    everything = b"".join(r.value + (r.key or b"") for recs in got.values() for r in recs)
    planted = [s for case in sent.values() for s in case.secrets]
    assert len(planted) > 250 and scrubbed >= len(planted) * 0.9
    assert [s for s in planted if s.encode() in everything] == []
    import json

    for recs in got.values():
        for r in recs:
            v = json.loads(r.value)
            case = sent[v["event_id"]]
            text = v.get("command", v.get("code"))
            assert [w for w in case.words if w not in text] == [], (case.kind, text)
            if v.get("language") == "python":
                compile(text, "<scrubbed>", "exec")


async def test_student_ids_in_no_log_metric_or_error(settings_factory, caplog) -> None:
    settings = settings_factory(api_tokens=["privacy-token-0123456789abcdefghijklmn"])
    ids = [f"PLANTED-STUDENT-{i:04d}-zq" for i in range(30)]
    caplog.set_level(logging.DEBUG)
    with Collector(settings) as c:
        app = create_api(settings, collector=c)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
            auth = {"Authorization": "Bearer privacy-token-0123456789abcdefghijklmn"}
            for i, sid in enumerate(ids):
                c.track_lab_command(sid, "sess-1", i, "enable secret zz-top", "cisco_ios")
                c.track_code_submission(sid, "password = 'x'\n", "ex-1")
                r = await client.post(
                    "/v1/events",
                    headers=auth,
                    json={
                        "event_type": "lab_command",
                        "student_id": sid,
                        "session_id": "s",
                        "seq": i,
                        "device_type": "linux",
                        "command": "ls",
                    },
                )
                assert r.status_code == 202
                bad = await client.post(
                    "/v1/events",
                    headers=auth,
                    json={"event_type": "lab_command", "student_id": sid, "seq": "x", sid: 1},
                )
                assert bad.status_code == 422 and sid not in bad.text
                with pytest.raises(InvalidEventError) as info:
                    c.track_lab_command(sid, "s", -1, "x", "nope")
                assert sid not in str(info.value) and sid not in repr(info.value.errors)
            metrics = (await client.get("/metrics", headers=auth)).text
        c.flush()
        pseudonyms = [c.pseudonymizer.pseudonym(s) for s in ids]
    logged = "\n".join(r.getMessage() + repr(r.args) for r in caplog.records)
    pattern = re.compile("|".join(map(re.escape, ids + pseudonyms)))
    assert pattern.search(logged) is None
    assert pattern.search(metrics) is None
    assert "labstream_collector_published_total" in metrics
