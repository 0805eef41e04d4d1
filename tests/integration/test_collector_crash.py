"""Kill -9 while publishing: every event a client was told was accepted reaches Kafka.

The API process (``labstream api``) is SIGKILLed again and again mid-stream and restarted on
the same spool; a client posts batches throughout. Then an SDK process in durable mode, the
same. What the client was told was accepted (a 202 for the whole batch; a returned call) must
be on Kafka, by ``event_id``; a cut connection or another status was not accepted. Fire-and-
forget acceptance (the old 202) lost events in this test (issue 13: 247 of 56,600).
"""

from __future__ import annotations

import json

import pytest

from tests.fixtures import crash
from tests.fixtures.kafka import consume_all

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def _missing(settings, topic: str, accepted: list[str]) -> set[str]:
    want = set(accepted)
    got = await consume_all(
        settings.bootstrap_servers,
        [topic],
        until=lambda g: want <= {json.loads(r.value)["event_id"] for r in g[topic]},
        timeout=90,
    )
    return want - {json.loads(r.value)["event_id"] for r in got[topic]}


async def test_api_killed_repeatedly_loses_no_accepted_event(settings_factory, tmp_path) -> None:
    settings = settings_factory()
    tally = crash.api_kill_run(settings, tmp_path / "api.log", kills=4, batch=20, up_s=(0.8, 1.6))
    left = crash.drain(settings)
    missing = await _missing(settings, settings.topics.lab_events, tally.accepted)
    print(
        f"API kill -9 x4: {len(tally.accepted)} accepted of {tally.sent} sent, {left} left in the spool, "
        f"statuses {dict(tally.statuses)}"
    )
    assert len(tally.accepted) >= 200  # the run did publish
    assert missing == set(), f"{len(missing)} of {len(tally.accepted)} accepted events not on Kafka"


async def test_durable_sdk_killed_repeatedly_loses_no_returned_event(settings_factory, tmp_path) -> None:
    settings = settings_factory()
    ids_path = tmp_path / "ids.txt"
    crash.sdk_kill_run(settings, ids_path, kills=3, up_s=(0.8, 1.5))
    returned = crash.read_ids(ids_path)
    left = crash.drain(settings)
    missing = await _missing(settings, settings.topics.lab_events, returned)
    print(f"SDK kill -9 x3: {len(returned)} calls returned, {left} left in the spool")
    assert len(returned) >= 50
    assert missing == set(), f"{len(missing)} of {len(returned)} returned events not on Kafka"
